"""C2PA manifests: signed into the job's files and deliverables, read back with c2pa's own Reader."""

from __future__ import annotations

import datetime
import io
import stat
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from builders import gradient_rgba, make_result
from test_credentials_disclosure import encoded, exiftool
from underpaint.results.credentials import (
    Action,
    Credentials,
    CredentialsError,
    Ingredient,
    Provenance,
    SigningKey,
    configured_credentials,
    load_signing_key,
    local_signing_key,
    result_provenance,
    stamp,
)
from underpaint.results.credentials.keys import LOCAL_SIGNER_FILE
from underpaint.results.credentials.provenance import (
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
)
from underpaint.results.recipe import Recipe
from underpaint.results.store import ResultStore


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return local_signing_key(tmp_path_factory.mktemp("credentials"))


@pytest.fixture(scope="module")
def signed(key: SigningKey, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A Fill's and a Generate's first variant PNG, as the store writes them with a signing key."""
    folder = tmp_path_factory.mktemp("signed")
    store = ResultStore(folder, 14, 4096, Credentials(signing_key=key))
    return {"fill": store.save(make_result(), "fill").variants[0],
            "generate": store.save(make_result(with_source=False), "generate").variants[0]}


def manifest_of(data: bytes, mime: str = "image/png") -> tuple[str, dict[str, Any]]:
    """c2pa's validation state of `data` and its active manifest."""
    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        return reader.get_validation_state(), reader.get_active_manifest()


def actions_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def test_a_fill_variant_carries_a_manifest_that_validates(signed: dict[str, Path]) -> None:
    state, _ = manifest_of(signed["fill"].read_bytes())
    assert state == "Valid"


def test_a_fill_names_its_source_as_the_parent_ingredient(signed: dict[str, Path]) -> None:
    _, manifest = manifest_of(signed["fill"].read_bytes())
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [("source", "parentOf")]


def test_the_source_ingredient_brings_a_jpeg_thumbnail_readers_show(signed: dict[str, Path]) -> None:
    _, manifest = manifest_of(signed["fill"].read_bytes())
    assert manifest["ingredients"][0]["thumbnail"]["format"] == "image/jpeg"


def test_a_fill_is_an_edit_with_composite_digital_source_type_by_underpaint(signed: dict[str, Path]) -> None:
    _, manifest = manifest_of(signed["fill"].read_bytes())
    opened, edited = actions_of(manifest)
    assert opened["action"] == "c2pa.opened"
    assert edited["action"] == "c2pa.edited"
    assert edited["digitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert edited["softwareAgent"]["name"] == "Underpaint"
    assert manifest["claim_generator_info"][0]["name"] == "Underpaint"


def test_a_generate_is_created_from_nothing(signed: dict[str, Path]) -> None:
    state, manifest = manifest_of(signed["generate"].read_bytes())
    assert state == "Valid"
    assert manifest.get("ingredients", []) == []
    assert [(a["action"], a["digitalSourceType"]) for a in actions_of(manifest)] == [
        ("c2pa.created", TRAINED_ALGORITHMIC_MEDIA)]


def test_the_manifest_carries_the_recipe(signed: dict[str, Path]) -> None:
    _, manifest = manifest_of(signed["fill"].read_bytes())
    recipe = next(a["data"]["recipe"] for a in manifest["assertions"] if a["label"] == "dev.underpaint.recipe")
    assert Recipe.from_json(recipe) == make_result().recipe


def test_the_signed_png_keeps_its_recipe_and_replay_chunks(signed: dict[str, Path]) -> None:
    from underpaint.results.png import read_png_replay

    recipe, source, selection = read_png_replay(signed["fill"])
    result = make_result()
    assert recipe == result.recipe
    assert source is not None and (source == result.source).all()
    assert selection is not None and (selection == result.selection).all()


def test_a_signed_variant_still_opens_as_an_image(signed: dict[str, Path]) -> None:
    with Image.open(signed["fill"]) as image:
        image.load()
        assert image.size == (make_result().region.width, make_result().region.height)

def test_a_changed_pixel_fails_validation(signed: dict[str, Path]) -> None:
    data = bytearray(signed["fill"].read_bytes())
    data[data.index(b"IDAT") + 12] ^= 0xFF
    state, _ = manifest_of(bytes(data))
    assert state == "Invalid"


def test_trust_anchors_holding_the_local_ca_make_it_trusted(signed: dict[str, Path], key: SigningKey) -> None:
    ca = key.certificate_chain[key.certificate_chain.index(b"-----END CERTIFICATE-----") + 26:]
    context = c2pa.Context.from_dict({"trust": {"trust_anchors": ca.decode()}, "verify": {"verify_trust": True}})
    with context, c2pa.Reader("image/png", io.BytesIO(signed["fill"].read_bytes()), None, context) as reader:
        assert reader.get_validation_state() == "Trusted"


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "tiff"])
def test_a_deliverable_chains_to_the_variant_it_was_made_from(signed: dict[str, Path], key: SigningKey,
                                                              fmt: str) -> None:
    variant = signed["fill"].read_bytes()
    provenance = Provenance(make_result().recipe, (Action.RESIZED, Action.CONVERTED),
                            ingredient=Ingredient(variant, "png", "variant-1.png"), title=f"hero.{fmt}")
    data = stamp(encoded(fmt, gradient_rgba(20, 28)), fmt, provenance, Credentials(signing_key=key))
    state, manifest = manifest_of(data, f"image/{fmt}")
    assert state == "Valid"
    assert [a["action"] for a in actions_of(manifest)] == ["c2pa.opened", "c2pa.resized", "c2pa.converted"]
    (parent,) = manifest["ingredients"]
    assert parent["title"] == "variant-1.png"
    assert "active_manifest" in parent  # the variant's own manifest travels with it


