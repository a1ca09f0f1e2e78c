"""The rough fill at the coarsest level: a shift-map over the image's dominant offsets, seeded by its crop.

Shift-map decides the layout well: which region continues where, and how
edges cross the hole. Each seed crops the surroundings differently, prices the
offsets differently and tries them in a different order, which changes the
offsets found and picked and so gives a different, equally plausible fill.
It runs only at the coarsest level, where it takes a fraction of a second.
"""

from __future__ import annotations

import cv2
import numpy as np

from underpaint.engines.classic.offsets import dominant_offsets
from underpaint.engines.classic.shiftmap import ShiftMap

MAX_TRIM_RATIO = 0.3
"""Seeded trimming takes at most this fraction of each side's known margin: enough
that seeds still copy from different places, while most of the surroundings stay available."""
OFFSETS = 40
"""Dominant offsets the shift-map chooses from."""
PRICE = 1000.0
"""Each seed prices every offset at up to this much per pixel copied along it, at random: among offsets
that fit about as well (the equal periods of a repeating pattern), each seed prefers its own, so
variants differ where the picture allows. On tests/test_classic_engine.py's striped texture, 12 seeds
gave 66 pairs of fills all at least 10 grey levels apart (as OpenCV's shift-map did); at 300, 3 pairs
were nearly the same fill. bench/quality.py's figures held (docs/benchmarks.md)."""


def rough_fill(image: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """RGB8 `image` with `hole` (bool) filled from the rest; known pixels are kept."""
    if not hole.any():
        return image.copy()
    if hole.all():
        return no_surroundings(image, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    rows, cols = _trim(hole, rng)
    filled = image.copy()
    filled[rows, cols] = _shift_fill(image[rows, cols], hole[rows, cols], rng)
    return filled


def no_surroundings(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Everything is selected, so there is nothing to copy: the mean colour with soft seeded grain."""
    height, width = image.shape[:2]
    coarse = rng.normal(0.0, 12.0, (max(1, height // 16), max(1, width // 16), 3)).astype(np.float32)
    grain = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, 3)
    mean = image.reshape(-1, 3).mean(axis=0)
    filled: np.ndarray = np.clip(np.round(mean + grain), 0, 255).astype(np.uint8)
    return filled


def _shift_fill(image: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Seams are weighed in Lab, where a colour difference is about what the eye sees.
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab).astype(np.float32)
    found = np.concatenate([dominant_offsets(lab, hole, OFFSETS), _clearing_offsets(hole)])
    # Each offset once, strongest first.
    offsets = found[np.sort(np.unique(found, axis=0, return_index=True)[1])]
    energy = ShiftMap(lab, hole, offsets, rng.uniform(0.0, PRICE, len(offsets)))
    labels = energy.solve(rng.permutation(len(offsets)))
    filled = image.copy()
    ys, xs = energy.ys, energy.xs
    copied = labels >= 0
    filled[ys[copied], xs[copied]] = image[ys[copied] + offsets[labels[copied], 0],
                                           xs[copied] + offsets[labels[copied], 1]]
    if not copied.all():
        # No offset reaches known pixels from here (a hole spanning nearly the whole crop): diffuse inwards.
        left = np.zeros(hole.shape, np.uint8)
        left[ys[~copied], xs[~copied]] = 255
        filled = cv2.inpaint(filled, left, 3, cv2.INPAINT_TELEA)
    return filled


def _clearing_offsets(hole: np.ndarray) -> np.ndarray:
    """Shifts by the hole's height or width up, down, left and right: from any hole pixel at least one
    reads outside the hole's box wherever the image has room, so few pixels are left without a label."""
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    tall, wide = int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1
    return np.array([(-tall, 0), (tall, 0), (0, -wide), (0, wide)], np.int64)


def _trim(hole: np.ndarray, rng: np.random.Generator) -> tuple[slice, slice]:
    """A seeded crop that keeps the whole hole: each side loses part of its known margin."""
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape

    def cut(margin: int) -> int:
        return int(rng.integers(0, int(margin * MAX_TRIM_RATIO) + 1))

    top, bottom = cut(int(rows[0])), cut(height - 1 - int(rows[-1]))
    left, right = cut(int(cols[0])), cut(width - 1 - int(cols[-1]))
    return slice(top, height - bottom), slice(left, width - right)
