"""The classic engine: content-aware fill with no model weights.

Per variant: a seeded rough fill at a coarse level (shift-map), then
PatchMatch synthesis level by level up to the working size, so the hole gets
the surroundings' texture at full working resolution. It ignores prompts (the
pipeline says so in the result's warnings) and declines Generate: with no
source pixels there is nothing to continue, and a pattern made up from noise
would not be an honest "generation".
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from underpaint.core import ErrorCode, Mode
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, EngineError, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic.rough import no_surroundings, rough_fill
from underpaint.engines.classic.synthesis import covered, hole_levels, iterations, pyramid, rough_size, synthesize

CAPABILITIES = EngineCapabilities(
    name="classic",
    modes=frozenset({Mode.FILL, Mode.REMOVE, Mode.EXPAND}),
    uses_prompt=False,
    # PatchMatch cost grows with the hole's pixel count (docs/benchmarks.md has
    # the figures). Tiny selections are worked at 128 px so 7x7 patches have room.
    native_min=128,
    native_max=1024,
    # Any size will do: a context that fits is worked pixel for pixel, never resampled.
    multiple=1,
    max_pixels=1024 * 768,
    description="Content-aware fill from the surrounding pixels; needs no model weights and ignores prompts.",
)


def steps_for(work: WorkItem) -> int:
    """Progress steps per variant: the rough fill, one per EM iteration, the result."""
    if work.mask is None:
        return 2
    hole = work.mask > 0
    if not hole.any() or hole.all():
        return 2
    return 2 + sum(iterations(level) for level in range(len(hole_levels(hole))))


class ClassicEngine(ModellessEngine):
    """Exemplar-based fill, object removal and canvas expansion on the CPU."""

    @property
    def capabilities(self) -> EngineCapabilities:
        return CAPABILITIES

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        if work.mode not in CAPABILITIES.modes or work.image is None or work.mask is None:
            raise EngineError(
                ErrorCode.UNSUPPORTED_MODE,
                f"The classic engine cannot {work.mode}: it continues the pixels around a selection "
                "and has none to continue here. Use a diffusion engine.",
            )
        hole = work.mask > 0
        steps = steps_for(work)
        # The pyramid and the rough fill's input are the same for every variant: made once per job.
        start = _Start(work.image, hole) if hole.any() and not hole.all() else None
        for index, seed in enumerate(work.seeds):
            yield _variant(work.image, hole, start, seed, index, steps, progress, cancel)


class _Start:
    """What every variant of a job starts from: the pyramid, and the image and hole at the rough fill's size."""

    def __init__(self, image: np.ndarray, hole: np.ndarray) -> None:
        self.levels = pyramid(image, hole)
        size = rough_size(*self.levels[-1].hole.shape)
        self.small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        self.small_hole = covered(hole, size)


def _variant(
    image: np.ndarray, hole: np.ndarray, start: _Start | None, seed: int, index: int, steps: int,
    progress: ProgressSink, cancel: CancelToken,
) -> np.ndarray:
    cancel.raise_if_cancelled()
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        progress(index, done, steps)
        cancel.raise_if_cancelled()

    if start is None:
        filled = image.copy() if not hole.any() else no_surroundings(image, np.random.default_rng(seed))
        step()
    else:
        rough = rough_fill(start.small, start.small_hole, seed)
        step()
        made = synthesize(start.levels, rough.astype(np.float32), seed, step)
        filled = image.copy()
        filled[hole] = np.clip(np.round(made[hole]), 0, 255).astype(np.uint8)
    progress(index, steps, steps)
    return filled