def test_the_psd_gets_a_sidecar_manifest_bound_to_its_bytes(key: SigningKey, tmp_path: Path) -> None:
    saved = ResultStore(tmp_path, 14, 4096, Credentials(signing_key=key)).save(make_result(), "job")
    assert saved.manifest == saved.psd.with_suffix(".c2pa")
    psd, sidecar = saved.psd.read_bytes(), saved.manifest.read_bytes()
    with c2pa.Reader("image/vnd.adobe.photoshop", io.BytesIO(psd), sidecar) as reader:
        assert reader.get_validation_state() == "Valid"
        assert actions_of(reader.get_active_manifest())[-1]["action"] == "c2pa.edited"
    with c2pa.Reader("image/vnd.adobe.photoshop", io.BytesIO(psd[:-1] + b"!"), sidecar) as reader:
        assert reader.get_validation_state() == "Invalid"


def test_the_hot_folder_copies_the_sidecar_named_after_its_psd(key: SigningKey, tmp_path: Path) -> None:
    from underpaint.hotfolder.outputs import write_outputs

    result = make_result()
    saved = ResultStore(tmp_path / "store", 14, 4096, Credentials(signing_key=key)).save(result, "job")
    write_outputs(saved, result.recipe, tmp_path / "out", "photo", [])
    psd, sidecar = (tmp_path / "out" / "photo.psd").read_bytes(), (tmp_path / "out" / "photo.c2pa").read_bytes()
    with c2pa.Reader("image/vnd.adobe.photoshop", io.BytesIO(psd), sidecar) as reader:
        assert reader.get_validation_state() == "Valid"


