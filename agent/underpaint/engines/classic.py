"""The classic engine: content-aware fill with no model weights.

Fills by copying patches of the surroundings (OpenCV contrib's shift-map
inpainting: a graph cut over patch offsets), so texture continues into the
hole instead of being smeared across it. Shift-map is deterministic; each seed
shows it the picture mirrored, transposed and trimmed differently, which
changes the offsets it picks and so gives a different, equally plausible fill.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from underpaint.engines.base import CancelToken, EngineCapabilities, EngineError, ProgressSink, WorkItem
from underpaint.jobs.spec import Mode
from underpaint.wire.errors import ErrorCode

STEPS = 3
"""Progress steps per variant: view prepared, hole filled, result restored."""

MAX_TRIM_RATIO = 0.3
"""Seeded trimming takes at most this fraction of each side's known margin: enough
that seeds sharing an orientation still copy from different places, while most
of the surroundings stay available."""

CAPABILITIES = EngineCapabilities(
    name="classic",
    modes=frozenset({Mode.FILL, Mode.REMOVE}),
    uses_prompt=False,
    # Shift-map's cost grows quickly with size: about 1.5-2 s per variant at
    # 320 px on one CPU core. Tiny selections are worked at 128 px so patches have room.
    native_min=128,
    native_max=320,
    multiple=8,
    max_pixels=320 * 256,
    description="Content-aware fill from the surrounding pixels; needs no model weights and ignores prompts.",
)


class ClassicEngine:
    """Exemplar-based fill and object removal; works on the CPU in seconds."""

    @property
    def capabilities(self) -> EngineCapabilities:
        return CAPABILITIES

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        if work.mode not in CAPABILITIES.modes or work.image is None or work.mask is None:
            raise EngineError(ErrorCode.UNSUPPORTED_MODE, f"The classic engine cannot {work.mode} here.")
        hole = work.mask > 0
        for index, seed in enumerate(work.seeds):
            yield _fill(work.image, hole, seed, index, progress, cancel)


def _fill(
    image: np.ndarray, hole: np.ndarray, seed: int, index: int, progress: ProgressSink, cancel: CancelToken
) -> np.ndarray:
    cancel.raise_if_cancelled()
    rng = np.random.default_rng(seed)
    if not hole.any():
        filled = image.copy()
    elif hole.all():
        filled = _no_surroundings(image, rng)
    else:
        rows, cols = _trim(hole, rng)
        view_image = _orient(image[rows, cols], seed)
        view_hole = _orient(hole[rows, cols], seed)
        progress(index, 1, STEPS)
        cancel.raise_if_cancelled()
        inpainted = _inpaint(view_image, view_hole)
        progress(index, 2, STEPS)
        cancel.raise_if_cancelled()
        filled = image.copy()
        filled[rows, cols] = _unorient(inpainted, seed)
        # Shift-map may touch known pixels at thin borders; they are the source.
        filled[~hole] = image[~hole]
    progress(index, STEPS, STEPS)
    return filled


def _inpaint(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill `hole` from the rest of `image` (RGB8)."""
    if not hasattr(cv2, "xphoto"):
        # Without opencv-contrib only diffusion-based inpainting exists: smooth, but a fill.
        telea: np.ndarray = cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
        return telea
    # Shift-map's patch costs are meant for a perceptual space such as Lab.
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    lab[hole] = 0
    known = np.where(hole, np.uint8(0), np.uint8(255))
    out = np.zeros_like(lab)
    cv2.xphoto.inpaint(lab, known, out, cv2.xphoto.INPAINT_SHIFTMAP)
    rgb: np.ndarray = cv2.cvtColor(out, cv2.COLOR_Lab2RGB)
    return rgb


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


def _no_surroundings(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Everything is selected, so there is nothing to copy: the mean colour with soft seeded grain."""
    height, width = image.shape[:2]
    coarse = rng.normal(0.0, 12.0, (max(1, height // 16), max(1, width // 16), 3)).astype(np.float32)
    grain = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, 3)
    mean = image.reshape(-1, 3).mean(axis=0)
    filled: np.ndarray = np.clip(np.round(mean + grain), 0, 255).astype(np.uint8)
    return filled
