"""Inputs that carry an ICC profile are converted to sRGB with LittleCMS, and the result says so."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import Image, ImageCms

from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.api import Underpaint
from underpaint.engines.classic import ClassicEngine
from underpaint.imaging.codec import decode_pixels, load_image

# Adobe RGB (1998): the profile scikit-image's rocket photograph carries (a test dependency, no download).
ADOBE_RGB = Image.open(Path(skimage.__file__).parent / "data" / "rocket.jpg").info["icc_profile"]
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
PIXELS = textured_rgba(24, 32, seed=4)


def png(pixels: np.ndarray, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", icc_profile=icc)
    return out.getvalue()


def littlecms_srgb(pixels: np.ndarray, icc: bytes) -> np.ndarray:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    converted = ImageCms.profileToProfile(Image.fromarray(pixels), source, ImageCms.createProfile("sRGB"),
                                          outputMode="RGBA")
    assert converted is not None
    return np.asarray(converted)


def test_an_adobe_rgb_image_is_converted_to_srgb_and_says_so() -> None:
    array, notes = decode_pixels(png(PIXELS, ADOBE_RGB), "png", 32, 24, 4)
    assert np.array_equal(array, littlecms_srgb(PIXELS, ADOBE_RGB))
    assert not np.array_equal(array, PIXELS)
    assert notes == ["The image was converted from its colour profile (Adobe RGB (1998)) to sRGB."]


def test_an_srgb_image_passes_unchanged_without_a_note() -> None:
    array, notes = decode_pixels(png(PIXELS, SRGB), "png", 32, 24, 4)
    assert np.array_equal(array, PIXELS) and notes == []


def test_alpha_survives_the_conversion() -> None:
    pixels = PIXELS.copy()
    pixels[..., 3] = np.arange(24 * 32).reshape(24, 32) % 256
    array, _ = decode_pixels(png(pixels, ADOBE_RGB), "png", 32, 24, 4)
    assert np.array_equal(array[..., 3], pixels[..., 3])


def test_a_mask_keeps_its_values_whatever_profile_it_carries(tmp_path: Path) -> None:
    mask = soft_ellipse(24, 32, (8, 6, 16, 12))
    path = tmp_path / "mask.png"
    Image.fromarray(np.dstack([mask] * 3)).save(path, icc_profile=ADOBE_RGB)
    selection, notes = load_image(path, 1)
    assert np.array_equal(selection, mask) and notes == []


def test_a_broken_profile_is_named_and_the_pixels_taken_as_srgb() -> None:
    array, notes = decode_pixels(png(PIXELS, b"not a profile"), "png", 32, 24, 4)
    assert np.array_equal(array, PIXELS)
    assert len(notes) == 1 and "could not be read" in notes[0]


@pytest.fixture
def classic(tmp_path: Path) -> Underpaint:
    return Underpaint(make_settings(tmp_path), {"classic": ClassicEngine()})


def test_the_conversion_reaches_the_result_warnings(classic: Underpaint, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(PIXELS, ADOBE_RGB))
    result = classic.fill(photo, soft_ellipse(24, 32, (8, 6, 16, 12)))
    assert "The image was converted from its colour profile (Adobe RGB (1998)) to sRGB." in result.warnings
    assert result.source is not None and np.array_equal(result.source, littlecms_srgb(PIXELS, ADOBE_RGB))
