"""The IPTC disclosure (XMP DigitalSourceType) in every file Underpaint writes, read back by exiftool."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders import gradient_rgba, make_result
from underpaint.core import Mode
from underpaint.results.credentials import DISCLOSURE_ONLY, Credentials, CredentialsError, result_provenance, stamp
from underpaint.results.credentials.provenance import (
    ALGORITHMIC_MEDIA,
    ALGORITHMICALLY_ENHANCED,
    COMPOSITE_SYNTHETIC,
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    digital_source_type,
)
from underpaint.results.store import ResultStore

GENERATED, FILLED = "generate", "fill"
ENCODED = ("jpeg", "webp", "tiff")


def exiftool(*paths: Path, tags: tuple[str, ...] = ("-XMP-iptcExt:DigitalSourceType",)) -> dict[str, dict[str, str]]:
    """exiftool's reading of `paths`: file name -> tag -> value."""
    done = subprocess.run(["exiftool", "-j", "-G1", *tags, *map(str, paths)], capture_output=True, text=True,
                          check=True, timeout=60)
    return {Path(entry["SourceFile"]).name: entry for entry in json.loads(done.stdout)}


def encoded(fmt: str, pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    options = {"lossless": True} if fmt == "webp" else {}
    Image.fromarray(pixels[..., :3], "RGB").save(out, format=fmt.upper(), **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every kind of file for a Generate and a Fill job, as exiftool reads them (one run for all)."""
    folder = tmp_path_factory.mktemp("disclosed")
    paths = []
    for kind, result in ((GENERATED, make_result(with_source=False)), (FILLED, make_result())):
        saved = ResultStore(folder / kind, 14, 4096).save(result, "job")
        for own in (saved.psd, saved.variants[0]):
            paths.append(own.rename(folder / f"{kind}.{own.suffix.lstrip('.')}"))
        for fmt in ENCODED:
            data = stamp(encoded(fmt, gradient_rgba(40, 56)), fmt, result_provenance(result, 0), DISCLOSURE_ONLY)
            path = folder / f"{kind}.{fmt}"
            path.write_bytes(data)
            paths.append(path)
    return exiftool(*paths)


@pytest.mark.parametrize("fmt", ["png", "psd", *ENCODED])
def test_a_generated_image_says_trained_algorithmic_media(written: dict[str, dict[str, str]], fmt: str) -> None:
    assert written[f"{GENERATED}.{fmt}"]["XMP-iptcExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA


@pytest.mark.parametrize("fmt", ["png", "psd", *ENCODED])
def test_a_fill_of_a_source_says_composite_with_trained_algorithmic_media(written: dict[str, dict[str, str]],
                                                                          fmt: str) -> None:
    assert written[f"{FILLED}.{fmt}"]["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_the_psd_keeps_its_recipe_beside_the_disclosure(tmp_path: Path) -> None:
    from underpaint.results.psd import read_psd_recipe

    result = make_result()
    saved = ResultStore(tmp_path, 14, 4096).save(result, "job")
    assert read_psd_recipe(saved.psd) == result.recipe


def test_disclosure_off_writes_no_digital_source_type(tmp_path: Path) -> None:
    saved = ResultStore(tmp_path, 14, 4096, Credentials(disclosure=False)).save(make_result(), "job")
    read = exiftool(saved.psd, saved.variants[0])
    assert all("XMP-iptcExt:DigitalSourceType" not in entry for entry in read.values())


def test_the_hot_folders_contact_sheet_discloses_too(tmp_path: Path) -> None:
    from underpaint.hotfolder.outputs import write_outputs

    result = make_result()
    saved = ResultStore(tmp_path / "store", 14, 4096).save(result, "job")
    write_outputs(saved, result.recipe, tmp_path / "out", "photo", [])
    read = exiftool(tmp_path / "out" / "photo.contact.png")
    assert read["photo.contact.png"]["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_an_avif_deliverable_discloses_beside_its_recipe(tmp_path: Path) -> None:
    from underpaint.results.delivery.export import credentials_stamp, deliver, read_variant
    from underpaint.results.delivery.library import PresetLibrary

    saved = ResultStore(tmp_path / "store", 14, 4096).save(make_result(), "job")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "small.toml").write_text('width = 32\nheight = 24\nformat = "avif"\n')
    variant = read_variant(saved.variants[0])
    delivered = deliver(variant, [PresetLibrary(tmp_path / "presets").get("small")], tmp_path / "out", "cover",
                        credentials_stamp(DISCLOSURE_ONLY, variant, saved.variants[0])).files[0]
    read = exiftool(delivered.path, tags=("-XMP-iptcExt:DigitalSourceType", "-XMP:all"))[delivered.path.name]
    assert read["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert "XMP-underpaint:Recipe" in read


@pytest.mark.parametrize("fmt", ["png", *ENCODED])
def test_stamping_leaves_the_pixels_as_they_were(fmt: str) -> None:
    pixels = gradient_rgba(40, 56)
    data = encoded(fmt, pixels) if fmt != "png" else _png(pixels)
    stamped = stamp(data, fmt, result_provenance(make_result(), 0), DISCLOSURE_ONLY)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(stamped)) as after:
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


def test_a_simple_lossy_webp_gains_the_extended_header_metadata_needs(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.fromarray(gradient_rgba(40, 56)[..., :3], "RGB").save(out, format="WEBP", quality=80)
    assert out.getvalue()[12:16] == b"VP8 "  # no VP8X, so no place for metadata yet
    path = tmp_path / "lossy.webp"
    path.write_bytes(stamp(out.getvalue(), "webp", result_provenance(make_result(), 0), DISCLOSURE_ONLY))
    with Image.open(path) as image, Image.open(out) as before:
        np.testing.assert_array_equal(np.asarray(image), np.asarray(before))
    assert exiftool(path)["lossy.webp"]["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_a_jpeg_keeps_its_entropy_coded_data_byte_for_byte() -> None:
    data = encoded("jpeg", gradient_rgba(40, 56))
    stamped = stamp(data, "jpeg", result_provenance(make_result(), 0), DISCLOSURE_ONLY)
    assert stamped.endswith(data[data.index(b"\xff\xda"):])


def test_metadata_a_file_already_has_is_kept(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x013B] = "A. Designer"  # Artist
    out = io.BytesIO()
    Image.fromarray(gradient_rgba(40, 56)[..., :3], "RGB").save(out, format="JPEG", exif=exif,
                                                              icc_profile=_srgb_profile())
    path = tmp_path / "kept.jpeg"
    path.write_bytes(stamp(out.getvalue(), "jpeg", result_provenance(make_result(), 0), DISCLOSURE_ONLY))
    read = exiftool(path, tags=("-IFD0:Artist", "-ICC_Profile:ProfileDescription", "-XMP-iptcExt:DigitalSourceType"))
    entry = read["kept.jpeg"]
    assert entry["IFD0:Artist"] == "A. Designer"
    assert "sRGB" in entry["ICC_Profile:ProfileDescription"]
    assert entry["XMP-iptcExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_stamping_twice_states_the_source_type_once() -> None:
    generated = result_provenance(make_result(with_source=False), 0)
    filled = result_provenance(make_result(), 0)
    data = stamp(stamp(_png(gradient_rgba(40, 56)), "png", generated, DISCLOSURE_ONLY), "png", filled, DISCLOSURE_ONLY)
    assert data.count(b"DigitalSourceType>http") == 1
    assert COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA.encode() in data


def test_the_classic_engine_says_no_trained_model_made_it() -> None:
    fill, generate = make_result().recipe, make_result(with_source=False).recipe
    assert digital_source_type(fill.model_copy(update={"engine": "classic"})) == COMPOSITE_SYNTHETIC
    assert digital_source_type(generate.model_copy(update={"engine": "classic"})) == ALGORITHMIC_MEDIA


def test_an_upscale_without_refine_is_algorithmically_enhanced() -> None:
    from underpaint.core.upscale import UpscaleParams

    recipe = make_result().recipe
    params = recipe.params.model_copy(update={"upscale": UpscaleParams(factor=2)})
    assert digital_source_type(recipe.model_copy(update={"mode": Mode.UPSCALE, "params": params})) == \
        ALGORITHMICALLY_ENHANCED


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff", "psd"])
def test_bytes_that_are_not_the_format_are_a_clear_error(fmt: str) -> None:
    with pytest.raises(CredentialsError, match=fmt.upper()) as caught:
        stamp(b"plain text, not an image", fmt, result_provenance(make_result(), 0), DISCLOSURE_ONLY)
    assert caught.value.code == "bad_image"


def test_a_truncated_png_is_a_clear_error() -> None:
    data = _png(gradient_rgba(40, 56))
    with pytest.raises(CredentialsError) as caught:
        stamp(data[: len(data) // 2], "png", result_provenance(make_result(), 0), DISCLOSURE_ONLY)
    assert caught.value.code == "bad_image"


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, format="PNG")
    return out.getvalue()


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
