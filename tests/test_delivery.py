"""Delivery presets: every built-in's file has its exact size, format, ICC profile and DPI; fit, fill and pad
place the picture as they say; a target size is met or refused; a team's folder overrides; bad files are named."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from conftest import textured_rgba
from underpaint.core import ErrorCode, RequestError, Size
from underpaint.results.delivery.colour import load_profile
from underpaint.results.delivery.library import PresetLibrary, builtin_presets, read_preset_file
from underpaint.results.delivery.preset import Preset
from underpaint.results.delivery.render import Rendered, layout, render
from underpaint.results.recipe import RECIPE_KEY

BUILTINS = sorted(builtin_presets())
PROFILE_NAMES = {"srgb": "sRGB", "display-p3": "DisplayP3 color profile", "fogra39": "ISO Coated v2 300% (basICColor)"}


@pytest.fixture(scope="module")
def large() -> np.ndarray:
    """As large as the largest built-in (A3 at 300 dpi), so no preset enlarges and none pays for it; smooth ramps,
    which encode fast."""
    across = (np.arange(3508) * 255 // 3507).astype(np.uint8)[None, :]
    down = (np.arange(4961) * 255 // 4960).astype(np.uint8)[:, None]
    ramps = np.empty((4961, 3508, 4), np.uint8)
    ramps[..., 0], ramps[..., 1], ramps[..., 2], ramps[..., 3] = across, down, across // 2 + down // 2, 255
    return ramps


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    return textured_rgba(120, 200)


def opened(out: Rendered) -> Image.Image:
    return Image.open(io.BytesIO(out.data))


def profile_of(image: Image.Image) -> str:
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))).strip()


def preset(**fields: object) -> Preset:
    return Preset.model_validate({"name": "test", "width": 100, "height": 100, "format": "png"} | fields)


def test_the_builtins_cover_web_social_app_stores_and_print() -> None:
    assert {"web-hero", "social-square", "social-portrait", "social-story", "app-store-iphone", "app-store-ipad",
            "google-play-phone", "google-play-feature", "print-a4", "print-a3"} <= set(BUILTINS)
    assert (builtin_presets()["print-a4"].width, builtin_presets()["print-a4"].height) == (2480, 3508)
    assert (builtin_presets()["app-store-iphone"].width, builtin_presets()["app-store-iphone"].height) == (1320, 2868)


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_writes_its_exact_size_format_profile_and_dpi(name: str, large: np.ndarray) -> None:
    wanted = builtin_presets()[name]
    out = render(large, wanted)
    image = opened(out)
    assert image.size == (wanted.width, wanted.height) == (out.size.width, out.size.height)
    assert image.format == {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}[wanted.format]
    assert image.info["icc_profile"] == load_profile(wanted.profile).data
    assert profile_of(image) == PROFILE_NAMES[wanted.profile]
    assert tuple(round(value) for value in image.info["dpi"]) == (wanted.dpi, wanted.dpi)
    assert image.mode == ("CMYK" if wanted.profile == "fogra39" else "RGB")
    assert out.warnings == []


def test_a_cmyk_tiff_opens_in_imagemagick_as_cmyk(tmp_path: Path, small: np.ndarray) -> None:
    path = tmp_path / "print.tif"
    path.write_bytes(render(small, preset(width=300, height=200, format="tiff", profile="fogra39", dpi=300)).data)
    identified = subprocess.run(["identify", "-format", "%[colorspace] %[resolution.x] %wx%h", str(path)],
                                capture_output=True, text=True, check=True).stdout
    assert identified == "CMYK 300 300x200"


def test_display_p3_converts_the_pixels_as_well_as_naming_the_profile() -> None:
    red = np.zeros((8, 8, 4), np.uint8)
    red[..., 0], red[..., 3] = 255, 255
    image = opened(render(red, preset(width=8, height=8, profile="display-p3")))
    r, g, b = image.getpixel((4, 4))  # type: ignore[misc]
    # sRGB red lies inside P3, so it is a less saturated P3 red (about 234, 51, 35).
    assert 225 < r < 245 and 40 < g < 60 and 25 < b < 45
    assert profile_of(image) == PROFILE_NAMES["display-p3"]


def test_a_target_size_jpeg_lands_under_its_size_at_the_best_quality_that_fits(small: np.ndarray) -> None:
    wanted = preset(width=800, height=480, format="jpeg", target_kb=60)
    out = render(small, wanted)
    assert len(out.data) <= 60 * 1024
    assert out.quality is not None and out.quality < 100
    one_better = render(small, wanted.model_copy(update={"target_kb": None, "quality": out.quality + 1}))
    assert len(one_better.data) > 60 * 1024


def test_an_unreachable_target_size_is_target_size_unreachable() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (600, 600, 4), dtype=np.uint8)
    with pytest.raises(RequestError) as refused:
        render(noise, preset(width=600, height=600, format="webp", target_kb=2))
    assert refused.value.code == ErrorCode.TARGET_SIZE_UNREACHABLE
    assert "2 KiB" in refused.value.message


def test_fill_covers_the_size_and_crops_the_overflow_at_the_anchor() -> None:
    source = Size(width=200, height=100)
    assert layout(source, preset(fit="fill")).crop == (50, 0, 150, 100)
    assert layout(source, preset(fit="fill", anchor="left")).crop == (0, 0, 100, 100)
    assert layout(source, preset(fit="fill", anchor="bottom-right")).crop == (100, 0, 200, 100)


def test_fill_at_the_same_scale_keeps_the_anchored_pixels(small: np.ndarray) -> None:
    image = opened(render(small, preset(width=120, height=120, fit="fill", anchor="right")))
    assert np.array_equal(np.asarray(image), small[:, 80:, :3])


def test_pad_fits_the_whole_image_and_fills_the_rest_with_the_pad_colour(small: np.ndarray) -> None:
    out = render(small, preset(width=200, height=200, fit="pad", pad_color="#102030", anchor="top"))
    pixels = np.asarray(opened(out))
    assert pixels.shape == (200, 200, 3)
    assert np.array_equal(pixels[:120], small[..., :3])
    assert (pixels[120:] == (0x10, 0x20, 0x30)).all()


def test_inside_keeps_the_aspect_without_padding(small: np.ndarray) -> None:
    out = render(small, preset(width=100, height=100, fit="inside"))
    assert opened(out).size == (100, 60) == (out.size.width, out.size.height)


def test_a_preset_larger_than_the_image_enlarges_it_and_says_so(small: np.ndarray) -> None:
    out = render(small, preset(width=400, height=240))
    assert opened(out).size == (400, 240)
    assert len(out.warnings) == 1 and "enlarged 2.00x" in out.warnings[0]


def test_transparency_is_flattened_onto_the_pad_colour_where_the_preset_refuses_alpha(small: np.ndarray) -> None:
    clear = small.copy()
    clear[..., 3] = 0
    kept = opened(render(clear, preset(width=200, height=120)))
    flat = opened(render(clear, preset(width=200, height=120, alpha=False, pad_color="#00ff00")))
    assert kept.mode == "RGBA" and flat.mode == "RGB"
    assert (np.asarray(flat) == (0, 255, 0)).all()


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "avif", "tiff", "psd"])
def test_every_format_writes_a_file_of_that_format_with_its_profile(fmt: str, small: np.ndarray) -> None:
    image = opened(render(small, preset(width=50, height=30, format=fmt, profile="display-p3")))
    assert (image.format or "").lower() == {"jpeg": "jpeg", "tiff": "tiff"}.get(fmt, fmt)
    assert image.size == (50, 30)
    assert image.info["icc_profile"] == load_profile("display-p3").data


def test_metadata_keep_carries_the_recipe_and_strip_does_not(small: np.ndarray) -> None:
    from builders import make_result

    recipe = make_result(1).recipe
    kept = opened(render(small, preset(), recipe))
    stripped = opened(render(small, preset(metadata="strip"), recipe))
    assert RECIPE_KEY in kept.info and RECIPE_KEY not in stripped.info


def test_the_naming_pattern_names_the_file() -> None:
    named = preset(name="hero", naming="{name}_{preset}_{width}x{height}_v{variant}", format="jpeg")
    assert named.file_name("poster", 1, 1920, 1080) == "poster_hero_1920x1080_v2.jpg"


def test_a_team_preset_overrides_a_builtin_and_adds_its_own(tmp_path: Path) -> None:
    (tmp_path / "web-hero.toml").write_text('width = 1280\nheight = 720\nformat = "webp"\nquality = 80\n')
    (tmp_path / "shop-tile.json").write_text('{"width": 600, "height": 600, "format": "jpeg"}')
    library = PresetLibrary(tmp_path)
    assert (library.get("web-hero").width, library.get("web-hero").format) == (1280, "webp")
    assert library.get("shop-tile").height == 600
    assert library.get("print-a4") == builtin_presets()["print-a4"]
    assert {"web-hero", "shop-tile", "print-a4"} <= set(library.names())


def test_an_unknown_preset_is_unknown_preset_naming_the_known_ones() -> None:
    with pytest.raises(RequestError) as refused:
        PresetLibrary(None).get("billboard")
    assert refused.value.code == ErrorCode.UNKNOWN_PRESET
    assert "web-hero" in refused.value.message


@pytest.mark.parametrize(("body", "named"), [
    ('width = 0\nheight = 10\nformat = "png"', "width"),
    ('width = 10\nheight = 10\nformat = "gif"', "format"),
    ('width = 10\nheight = 10\nformat = "png"\nfit = "stretch"', "fit"),
    ('width = 10\nheight = 10\nformat = "png"\nanchor = "middle"', "anchor"),
    ('width = 10\nheight = 10\nformat = "png"\npad_color = "white"', "pad_color"),
    ('width = 10\nheight = 10\nformat = "jpeg"\nquality = 101', "quality"),
    ('width = 10\nheight = 10\nformat = "png"\ntarget_kb = 50', "target_kb"),
    ('width = 10\nheight = 10\nformat = "jpeg"\nquality = 80\ntarget_kb = 50', "target_kb"),
    ('width = 10\nheight = 10\nformat = "png"\nprofile = "no-such.icc"', "profile"),
    ('width = 10\nheight = 10\nformat = "png"\nprofile = "fogra39"', "CMYK"),
    ('width = 10\nheight = 10\nformat = "png"\ndpi = 0', "dpi"),
    ('width = 10\nheight = 10\nformat = "png"\nmetadata = "some"', "metadata"),
    ('width = 10\nheight = 10\nformat = "png"\nnaming = "{title}"', "naming"),
    ('width = 10\nheight = 10\nformat = "png"\ncolour = "srgb"', "colour"),
    ('width = 10\nheight = 10\nformat = "png"\nname = "other"', "name"),
    ('width = 10\nheight = 10\nformat = "png"\nalpha = "maybe"', "alpha"),
    ('height = 10\nformat = "png"', "width"),
    ("width = [", "not TOML"),
])
def test_a_bad_preset_file_is_bad_preset_naming_its_field(tmp_path: Path, body: str, named: str) -> None:
    (tmp_path / "broken.toml").write_text(body)
    with pytest.raises(RequestError) as refused:
        PresetLibrary(tmp_path).get("broken")
    assert refused.value.code == ErrorCode.BAD_PRESET
    assert "broken.toml" in refused.value.message and named in refused.value.message


def test_a_profile_file_that_is_no_icc_profile_is_bad_preset(tmp_path: Path) -> None:
    (tmp_path / "fake.icc").write_text("not a profile")
    (tmp_path / "mine.json").write_text(f'{{"width": 10, "height": 10, "format": "png", '
                                        f'"profile": "{tmp_path / "fake.icc"}"}}')
    with pytest.raises(RequestError) as refused:
        read_preset_file(tmp_path / "mine.json")
    assert refused.value.code == ErrorCode.BAD_PRESET and "profile" in refused.value.message


def test_a_broken_team_file_hides_no_other_preset(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("[1, 2]")
    good, broken = PresetLibrary(tmp_path).presets()
    assert "web-hero" in {p.name for p in good}
    assert set(broken) == {"broken"}
