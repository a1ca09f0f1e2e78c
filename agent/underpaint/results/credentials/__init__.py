"""Content Credentials and disclosure on every file Underpaint writes.

`stamp(data, fmt, provenance, credentials)` takes an encoded file and returns it carrying:
- the IPTC DigitalSourceType in its XMP (unless `credentials.disclosure` is off),
- the Automatic1111 `parameters` text (PNG tEXt; JPEG and WebP EXIF UserComment),
- a signed C2PA manifest (when `credentials.signing_key` is set and c2pa can embed one in `fmt`).
PSD gets the XMP only, as c2pa cannot embed a manifest in it: `sidecar_manifest(...)` gives the
signed manifest store to write beside it as NAME.c2pa, bound to the PSD's bytes by a data hash.
AVIF gets the manifest only: its XMP lives in an item that cannot be added without
re-encoding, so its encoder takes `disclosure_xmp(...)` (Pillow's `xmp=`) instead, as the
deliverables' renderer does (results/delivery: Stamp.xmp).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from underpaint.core import ErrorCode
from underpaint.results.credentials import containers, manifest
from underpaint.results.credentials.inspect import FileCredentials, inspect_file
from underpaint.results.credentials.keys import (
    CredentialsError,
    configured_credentials,
    load_signing_key,
    local_signing_key,
)
from underpaint.results.credentials.manifest import SIDECAR_SUFFIX, ManifestReport, Validation
from underpaint.results.credentials.parameters import parameters_text
from underpaint.results.credentials.provenance import (
    Action,
    Credentials,
    Ingredient,
    Provenance,
    SigningKey,
    digital_source_type,
)
from underpaint.results.credentials.xmp import disclosure_packet
from underpaint.results.layered import LayeredResult
from underpaint.results.recipe import Recipe

FORMATS = ("png", "jpeg", "webp", "tiff", "psd", "avif")
_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
_PARAMETERS_FORMATS = frozenset({"png", "jpeg", "webp"})
DISCLOSURE_ONLY = Credentials()
"""What a file says when no one passed the user's credentials: made with AI, but unsigned."""
_INGREDIENT_SIDE = 256
"""The source travels into a manifest as a JPEG at most this wide and high, serving as its own
thumbnail: enough for a reader to show what was edited, without doubling every variant's size."""

__all__ = [
    "DISCLOSURE_ONLY",
    "FORMATS",
    "SIDECAR_SUFFIX",
    "Action",
    "Credentials",
    "CredentialsError",
    "FileCredentials",
    "Ingredient",
    "ManifestReport",
    "Provenance",
    "SigningKey",
    "Validation",
    "configured_credentials",
    "digital_source_type",
    "disclose",
    "disclosure_xmp",
    "file_format",
    "inspect_file",
    "load_signing_key",
    "local_signing_key",
    "parameters_text",
    "result_provenance",
    "sidecar_manifest",
    "source_ingredient",
    "stamp",
]


def stamp(data: bytes, fmt: str, provenance: Provenance, credentials: Credentials) -> bytes:
    """`data`, a `fmt` file (png, jpeg, webp, tiff, psd, avif), with the disclosure, the parameters
    text and the manifest `credentials` allow for `provenance`. Raises CredentialsError (code
    bad_image) when `data` is not such a file, bad_credentials when signing fails."""
    fmt = file_format(fmt)
    source_type = provenance.digital_source_type
    text = parameters_text(provenance.recipe, provenance.seed) if fmt in _PARAMETERS_FORMATS else None
    if fmt != "avif":
        edit = (lambda old: disclosure_packet(source_type, old)) if credentials.disclosure else None
        data = containers.embed(data, fmt, edit, text)
    if credentials.signing_key is not None and fmt in manifest.SIGNABLE:
        data = manifest.sign(data, fmt, provenance, credentials.signing_key)
    return data


def sidecar_manifest(source: bytes | Path, provenance: Provenance, credentials: Credentials) -> bytes | None:
    """For a PSD (bytes, or the file at a path), which no manifest can be embedded in: the signed
    C2PA manifest store to write beside it as NAME.c2pa (SIDECAR_SUFFIX); None when the manifest is off."""
    if credentials.signing_key is None:
        return None
    if isinstance(source, Path):
        with source.open("rb") as file:
            return manifest.sign_sidecar(file, provenance, credentials.signing_key)
    return manifest.sign_sidecar(io.BytesIO(source), provenance, credentials.signing_key)


def disclose(data: bytes, fmt: str, recipe: Recipe, credentials: Credentials) -> bytes:
    """`data` with the IPTC disclosure alone, for files showing several variants at once (a contact
    sheet), which have no one seed for a parameters text nor one parent for a manifest."""
    fmt = file_format(fmt)
    if not credentials.disclosure or fmt == "avif":
        return data
    return containers.embed(data, fmt, lambda old: disclosure_packet(digital_source_type(recipe), old), None)


def disclosure_xmp(recipe: Recipe, credentials: Credentials, existing: bytes | None = None) -> bytes | None:
    """The XMP packet disclosing what `recipe` made, holding what the packet `existing` held, for
    writers that build their XMP themselves (the PSD writer; Pillow's `xmp=` for AVIF); None when
    disclosure is off."""
    return disclosure_packet(digital_source_type(recipe), existing) if credentials.disclosure else None


def file_format(fmt: str) -> str:
    fmt = _ALIASES.get(fmt.lower().lstrip("."), fmt.lower().lstrip("."))
    if fmt not in FORMATS:
        raise CredentialsError(ErrorCode.BAD_IMAGE, f"Underpaint does not write {fmt!r} files; "
                                                    f"it writes {', '.join(FORMATS)}.")
    return fmt


def result_provenance(result: LayeredResult, variant: int, title: str = "") -> Provenance:
    """The provenance of a job's own file showing `variant`: an edit of the job's source, or,
    for Generate (no source), a creation."""
    return Provenance.of_result(result.recipe, variant, source_ingredient(result.source), title)


def source_ingredient(pixels: np.ndarray | None) -> Ingredient | None:
    """A job's RGBA8 source as a manifest ingredient (a JPEG, see _INGREDIENT_SIDE); None without one."""
    if pixels is None:
        return None
    # Every n-th pixel first, down to about twice the side: a 4000x3000 source would otherwise be
    # copied whole into Pillow for each file of the job.
    step = max(1, max(pixels.shape[:2]) // (2 * _INGREDIENT_SIDE))
    image = Image.fromarray(np.ascontiguousarray(pixels[::step, ::step]), "RGBA")
    image.thumbnail((_INGREDIENT_SIDE, _INGREDIENT_SIDE), Image.Resampling.BILINEAR)
    # Transparent parts (an Expand's new strips) over white, as the PSD's Background shows them.
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=85)
    return Ingredient(out.getvalue(), "jpeg", "source", thumbnail=out.getvalue())
