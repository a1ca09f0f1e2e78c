"""flatten_variant and PNG files that carry their recipe."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders import REGION, VARIANT_BOUNDS, gradient_rgba, make_result
from underpaint.core import Rect
from underpaint.imaging.blend import blend_masked
from underpaint.results.png import encode_png, flatten_variant, read_png_recipe
from underpaint.results.recipe import RECIPE_KEY

_X, _Y = VARIANT_BOUNDS.x - REGION.x, VARIANT_BOUNDS.y - REGION.y
_INSIDE = np.s_[_Y : _Y + VARIANT_BOUNDS.height, _X : _X + VARIANT_BOUNDS.width]


def test_flatten_is_the_region_size_rgba8() -> None:
    flat = flatten_variant(make_result(), 1)
    assert (flat.shape, flat.dtype) == ((REGION.height, REGION.width, 4), np.uint8)


def test_flatten_blends_the_variant_over_the_source_through_its_mask() -> None:
    result = make_result()
    assert result.source is not None
    variant = result.layers[1]
    expected = result.source.copy()
    expected[_INSIDE] = blend_masked(result.source[_INSIDE], variant.pixels, variant.mask)
    np.testing.assert_array_equal(flatten_variant(result, 1), expected)


def test_flatten_leaves_pixels_outside_the_mask_bit_identical() -> None:
    result = make_result()
    assert result.source is not None
    flat = flatten_variant(result, 0)
    outside = np.ones(flat.shape[:2], dtype=bool)
    outside[_INSIDE] = result.layers[0].mask == 0
    np.testing.assert_array_equal(flat[outside], result.source[outside])


def test_flatten_shows_the_variant_where_the_mask_is_full() -> None:
    result = make_result()
    flat = flatten_variant(result, 2)[_INSIDE]
    full = result.layers[2].mask == 255
    assert full.any()
    np.testing.assert_array_equal(flat[full], result.layers[2].pixels[full])


def test_flatten_of_a_generate_job_is_over_opaque_white() -> None:
    result = make_result(with_source=False)
    flat = flatten_variant(result, 0)
    assert (flat[0, 0] == 255).all()
    assert (flat[..., 3] == 255).all()


def test_flatten_clips_a_layer_that_reaches_past_the_region() -> None:
    bounds = Rect(x=REGION.right - 10, y=REGION.bottom - 8, width=30, height=20)
    result = make_result(bounds=bounds)
    flat = flatten_variant(result, 0)
    assert result.source is not None
    np.testing.assert_array_equal(flat[:-8], result.source[:-8])
    np.testing.assert_array_equal(flat[-8:, :-10], result.source[-8:, :-10])


def test_flatten_rejects_a_source_of_the_wrong_size() -> None:
    result = dataclasses.replace(make_result(), source=gradient_rgba(10, 10))
    with pytest.raises(ValueError, match="source"):
        flatten_variant(result, 0)


def test_encode_png_keeps_the_pixels() -> None:
    rgba = flatten_variant(make_result(), 0)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgba, None))))
    np.testing.assert_array_equal(decoded, rgba)


def test_recipe_round_trips_through_png_bytes() -> None:
    result = make_result(prompt="drachen über Hügel 🪁")
    assert read_png_recipe(encode_png(flatten_variant(result, 0), result.recipe)) == result.recipe


def test_recipe_round_trips_through_a_png_file(tmp_path: Path) -> None:
    result = make_result()
    path = tmp_path / "variant-1.png"
    path.write_bytes(encode_png(flatten_variant(result, 0), result.recipe))
    assert read_png_recipe(path) == result.recipe


def test_recipe_is_an_itxt_chunk_under_the_recipe_key() -> None:
    result = make_result()
    data = encode_png(flatten_variant(result, 0), result.recipe)
    marker = data.index(b"iTXt" + RECIPE_KEY.encode() + b"\0")
    assert marker < data.index(b"IDAT"), (
        "the recipe should precede the pixels so readers find it without decoding"
    )


def test_png_without_a_recipe_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=RECIPE_KEY):
        read_png_recipe(encode_png(flatten_variant(make_result(), 0), None))


def test_non_png_is_a_value_error() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="JPEG")
    with pytest.raises(ValueError, match="not a PNG"):
        read_png_recipe(out.getvalue())


def test_encode_png_rejects_non_rgba8() -> None:
    with pytest.raises(ValueError, match="RGBA8"):
        encode_png(np.zeros((4, 4, 3), dtype=np.uint8), None)
