"""`underpaint verify FILE`: the disclosure, the manifest and its validation, and clear errors."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from builders import make_result
from underpaint.cli import main
from underpaint.results.credentials import Credentials, SigningKey, local_signing_key
from underpaint.results.store import ResultStore


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return local_signing_key(tmp_path_factory.mktemp("credentials"))


@pytest.fixture(scope="module")
def files(key: SigningKey, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("verify")
    signed = ResultStore(folder / "signed", 14, 4096, Credentials(signing_key=key)).save(make_result(), "job")
    plain = ResultStore(folder / "plain", 14, 4096).save(make_result(with_source=False), "job")
    tampered = folder / "tampered.png"
    tampered.write_bytes(with_chunk_edited(signed.variants[0].read_bytes(), b"Steps: 20", b"Steps: 99"))
    anchors = folder / "anchors.pem"
    anchors.write_bytes(key.certificate_chain[key.certificate_chain.index(b"-----END CERTIFICATE-----") + 26:])
    return {"signed": signed.variants[0], "psd": signed.psd, "plain": plain.variants[0], "plain_psd": plain.psd,
            "tampered": tampered, "anchors": anchors}


def with_chunk_edited(png: bytes, old: bytes, new: bytes) -> bytes:
    """`png` with `old` replaced by `new` in the chunk holding it, its CRC made right again: an edit
    every PNG reader accepts, made after signing."""
    at = 8
    while True:
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        body = png[at + 8:at + 8 + length]
        if old in body:
            body = body.replace(old, new)
            chunk = struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body))
            return png[:at] + chunk + png[at + 12 + length:]
        at += 12 + length


def verify(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config-dir", str(tmp_path), "verify", *args])


def test_a_signed_fill_is_untrusted_but_intact_with_its_credentials_shown(files: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["signed"]))
    assert result.exit_code == 0, result.output
    assert "Disclosure (IPTC DigitalSourceType): compositeWithTrainedAlgorithmicMedia" in result.output
    assert "Claim generator: Underpaint 0.1.0" in result.output
    assert "Action: c2pa.edited (compositeWithTrainedAlgorithmicMedia" in result.output
    assert "Ingredients: source" in result.output
    assert "Signed by: Underpaint on this machine" in result.output
    assert "Validation: untrusted but intact" in result.output
    assert "self-signed by a local CA" in result.output


def test_the_parameters_text_is_shown(files: dict[str, Path], tmp_path: Path) -> None:
    assert "Steps: 20, Sampler: Euler" in verify(tmp_path, str(files["signed"])).output


def test_a_signer_under_a_trust_anchor_is_trusted(files: dict[str, Path], tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["signed"]), "--trust-anchors", str(files["anchors"]))
    assert result.exit_code == 0, result.output
    assert "Validation: trusted" in result.output


def test_a_file_edited_after_signing_is_tampered_with_exit_status_3(files: dict[str, Path], tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["tampered"]))
    assert result.exit_code == 3
    assert "Validation: TAMPERED" in result.output


def test_a_file_without_a_manifest_exits_4_and_still_shows_its_disclosure(files: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["plain"]))
    assert result.exit_code == 4
    assert "trainedAlgorithmicMedia: made with generative AI" in result.output
    assert "Validation: no C2PA manifest" in result.output


def test_a_psd_is_verified_through_its_sidecar_manifest(files: dict[str, Path], tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["psd"]))
    assert result.exit_code == 0, result.output
    assert "result.psd (PSD, manifest in its .c2pa sidecar)" in result.output
    assert "Disclosure (IPTC DigitalSourceType): compositeWithTrainedAlgorithmicMedia" in result.output
    assert "Validation: untrusted but intact" in result.output


def test_a_psd_changed_after_signing_is_tampered(files: dict[str, Path], tmp_path: Path) -> None:
    changed = tmp_path / "result.psd"
    changed.write_bytes(files["psd"].read_bytes() + b"\x00")
    (tmp_path / "result.c2pa").write_bytes(files["psd"].with_suffix(".c2pa").read_bytes())
    assert verify(tmp_path, str(changed)).exit_code == 3


def test_a_psd_without_a_sidecar_shows_its_disclosure_and_no_manifest(files: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    result = verify(tmp_path, str(files["plain_psd"]))
    assert result.exit_code == 4
    assert "result.psd (PSD)" in result.output
    assert "trainedAlgorithmicMedia" in result.output


def test_json_output_is_machine_readable(files: dict[str, Path], tmp_path: Path) -> None:
    shown = json.loads(verify(tmp_path, "--json", str(files["signed"])).output)
    assert (shown["validation"], shown["ingredients"]) == ("untrusted", ["source"])


def test_a_file_that_is_not_an_image_is_a_clear_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = verify(tmp_path, str(notes))
    assert result.exit_code == 1
    assert "Not an image file" in result.output
    assert "bad_image" in result.output


def test_a_truncated_image_is_a_clear_error(files: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.png"
    data = files["signed"].read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    result = verify(tmp_path, str(cut))
    assert result.exit_code == 1
    assert "damaged or cut short" in result.output


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = verify(tmp_path, str(tmp_path / "gone.png"))
    assert result.exit_code == 1
    assert "Cannot read" in result.output
    assert "gone.png" in result.output
