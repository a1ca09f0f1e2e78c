"""The composer: engine input from a planned job, and a layer from each engine image.

The layer mask is exactly 0 beyond the grown and feathered selection, and the
layer's pixels come from the engine only where that mask is above 0, so
blending a layer over its source never changes a pixel outside the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from underpaint.core import JobSpec, Rect, Size
from underpaint.imaging.planner import Plan
from underpaint.results.layered import VariantLayer

RING_RATIO, RING_MIN = 0.06, 4
"""Width of the ring of known pixels used for colour matching, at working size."""

AREA_BELOW = 2 / 3
"""Scale factor below which resizing averages areas instead of interpolating."""

STD_RATIO_LIMITS = (0.5, 2.0)
"""Colour matching corrects drift; a larger contrast change means the ring is unrepresentative."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """One job's engine input and the context-sized pieces the composer needs back.

    `work_image`/`work_mask`/`ring` are at working size and None for Generate;
    `source` (RGBA8, a view into the job's image), `fill` and `layer_mask` (Gray8) cover the context.
    """

    work_image: np.ndarray | None
    work_mask: np.ndarray | None
    ring: np.ndarray | None
    source: np.ndarray | None
    fill: np.ndarray
    layer_mask: np.ndarray


def prepare(spec: JobSpec, plan: Plan) -> Prepared:
    """Crop the context, grow and feather the selection, and scale both to working size.

    Nothing larger than the context is ever copied, and nothing wider than one
    byte a pixel is made at context size, so a 6000x4000 selection in a
    12000x8000 document costs a few bytes per context pixel.
    """
    crop = plan.crop
    shape = (crop.height, crop.width)
    if spec.image is None or spec.mask is None:
        full = np.full(shape, 255, np.uint8)
        return Prepared(None, None, None, None, full, full)
    rows = slice(crop.y, crop.bottom)
    cols = slice(crop.x, crop.right)
    source = spec.image[rows, cols]
    layer_mask = feathered_mask(spec.mask[rows, cols] > 0, plan.grow, plan.feather)
    # The engine creates every pixel the layer mask lets through, so the soft
    # edge blends engine pixels with the source rather than with a resampled copy.
    fill = np.where(layer_mask > 0, np.uint8(255), np.uint8(0))
    # Any working pixel touched by the fill is created: the scaled-back result covers it.
    work_mask = np.where(resize(fill, plan.working) > 0, np.uint8(255), np.uint8(0))
    return Prepared(
        work_image=np.ascontiguousarray(at_working_size(spec.image, plan)[..., :3]),
        work_mask=work_mask,
        ring=_ring(work_mask),
        source=source,
        fill=fill,
        layer_mask=layer_mask,
    )


def at_working_size(image: np.ndarray, plan: Plan) -> np.ndarray:
    """The context of `image` (which covers the job's region) resized to working size: what the engine sees of
    the source, and of each control image the same way."""
    crop = plan.crop
    return resize(image[crop.y : crop.bottom, crop.x : crop.right], plan.working)


def compose(
    plan: Plan,
    prepared: Prepared,
    output: np.ndarray,
    *,
    index: int,
    seed: int,
    name: str,
    visible: bool,
    color_match: bool,
) -> VariantLayer:
    """Turn one engine image (RGB8, working size) into a layer covering the context."""
    if color_match and prepared.work_image is not None and prepared.ring is not None:
        output = match_colour(output, prepared.work_image, prepared.ring)
    context = Size(width=plan.context.width, height=plan.context.height)
    if prepared.source is None:
        alpha = np.full((context.height, context.width, 1), 255, np.uint8)
        pixels = np.concatenate([resize(output, context), alpha], axis=2)
    else:
        # Outside the fill the layer is the source, alpha included; inside, engine pixels, opaque.
        pixels = prepared.source.copy()
        box = _bounds(prepared.fill)
        if box is not None:
            window = pixels[box.y : box.bottom, box.x : box.right]
            created = prepared.fill[box.y : box.bottom, box.x : box.right] > 0
            # copyto with `where`, not boolean indexing, which would build 16 bytes of indices a pixel.
            np.copyto(window[..., :3], resize_window(output, context, box), where=created[..., None])
            np.copyto(window[..., 3], np.uint8(255), where=created)
    return VariantLayer(
        index=index,
        seed=seed,
        name=name,
        bounds=plan.context,
        pixels=pixels,
        mask=prepared.layer_mask,
        visible=visible,
    )


def feathered_mask(selection: np.ndarray, grow: int, feather: int) -> np.ndarray:
    """Gray8: 255 within `grow` pixels of `selection`, easing to 0 over `feather` more, 0 beyond."""
    mask = np.zeros(selection.shape, np.uint8)
    box = _bounds(selection, grow + feather + 1)
    if box is None:
        return mask
    # Distances are only needed within reach of the selection: the context around it may be far larger.
    window = (slice(box.y, box.bottom), slice(box.x, box.right))
    outside = np.where(selection[window], np.uint8(0), np.uint8(1))
    distance: np.ndarray = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    distance -= grow
    if feather == 0:
        mask[window] = np.where(distance <= 0, np.uint8(255), np.uint8(0))
        return mask
    # Smoothstep (no visible kink at either end of the edge), in place: two float32 planes at most.
    t = distance
    t /= feather
    np.clip(t, 0.0, 1.0, out=t)
    weight = t * np.float32(-2.0)
    weight += np.float32(3.0)
    weight *= t
    weight *= t
    np.subtract(np.float32(1.0), weight, out=weight)
    weight *= np.float32(255.0)
    mask[window] = np.rint(weight, out=weight)
    return mask


def match_colour(output: np.ndarray, reference: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Shift `output`'s per-channel mean and spread on `ring` to `reference`'s there.

    Both are compared at working size, so resampling blurs them alike and only
    the engine's own colour drift is corrected.
    """
    out = output.astype(np.float32)
    ref = reference[ring].astype(np.float32)
    got = out[ring]
    scale = np.clip(ref.std(axis=0) / np.maximum(got.std(axis=0), 1e-3), *STD_RATIO_LIMITS)
    corrected = (out - got.mean(axis=0)) * scale + ref.mean(axis=0)
    matched: np.ndarray = np.clip(np.round(corrected), 0, 255).astype(np.uint8)
    return matched


def resize(image: np.ndarray, size: Size) -> np.ndarray:
    """Area averaging when shrinking by more than AREA_BELOW (no aliasing), bicubic otherwise.

    Near 1:1, area averaging smears each pixel over two and halves fine grain;
    bicubic keeps it, and aliasing only matters when shrinking a lot.
    """
    height, width = image.shape[:2]
    if (width, height) == (size.width, size.height):
        return image.copy()
    shrinking = min(size.width / width, size.height / height) < AREA_BELOW
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized: np.ndarray = cv2.resize(image, (size.width, size.height), interpolation=interpolation)
    return resized


def resize_window(image: np.ndarray, size: Size, box: Rect) -> np.ndarray:
    """`box` of `resize(image, size)`, computed without making the whole enlarged image."""
    height, width = image.shape[:2]
    sx, sy = width / size.width, height / size.height
    if min(1 / sx, 1 / sy) < AREA_BELOW:
        # Shrinking a lot (tiny contexts): the whole resize is small anyway.
        return resize(image, size)[box.y : box.bottom, box.x : box.right]
    # cv2.resize samples destination pixel x at source (x + 0.5) * scale - 0.5; the same map, shifted to the box.
    matrix = np.array([[sx, 0, (box.x + 0.5) * sx - 0.5], [0, sy, (box.y + 0.5) * sy - 0.5]], np.float64)
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    window: np.ndarray = cv2.warpAffine(
        image, matrix, (box.width, box.height), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    return window


def _bounds(mask: np.ndarray, margin: int = 0) -> Rect | None:
    """Bounds of the nonzero pixels grown by `margin`, clipped to the mask; None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    y0, x0 = max(0, int(rows[0]) - margin), max(0, int(cols[0]) - margin)
    y1, x1 = min(height, int(rows[-1]) + 1 + margin), min(width, int(cols[-1]) + 1 + margin)
    return Rect(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def _ring(work_mask: np.ndarray) -> np.ndarray | None:
    """Known pixels near the mask, or None when there are none to match against."""
    created = work_mask > 0
    width = max(RING_MIN, round(max(work_mask.shape) * RING_RATIO))
    outside = np.where(created, np.uint8(0), np.uint8(1))
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ring = ~created & (distance <= width)
    return ring if ring.sum() >= 16 else None
