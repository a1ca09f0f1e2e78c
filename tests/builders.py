"""Builders for realistic test images and LayeredResults (gradients, noise, soft masks)."""

from __future__ import annotations

import numpy as np

from underpaint.core import Mode, Params, Rect, Size
from underpaint.imaging.blend import blend_masked
from underpaint.results.layered import LayeredResult, VariantLayer, group_name, layer_name
from underpaint.results.recipe import ModelRef, Recipe, pixels_sha256


def gradient_rgba(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Opaque RGBA8: horizontal and vertical ramps plus a little noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 4), dtype=np.uint8)
    image[..., 0] = (xs * 255 // max(width - 1, 1)).astype(np.uint8)
    image[..., 1] = (ys * 255 // max(height - 1, 1)).astype(np.uint8)
    image[..., 2] = rng.integers(0, 256, (height, width), dtype=np.uint8)
    image[..., 3] = 255
    return image


def noise_rgba(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    image[..., 3] = 255
    return image


def soft_ellipse_mask(height: int, width: int, feather: float = 0.25) -> np.ndarray:
    """Gray8 ellipse filling the box: 255 inside, a linear ramp over `feather` of the radius, 0 in corners."""
    ys, xs = np.mgrid[0:height, 0:width]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    r = np.sqrt(((ys - cy) / (height / 2)) ** 2 + ((xs - cx) / (width / 2)) ** 2)
    alpha = np.clip((1.0 - r) / feather, 0.0, 1.0)
    return np.round(alpha * 255).astype(np.uint8)


REGION = Rect(x=120, y=80, width=96, height=64)
"""Region the client sent, at a nonzero document offset."""
VARIANT_BOUNDS = Rect(x=140, y=92, width=48, height=36)
"""Variant layers' bounds in document coordinates: (20, 12) inside the region."""


def make_result(
    variants: int = 3,
    *,
    region: Rect = REGION,
    bounds: Rect = VARIANT_BOUNDS,
    with_source: bool = True,
    prompt: str = "a red kite over hills",
    visible_index: int = 0,
) -> LayeredResult:
    source = gradient_rgba(region.height, region.width) if with_source else None
    mask = soft_ellipse_mask(bounds.height, bounds.width)
    selection = None
    if with_source:
        # The layers' mask where it lies inside the region (a layer may reach past it).
        selection = np.zeros((region.height, region.width), np.uint8)
        clip = bounds.intersect(region)
        selection[clip.y - region.y:clip.bottom - region.y, clip.x - region.x:clip.right - region.x] = mask[
            clip.y - bounds.y:clip.bottom - bounds.y, clip.x - bounds.x:clip.right - bounds.x]
    params = Params(prompt=prompt, variants=variants, seed=1234)
    seeds = params.seeds()
    layers = [
        VariantLayer(
            index=i,
            seed=seed,
            name=layer_name(prompt, i, seed),
            bounds=bounds,
            pixels=noise_rgba(bounds.height, bounds.width, seed),
            mask=mask,
            visible=i == visible_index,
        )
        for i, seed in enumerate(seeds)
    ]
    mode = Mode.FILL if with_source else Mode.GENERATE
    recipe = Recipe(
        engine="test",
        model=ModelRef(name="tiny", sha256="0" * 64),
        mode=mode,
        params=params,
        seeds=seeds,
        document=Size(width=region.right + 40, height=region.bottom + 30),
        region=region,
        image_sha256=pixels_sha256(source),
        mask_sha256=pixels_sha256(selection),
    )
    return LayeredResult(group_name=group_name(prompt, mode), source=source, layers=layers, recipe=recipe,
                         selection=selection)


def composite_of(result: LayeredResult, layer: VariantLayer) -> np.ndarray:
    """The source with `layer` blended in through its mask, as Photoshop would show it."""
    assert result.source is not None
    composite = result.source.copy()
    x, y = layer.bounds.x - result.region.x, layer.bounds.y - result.region.y
    window = composite[y : y + layer.bounds.height, x : x + layer.bounds.width]
    window[...] = blend_masked(window, layer.pixels, layer.mask)
    return composite
