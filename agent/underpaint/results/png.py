"""Flattened variants as PNG files that carry their recipe.

Flattening is defined here once and reused by the PSD writer for its merged
composite, so a PNG of variant i and the PSD with variant i visible show the
same pixels.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from underpaint.imaging.blend import blend_masked
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.recipe import RECIPE_KEY, Recipe

WHITE = (255, 255, 255, 255)


def base_image(result: LayeredResult) -> np.ndarray:
    """The pixels under the variants: the source, or opaque white for Generate jobs.

    White rather than transparent because it is what the PSD's background
    layer holds and what a Photoshop document starts with, so the PNG of a
    Generate variant matches the PSD instead of showing the mask as holes.
    """
    region = result.region
    if result.source is None:
        return np.full((region.height, region.width, 4), WHITE, dtype=np.uint8)
    expected = (region.height, region.width, 4)
    if result.source.shape != expected or result.source.dtype != np.uint8:
        raise ValueError(f"source must be RGBA8 {expected}, got {result.source.dtype} {result.source.shape}")
    return result.source.copy()


def composite_layers(result: LayeredResult, layers: Iterable[VariantLayer]) -> np.ndarray:
    """Composite `layers` (bottom to top) over the base, clipped to the region."""
    region = result.region
    canvas = base_image(result)
    for layer in layers:
        if layer.pixels.shape != (layer.bounds.height, layer.bounds.width, 4):
            raise ValueError(f"layer {layer.name!r}: pixels {layer.pixels.shape} do not match {layer.bounds}")
        if layer.mask.shape != layer.pixels.shape[:2]:
            raise ValueError(f"layer {layer.name!r}: mask {layer.mask.shape} does not match its pixels")
        clip = layer.bounds.intersect(region)
        if clip.area == 0:
            continue
        src = np.s_[
            clip.y - layer.bounds.y : clip.bottom - layer.bounds.y,
            clip.x - layer.bounds.x : clip.right - layer.bounds.x,
        ]
        dst = np.s_[clip.y - region.y : clip.bottom - region.y, clip.x - region.x : clip.right - region.x]
        pixels = layer.pixels[src]
        # Photoshop's effective opacity is mask x layer alpha; folding the alpha
        # into the weight and blending an opaque layer makes the result alpha
        # come out as Porter-Duff "over" (exact for an opaque base).
        weight = (layer.mask[src].astype(np.uint32) * pixels[..., 3] + 127) // 255
        opaque = pixels.copy()
        opaque[..., 3] = 255
        canvas[dst] = blend_masked(canvas[dst], opaque, weight.astype(np.uint8))
    return canvas


def flatten_variant(result: LayeredResult, index: int) -> np.ndarray:
    """RGBA8 image of the region with `result.layers[index]` alone over the base.

    For Generate jobs (no source) the base is opaque white, see `base_image`.
    """
    return composite_layers(result, [result.layers[index]])


def flatten_visible(result: LayeredResult) -> np.ndarray:
    """What the PSD shows: visible variants over the base, first variant on top."""
    return composite_layers(result, [layer for layer in reversed(result.layers) if layer.visible])


def encode_png(rgba: np.ndarray, recipe: Recipe | None) -> bytes:
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected an RGBA8 (H, W, 4) array, got {rgba.dtype} {rgba.shape}")
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        # iTXt because recipes hold prompts, which are UTF-8; tEXt is Latin-1.
        info.add_itxt(RECIPE_KEY, recipe.to_json())
    out = io.BytesIO()
    # Level 1: results are encoded while the client waits; size matters less.
    Image.fromarray(rgba, "RGBA").save(out, format="PNG", pnginfo=info, compress_level=1)
    return out.getvalue()


def read_png_recipe(data_or_path: bytes | Path) -> Recipe:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with Image.open(source) as image:
        if not isinstance(image, PngImagePlugin.PngImageFile):
            raise ValueError(f"not a PNG file: {data_or_path if isinstance(data_or_path, Path) else 'bytes'}")
        # `info` holds the chunks before the pixels, where we write the recipe;
        # `text` would decode the whole image to look for trailing chunks.
        text = image.info.get(RECIPE_KEY)
        if text is None:
            text = image.text.get(RECIPE_KEY)
    if text is None:
        raise ValueError(f"PNG has no {RECIPE_KEY!r} text chunk; it was not written by Underpaint")
    return Recipe.from_json(str(text))
