"""`underpaint verify FILE`: what a file says of how it was made, and whether its credentials hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from underpaint.cli_common import load
from underpaint.results.credentials import (
    SIDECAR_SUFFIX,
    Credentials,
    CredentialsError,
    FileCredentials,
    Validation,
    inspect_file,
)
from underpaint.results.credentials.provenance import IPTC_SOURCE_TYPES

EXIT_CODES = {Validation.TRUSTED: 0, Validation.UNTRUSTED: 0, Validation.TAMPERED: 3, Validation.NONE: 4}
"""verify's exit status: 0 intact, 3 tampered, 4 no manifest (1 for a file it cannot read)."""

_VERDICTS = {
    Validation.TRUSTED: "trusted: signed, intact, and the signer chains to one of your trust anchors",
    Validation.UNTRUSTED: "untrusted but intact: the signature and every hash check out, but no trust anchor "
                          "vouches for the signer",
    Validation.TAMPERED: "TAMPERED: the file or its manifest changed after it was signed",
    Validation.NONE: "no C2PA manifest",
}
_MEANINGS = {
    "trainedAlgorithmicMedia": "made with generative AI",
    "compositeWithTrainedAlgorithmicMedia": "edited with generative AI",
    "algorithmicMedia": "made by an algorithm without a trained model",
    "compositeSynthetic": "edited by an algorithm without a trained model",
    "algorithmicallyEnhanced": "enhanced by an algorithm (enlarged), no new content",
}
_SELF_MADE = ("Credentials made by Underpaint on first start are self-signed by a local CA, so every reader shows "
              "them as untrusted until a studio installs its own certificate and key (settings c2pa_certificate, "
              "c2pa_private_key) or adds the local CA to its trust list (c2pa_trust_anchors).")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--trust-anchors", type=click.Path(dir_okay=False, path_type=Path),
              help="PEM CA certificates to trust (default: the c2pa_trust_anchors setting).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def verify(ctx: click.Context, /, file: Path, trust_anchors: Path | None, as_json: bool) -> None:
    """Print FILE's Content Credentials (IPTC disclosure, C2PA manifest) and whether they validate.

    Exit status: 0 intact (trusted or untrusted), 3 tampered, 4 no manifest, 1 unreadable."""
    anchors_path = trust_anchors or load(ctx).settings.c2pa_trust_anchors
    sidecar_path = file.with_suffix(SIDECAR_SUFFIX)
    try:
        data = file.read_bytes()
        anchors = anchors_path.read_bytes() if anchors_path is not None else None
        # A PSD's manifest lives beside it (NAME.c2pa), as c2pa cannot embed one in a PSD.
        sidecar = sidecar_path.read_bytes() if sidecar_path.is_file() and sidecar_path != file else None
    except OSError as error:
        raise click.ClickException(f"Cannot read {error.filename}: {error.strerror}.") from None
    try:
        found = inspect_file(data, anchors, sidecar)
    except CredentialsError as error:
        raise click.ClickException(f"{file}: {error} [{error.code}]") from None
    if as_json:
        click.echo(json.dumps(_as_json(found), indent=2))
    else:
        click.echo(report(file.name, found))
    sys.exit(EXIT_CODES[found.manifest.validation])


def report(name: str, found: FileCredentials) -> str:
    """What `verify` prints for the file `name`."""
    manifest = found.manifest
    sidecar = found.fmt == "psd" and manifest.validation != Validation.NONE
    lines = [f"{name} ({found.fmt.upper()}{f', manifest in its {SIDECAR_SUFFIX} sidecar' if sidecar else ''})"]
    source_type = found.source_type
    lines.append(f"Disclosure (IPTC DigitalSourceType): {_short(source_type) if source_type else 'none'}")
    if manifest.validation != Validation.NONE or manifest.failures:
        lines.append(f"Claim generator: {manifest.claim_generator or '?'}")
        lines.append(f"Signed by: {manifest.signer or '?'}")
        for action in manifest.actions:
            agent = action.get("softwareAgent")
            by = f" by {agent.get('name', '')} {agent.get('version', '')}".rstrip() if isinstance(agent, dict) else ""
            kind = f" ({_short(action['digitalSourceType'])})" if action.get("digitalSourceType") else ""
            lines.append(f"Action: {action.get('action', '?')}{kind}{by}")
        lines.append(f"Ingredients: {', '.join(manifest.ingredients) or 'none'}")
    lines.append(f"Validation: {_VERDICTS[manifest.validation]}")
    lines.extend(f"  {failure}" for failure in manifest.failures)
    if manifest.validation == Validation.UNTRUSTED:
        lines.append(_SELF_MADE)
    if found.parameters:
        lines.append("Parameters:")
        lines.extend(f"  {line}" for line in found.parameters.splitlines())
    return "\n".join(lines)


def describe_credentials(credentials: Credentials) -> str:
    """One line for the agent's start banner: what its files will say, and who signs them."""
    disclosure = "IPTC disclosure on" if credentials.disclosure else "IPTC disclosure off"
    key = credentials.signing_key
    if key is None:
        return f"Content Credentials: no C2PA manifest (c2pa_manifest is off); {disclosure}."
    if key.self_made:
        return (f"Content Credentials: C2PA manifests signed with this machine's self-made pair, which readers show "
                f"as untrusted until you install your studio's (README: Content Credentials); {disclosure}.")
    return f"Content Credentials: C2PA manifests signed with your configured certificate; {disclosure}."


def _short(source_type: str) -> str:
    short = source_type.removeprefix(IPTC_SOURCE_TYPES)
    return f"{short}: {_MEANINGS[short]}" if short in _MEANINGS else short


def _as_json(found: FileCredentials) -> dict[str, Any]:
    manifest = found.manifest
    return {"format": found.fmt, "digital_source_type": found.source_type, "validation": manifest.validation.value,
            "claim_generator": manifest.claim_generator, "signer": manifest.signer, "actions": manifest.actions,
            "ingredients": manifest.ingredients, "failures": manifest.failures, "parameters": found.parameters}