def test_manifest_off_writes_none_but_keeps_the_disclosure(tmp_path: Path) -> None:
    saved = ResultStore(tmp_path, 14, 4096, Credentials(signing_key=None)).save(make_result(), "job")
    assert saved.manifest is None
    data = saved.variants[0].read_bytes()
    assert c2pa.Reader.try_create("image/png", io.BytesIO(data)) is None
    assert exiftool(saved.variants[0])["variant-1.png"]["XMP-iptcExt:DigitalSourceType"] == \
        COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_both_off_writes_neither(tmp_path: Path) -> None:
    saved = ResultStore(tmp_path, 14, 4096, Credentials(disclosure=False)).save(make_result(), "job")
    assert c2pa.Reader.try_create("image/png", io.BytesIO(saved.variants[0].read_bytes())) is None
    assert "XMP-iptcExt:DigitalSourceType" not in exiftool(saved.variants[0])["variant-1.png"]


def test_the_local_pair_is_made_once_and_readable_only_by_the_user(tmp_path: Path) -> None:
    first = local_signing_key(tmp_path)
    assert stat.S_IMODE((tmp_path / LOCAL_SIGNER_FILE).stat().st_mode) == 0o600
    assert local_signing_key(tmp_path) == first
    assert first.self_made


def test_a_studio_pair_is_loaded_from_its_files(tmp_path: Path, key: SigningKey) -> None:
    certificate, private_key = _studio_files(tmp_path, key)
    loaded = load_signing_key(certificate, private_key)
    assert (loaded.certificate_chain, loaded.private_key, loaded.self_made) == (key.certificate_chain,
                                                                               key.private_key, False)


def test_a_missing_certificate_file_is_a_clear_error(tmp_path: Path, key: SigningKey) -> None:
    _, private_key = _studio_files(tmp_path, key)
    with pytest.raises(CredentialsError, match=r"certificate .*missing\.pem") as caught:
        load_signing_key(tmp_path / "missing.pem", private_key)
    assert caught.value.code == "bad_credentials"


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path, key: SigningKey) -> None:
    certificate, _ = _studio_files(tmp_path, key)
    with pytest.raises(CredentialsError, match=r"private key .*missing\.key") as caught:
        load_signing_key(certificate, tmp_path / "missing.key")
    assert caught.value.code == "bad_credentials"


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path, key: SigningKey) -> None:
    certificate, private_key = _studio_files(tmp_path, key)
    private_key.write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(CredentialsError, match="does not belong"):
        load_signing_key(certificate, private_key)


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path, key: SigningKey) -> None:
    certificate, private_key = _studio_files(tmp_path, key)
    certificate.write_text("not a certificate")
    with pytest.raises(CredentialsError, match="not a PEM"):
        load_signing_key(certificate, private_key)


def test_a_self_signed_signer_is_refused_as_c2pa_validators_refuse_it(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(private, hashes.SHA256()))
    (tmp_path / "self.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "self.key").write_bytes(_pem_key(private))
    with pytest.raises(CredentialsError, match="self-signed"):
        load_signing_key(tmp_path / "self.pem", tmp_path / "self.key")


def test_half_a_configured_pair_is_refused(tmp_path: Path, key: SigningKey) -> None:
    certificate, _ = _studio_files(tmp_path, key)
    with pytest.raises(CredentialsError, match="both"):
        configured_credentials(True, True, certificate, None, None, tmp_path / "local")


def test_settings_with_the_manifest_off_make_no_key(tmp_path: Path) -> None:
    credentials = configured_credentials(True, False, None, None, None, tmp_path / "local")
    assert credentials == Credentials(disclosure=True, signing_key=None)
    assert not (tmp_path / "local").exists()


def test_an_edit_without_the_file_it_edited_is_refused() -> None:
    with pytest.raises(ValueError, match="ingredient"):
        Provenance(make_result().recipe, (Action.EDITED,))


def test_a_result_without_source_is_a_creation() -> None:
    assert result_provenance(make_result(with_source=False), 0).actions == (Action.CREATED,)


def _studio_files(folder: Path, key: SigningKey) -> tuple[Path, Path]:
    certificate, private_key = folder / "studio.pem", folder / "studio.key"
    certificate.write_bytes(key.certificate_chain)
    private_key.write_bytes(key.private_key)
    return certificate, private_key


def _pem_key(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

