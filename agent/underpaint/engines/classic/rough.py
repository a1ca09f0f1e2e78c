"""The rough fill at the coarsest level: OpenCV contrib's shift-map, seeded by the view it is shown.

Shift-map (a graph cut over patch offsets) decides the layout well: which
region continues where, and how edges cross the hole. It is deterministic, so
each seed shows it the picture mirrored, transposed and trimmed differently,
which changes the offsets it picks and so gives a different, equally plausible
fill. It runs only at the coarsest level, where it takes a fraction of a second.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_TRIM_RATIO = 0.3
"""Seeded trimming takes at most this fraction of each side's known margin: enough
that seeds sharing an orientation still copy from different places, while most
of the surroundings stay available."""


DECOY_ROWS = 16
"""Rows of fixed noise shown to shift-map beside the image (see `_decoy`)."""
SHIFTMAP_RING = 5
"""Shift-map links the hole to the known pixels up to 4 px around it (two 2-step erosions); the decoy stays
farther away than that."""


def rough_fill(image: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """RGB8 `image` with `hole` (bool) filled from the rest; known pixels are kept."""
    if not hole.any():
        return image.copy()
    if hole.all():
        return no_surroundings(image, np.random.default_rng(seed))
    rows, cols = _trim(hole, np.random.default_rng(seed))
    inpainted = _unorient(_inpaint(_orient(image[rows, cols], seed), _orient(hole[rows, cols], seed)), seed)
    filled = image.copy()
    filled[rows, cols] = inpainted
    # Shift-map may touch known pixels at thin borders; they are the source.
    filled[~hole] = image[~hole]
    return filled


def no_surroundings(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Everything is selected, so there is nothing to copy: the mean colour with soft seeded grain."""
    height, width = image.shape[:2]
    coarse = rng.normal(0.0, 12.0, (max(1, height // 16), max(1, width // 16), 3)).astype(np.float32)
    grain = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, 3)
    mean = image.reshape(-1, 3).mean(axis=0)
    filled: np.ndarray = np.clip(np.round(mean + grain), 0, 255).astype(np.uint8)
    return filled


def _inpaint(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    # Shift-map's patch costs are meant for a perceptual space such as Lab.
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    lab[hole] = 0
    turns, rows = _decoy_side(hole)
    lab = np.rot90(lab, turns)
    height = lab.shape[0]
    shown = np.ascontiguousarray(np.concatenate([lab, _decoy(lab, rows)]))
    known = np.full(shown.shape[:2], 255, np.uint8)
    known[:height][np.rot90(hole, turns)] = 0
    out = np.zeros_like(shown)
    cv2.xphoto.inpaint(shown, known, out, cv2.xphoto.INPAINT_SHIFTMAP)
    rgb: np.ndarray = cv2.cvtColor(np.ascontiguousarray(np.rot90(out[:height], -turns)), cv2.COLOR_Lab2RGB)
    return rgb


def _decoy_side(hole: np.ndarray) -> tuple[int, int]:
    """Where the decoy goes: the quarter turns that bring the side with the widest known margin to the bottom,
    and how many rows of the image's edge to repeat before the decoy so that it stays out of the ring of
    known pixels shift-map links the hole to."""
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    # np.rot90 turns counter-clockwise: 0 keeps the bottom, 1 brings the left side there, 2 the top, 3 the right.
    margins = (height - 1 - int(rows[-1]), int(cols[0]), int(rows[0]), width - 1 - int(cols[-1]))
    turns = int(np.argmax(margins))
    return turns, max(0, SHIFTMAP_RING - margins[turns])


def _decoy(lab: np.ndarray, edge_rows: int) -> np.ndarray:
    """`edge_rows` copies of the image's last row, then DECOY_ROWS of fixed noise.

    OpenCV's shift-map takes the 60 strongest peaks of its offset histogram whether or not it found that
    many, and reads past the end of its list when a small image has fewer: the same input could then fill
    differently from one process to the next. The noise's patches match one another at random offsets,
    each a peak of its own, so the 60 always exist; being single matches, they take only the places the
    image's own offsets leave, and copies from the noise lose the graph cut to the image's own pixels."""
    noise = np.random.default_rng(0).integers(0, 256, (DECOY_ROWS, lab.shape[1], 3), dtype=np.uint8)
    return np.concatenate([np.repeat(lab[-1:], edge_rows, axis=0), noise])


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


def _orient(array: np.ndarray, seed: int) -> np.ndarray:
    """One of the 8 mirrorings/rotations, chosen by the seed's low bits."""
    if seed & 1:
        array = array[:, ::-1]
    if seed & 2:
        array = array[::-1]
    if seed & 4:
        array = array.swapaxes(0, 1)
    return np.ascontiguousarray(array)


def _unorient(array: np.ndarray, seed: int) -> np.ndarray:
    if seed & 4:
        array = array.swapaxes(0, 1)
    if seed & 2:
        array = array[::-1]
    if seed & 1:
        array = array[:, ::-1]
    return np.ascontiguousarray(array)
