"""The composer: engine input from a planned job, and a layer from each engine image.

The layer mask is exactly 0 beyond the grown and feathered selection, and the
layer's pixels come from the engine only where that mask is above 0, so
blending a layer over its source never changes a pixel outside the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from underpaint.imaging.planner import Plan
from underpaint.jobs.spec import JobSpec, Size
from underpaint.results.layered import VariantLayer

RING_RATIO, RING_MIN = 0.06, 4
"""Width of the ring of known pixels used for colour matching, at working size."""

STD_RATIO_LIMITS = (0.5, 2.0)
"""Colour matching corrects drift; a larger contrast change means the ring is unrepresentative."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """One job's engine input and the context-sized pieces the composer needs back.

    `work_image`/`work_mask`/`ring` are at working size and None for Generate;
    `source` (RGBA8), `fill` and `layer_mask` (Gray8) cover the context.
    """

    work_image: np.ndarray | None
    work_mask: np.ndarray | None
    ring: np.ndarray | None
    source: np.ndarray | None
    fill: np.ndarray
    layer_mask: np.ndarray


def prepare(spec: JobSpec, plan: Plan) -> Prepared:
    """Crop the context, grow and feather the selection, and scale both to working size."""
    crop = plan.crop
    shape = (crop.height, crop.width)
    if spec.image is None or spec.mask is None:
        full = np.full(shape, 255, np.uint8)
        return Prepared(None, None, None, None, full, full)
    rows = slice(crop.y, crop.bottom)
    cols = slice(crop.x, crop.right)
    source = np.ascontiguousarray(spec.image[rows, cols])
    layer_mask = feathered_mask(spec.mask[rows, cols] > 0, plan.grow, plan.feather)
    # The engine creates every pixel the layer mask lets through, so the soft
    # edge blends engine pixels with the source rather than with a resampled copy.
    fill = np.where(layer_mask > 0, np.uint8(255), np.uint8(0))
    # Any working pixel touched by the fill is created: the scaled-back result covers it.
    work_mask = np.where(resize(fill, plan.working) > 0, np.uint8(255), np.uint8(0))
    return Prepared(
        work_image=resize(np.ascontiguousarray(source[..., :3]), plan.working),
        work_mask=work_mask,
        ring=_ring(work_mask),
        source=source,
        fill=fill,
        layer_mask=layer_mask,
    )


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
    rgb = resize(output, context)
    if prepared.source is not None:
        rgb = np.where(prepared.fill[..., None] > 0, rgb, prepared.source[..., :3])
    alpha = np.full((*rgb.shape[:2], 1), 255, np.uint8)
    return VariantLayer(
        index=index,
        seed=seed,
        name=name,
        bounds=plan.context,
        pixels=np.concatenate([rgb, alpha], axis=2),
        mask=prepared.layer_mask,
        visible=visible,
    )


def feathered_mask(selection: np.ndarray, grow: int, feather: int) -> np.ndarray:
    """Gray8: 255 within `grow` pixels of `selection`, easing to 0 over `feather` more, 0 beyond."""
    outside = np.where(selection, np.uint8(0), np.uint8(1))
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) - grow
    if feather == 0:
        return np.where(distance <= 0, np.uint8(255), np.uint8(0))
    t = np.clip(distance / feather, 0.0, 1.0)
    weight = 1.0 - t * t * (3.0 - 2.0 * t)  # smoothstep: no visible kink at either end of the edge
    return np.round(weight * 255.0).astype(np.uint8)


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
    """Area averaging when shrinking (no aliasing), bicubic when enlarging (no blockiness)."""
    height, width = image.shape[:2]
    if (width, height) == (size.width, size.height):
        return image.copy()
    shrinking = size.width * size.height < width * height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized: np.ndarray = cv2.resize(image, (size.width, size.height), interpolation=interpolation)
    return resized


def _ring(work_mask: np.ndarray) -> np.ndarray | None:
    """Known pixels near the mask, or None when there are none to match against."""
    created = work_mask > 0
    width = max(RING_MIN, round(max(work_mask.shape) * RING_RATIO))
    outside = np.where(created, np.uint8(0), np.uint8(1))
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ring = ~created & (distance <= width)
    return ring if ring.sum() >= 16 else None
