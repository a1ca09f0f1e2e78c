"""C2PA manifests through c2pa-python (the Content Authenticity Initiative's own c2pa-rs): signed
into a file, and read back with their validation state.

A manifest lists what happened (c2pa.opened of the parent, then created / edited / resized /
converted, each naming Underpaint as the software agent and, for the generative step, the IPTC
DigitalSourceType), the parent as an ingredient (with its own manifest, when it has one, so a
deliverable's credentials chain back to the job's), and the recipe as an assertion of ours.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO

import c2pa

from underpaint.core import ErrorCode
from underpaint.results.credentials.keys import CredentialsError
from underpaint.results.credentials.provenance import Action, Provenance, SigningKey
from underpaint.version import __version__

SIGNABLE = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "tiff": "image/tiff",
            "avif": "image/avif"}
"""The formats c2pa embeds a manifest in, of those Underpaint writes (not PSD)."""
PSD_MIME = "image/vnd.adobe.photoshop"
SIDECAR_SUFFIX = ".c2pa"
RECIPE_ASSERTION = "dev.underpaint.recipe"
_PARENT = "parent"
_PARENT_THUMBNAIL = "parent-thumbnail.jpg"
_SIGNING_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}
"""c2pa's own thumbnails (of the file, and of each ingredient) are off: made in the file's format at up
to 1024 pixels, they took 0.4-1.5 s per file and doubled a variant PNG's size. Ingredients bring
a small JPEG thumbnail of their own instead (Ingredient.thumbnail)."""
_SOFTWARE_AGENT = {"name": "Underpaint", "version": __version__}


class Validation(StrEnum):
    """What a reader may conclude from a file's manifest."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    """Signed and intact, but by a signer none of the trust anchors vouches for."""
    TAMPERED = "tampered"
    NONE = "none"


@dataclass(frozen=True)
class ManifestReport:
    validation: Validation
    claim_generator: str = ""
    title: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    ingredients: list[str] = field(default_factory=list)
    signer: str = ""
    failures: list[str] = field(default_factory=list)


def sign(data: bytes, fmt: str, provenance: Provenance, key: SigningKey) -> bytes:
    """`data` (a `fmt` file, one of SIGNABLE) with a manifest for `provenance` signed by `key`."""
    out = io.BytesIO()
    _sign(io.BytesIO(data), SIGNABLE[fmt], out, provenance, key, embed=True)
    return out.getvalue()


def sign_sidecar(source: BinaryIO, provenance: Provenance, key: SigningKey) -> bytes:
    """A manifest store for the file `source` (a PSD, which nothing can be embedded in) to write
    beside it as NAME.c2pa: bound to every byte of it by a data hash, so any change shows."""
    return _sign(source, PSD_MIME, _Discarded(), provenance, key, embed=False)


def _sign(source: BinaryIO, mime: str, out: BinaryIO | _Discarded, provenance: Provenance, key: SigningKey,
          embed: bool) -> bytes:
    context = c2pa.Context.from_dict(_SIGNING_SETTINGS)
    builder = c2pa.Builder(_definition(provenance, mime), context)
    try:
        if provenance.ingredient is not None:
            ingredient = provenance.ingredient
            definition: dict[str, Any] = {"title": ingredient.title, "relationship": "parentOf", "label": _PARENT}
            if ingredient.thumbnail is not None:
                definition["thumbnail"] = {"format": "image/jpeg", "identifier": _PARENT_THUMBNAIL}
                builder.add_resource(_PARENT_THUMBNAIL, io.BytesIO(ingredient.thumbnail))
            builder.add_ingredient(definition, SIGNABLE.get(ingredient.fmt, ingredient.fmt),
                                   io.BytesIO(ingredient.data))
        if not embed:
            builder.set_no_embed()
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(key.algorithm.encode(), key.certificate_chain,
                                                           key.private_key, None))
        with signer:
            return bytes(builder.sign(signer, mime, source, out))
    except c2pa.C2paError as error:
        raise CredentialsError(ErrorCode.BAD_CREDENTIALS, f"Could not sign the C2PA manifest: {error}") from None
    finally:
        builder.close()
        context.close()


class _Discarded:
    """Where c2pa copies the asset when it embeds nothing: a sidecar needs only the manifest it returns,
    and a PSD may be hundreds of megabytes."""

    def __init__(self) -> None:
        self._position = self._size = 0

    def read(self, size: int = -1) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        self._position += len(data)
        self._size = max(self._size, self._position)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None


def read(data: bytes, fmt: str, trust_anchors: bytes | None, sidecar: bytes | None = None) -> ManifestReport:
    """The manifest of `data` (embedded, or the `sidecar` manifest store written beside it) and whether
    it validates, trusting the PEM CAs in `trust_anchors`."""
    mime = PSD_MIME if fmt == "psd" else SIGNABLE.get(fmt)
    if mime is None or (fmt == "psd" and sidecar is None):
        return ManifestReport(Validation.NONE)
    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchors is not None}}
    if trust_anchors is not None:
        settings["trust"] = {"trust_anchors": trust_anchors.decode("ascii", "replace")}
    try:
        with c2pa.Context.from_dict(settings) as context:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), sidecar, context)
            if reader is None:
                return ManifestReport(Validation.NONE)
            with reader:
                state = reader.get_validation_state()
                manifest = reader.get_active_manifest() or {}
                results = reader.get_validation_results() or {}
    except c2pa.C2paError as error:
        # A manifest store too broken to parse is as good as a tampered one.
        return ManifestReport(Validation.TAMPERED, failures=[str(error)])
    failures = [f"{item.get('code')}: {item.get('explanation', '')}"
                for item in results.get("activeManifest", {}).get("failure", [])]
    validation = {"Trusted": Validation.TRUSTED, "Valid": Validation.UNTRUSTED}.get(state or "", Validation.TAMPERED)
    generator = ", ".join(f"{info.get('name', '')} {info.get('version', '')}".strip()
                          for info in manifest.get("claim_generator_info", []))
    actions: list[dict[str, Any]] = next((assertion["data"].get("actions", [])
                                          for assertion in manifest.get("assertions", [])
                                          if str(assertion.get("label", "")).startswith("c2pa.actions")), [])
    signature = manifest.get("signature_info", {})
    signer = ", ".join(part for part in (signature.get("common_name"), signature.get("issuer")) if part)
    return ManifestReport(validation, generator, manifest.get("title", ""), actions,
                          [str(item.get("title", "")) for item in manifest.get("ingredients", [])], signer, failures)


def _definition(provenance: Provenance, mime: str) -> str:
    actions: list[dict[str, Any]] = []
    if provenance.ingredient is not None:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT]}})
    for action in provenance.actions:
        entry: dict[str, Any] = {"action": action.value, "softwareAgent": _SOFTWARE_AGENT}
        if action in (Action.CREATED, Action.EDITED):
            entry["digitalSourceType"] = provenance.digital_source_type
        actions.append(entry)
    return json.dumps({
        "claim_generator_info": [_SOFTWARE_AGENT],
        "title": provenance.title or f"Underpaint {provenance.recipe.mode.value} result",
        "format": mime,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}},
                       # The recipe as its JSON text: c2pa turns a JSON list of integers (the seeds)
                       # into a CBOR byte string, keeping only each number's lowest byte.
                       {"label": RECIPE_ASSERTION, "data": {"recipe": provenance.recipe.to_json(),
                                                            "variant": provenance.variant}}],
    })
