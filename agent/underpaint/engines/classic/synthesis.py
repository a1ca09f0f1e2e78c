"""Coarse-to-fine exemplar synthesis: a rough fill made sharp with PatchMatch, level by level.

A rough fill at the coarsest level fixes the layout (where edges and regions
continue); each finer level starts from the level below, scaled up, and
rebuilds the hole from real patches of the surroundings at that resolution
(expectation-maximisation over PatchMatch fields, Wexler et al. 2007). So the
fill ends with the texture of the working size, not a blur of a small one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from underpaint.engines.classic import patchmatch
from underpaint.engines.classic.patchmatch import RADIUS

COARSE_SIDE = 160
"""Long side of the coarsest level, where PatchMatch starts from the rough fill."""

ROUGH_SIDE = 112
"""Long side at most of the rough fill. The layout it decides survives the coarsest level's
PatchMatch, which adds the detail back; bench/quality.py's figures were better from 112 px than
from the coarsest level itself (texture 0.82 against 0.87 off the original's, seeds 0-2)."""

HOLE_BOUND = 1600
"""Hole pixels at most at the coarsest level, where PatchMatch searches the whole image and the
rough fill's graph cut runs: past COARSE_SIDE the pyramid halves on while the hole is larger, and
the extra level rebuilds the detail. Most of the large holes' speed-up in docs/benchmarks.md, at
the same quality figures; a 1000-pixel bound lost texture."""

BAND = 16
"""Width (px) of the hole's edge band where the seam correction follows the error closely."""

ITERATIONS_COARSE, ITERATIONS_FINE = 5, 3
"""EM iterations per level: more where they are cheap and the layout settles, fewer at the top."""

CONVERGED = 1.0
"""Mean change (grey levels per channel) of the hole in one EM iteration under which a level
stops early. bench/quality.py's fills change by 2-15 in a level's first iteration and fall below
1 after two to four; stopping there left both quality figures within noise (seeds 0-2)."""

PASSES = 2
"""PatchMatch sweeps per EM iteration (one each way): the field also carries over between iterations."""

PASSES_FINE = 1
"""Sweeps per EM iteration at the working size, whose field starts from the level below, already good."""

REACH = 4 * (2 * RADIUS + 1)
"""Random search reach in pixels at levels that inherit the coarser level's field: it only
needs polishing there (the coarsest level searches the whole image)."""


@dataclass(frozen=True, eq=False)
class Level:
    image: np.ndarray
    """float32 (h, w, 3); hole pixels are not to be read."""
    hole: np.ndarray
    """bool (h, w): True where pixels are made."""


def hole_levels(hole: np.ndarray) -> list[np.ndarray]:
    """The hole at each level from the working size down, halving while the long side is over
    COARSE_SIDE or the hole has over HOLE_BOUND pixels, until the short side is too small for
    patches to see structure. Any hole pixel under a smaller pixel makes it a hole pixel."""
    holes = [hole]
    while min(holes[-1].shape) >= 4 * (2 * RADIUS + 1) and (
        max(holes[-1].shape) > COARSE_SIDE or int(holes[-1].sum()) > HOLE_BOUND
    ):
        height, width = holes[-1].shape
        holes.append(covered(holes[-1], (max(1, round(width / 2)), max(1, round(height / 2)))))
    return holes


def pyramid(image: np.ndarray, hole: np.ndarray) -> list[Level]:
    """The levels of `hole_levels`, the image area-averaged."""
    levels = [Level(image.astype(np.float32), hole)]
    for small_hole in hole_levels(hole)[1:]:
        small = cv2.resize(levels[-1].image, small_hole.shape[::-1], interpolation=cv2.INTER_AREA)
        levels.append(Level(small, small_hole))
    return levels


def rough_size(height: int, width: int) -> tuple[int, int]:
    """(width, height) of the rough fill for a coarsest level of (height, width): at most ROUGH_SIDE long."""
    scale = min(1.0, ROUGH_SIDE / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def covered(hole: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`hole` at (width, height) `size`: any hole pixel under a smaller pixel makes it a hole pixel,
    so the selected object never leaks into the fill."""
    return np.asarray(cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA)) > 0


def iterations(level: int) -> int:
    """EM iterations at pyramid `level` (0 is the working size)."""
    return ITERATIONS_FINE if level == 0 else ITERATIONS_COARSE


def synthesize(
    levels: list[Level],
    rough: np.ndarray,
    seed: int,
    step: Callable[[], None],
) -> np.ndarray:
    """Refine `rough` (float32, the coarsest level's size, hole filled) up to `levels[0]`.

    Calls `step` after each EM iteration (for progress and cancel).
    """
    estimate: np.ndarray = rough.astype(np.float32)
    offsets: np.ndarray | None = None
    for index in range(len(levels) - 1, -1, -1):
        level = levels[index]
        if estimate.shape[:2] != level.hole.shape:
            estimate = cv2.resize(estimate, level.hole.shape[::-1], interpolation=cv2.INTER_LINEAR)
        estimate[~level.hole] = level.image[~level.hole]
        estimate, offsets = _refine_level(level, estimate, offsets, seed + 7919 * index, index, step)
    return estimate


def _refine_level(
    level: Level, estimate: np.ndarray, offsets: np.ndarray | None, seed: int, index: int, step: Callable[[], None]
) -> tuple[np.ndarray, np.ndarray | None]:
    height, width = level.hole.shape
    targets, valid = _targets(level.hole), _sources(level.hole)
    ty, tx = (a.astype(np.int64) for a in np.nonzero(targets))
    vy, vx = (a.astype(np.int64) for a in np.nonzero(valid))
    hy, hx = (a.astype(np.int64) for a in np.nonzero(level.hole))
    if ty.size == 0 or vy.size == 0:
        # Nothing to copy from at this level (the hole is almost everything): keep the rough fill.
        for _ in range(iterations(index)):
            step()
        return estimate, None
    patchmatch.use_threads_for(ty.size)
    starts = patchmatch.bands(ty)
    # A level that inherits a field only needs to search near it; the coarsest searches everywhere.
    reach = max(height, width) if offsets is None else REACH
    passes = PASSES if index else PASSES_FINE
    nnf = np.zeros((height, width, 2), np.int64)
    patchmatch.random_field(nnf, ty, tx, vy, vx, seed)
    cost = np.zeros((height, width), np.float32)
    if offsets is not None:
        _inherit(nnf, offsets, ty, tx, valid)
        # Rebuild the hole from the inherited field at this level's resolution before matching:
        # matched against the blurry upscale, PatchMatch would favour flat patches and lose the texture.
        patchmatch.vote(estimate, level.image, nnf, cost, level.hole, targets, hy, hx, RADIUS, np.inf)
    for iteration in range(iterations(index)):
        patchmatch.score(nnf, cost, estimate, level.image, ty, tx, RADIUS)
        patchmatch.improve(nnf, cost, estimate, level.image, valid, targets, ty, tx, starts, RADIUS, passes,
                           seed + iteration, reach)
        sigma2 = max(float(np.percentile(cost[ty, tx], 75)), 1.0)
        before = estimate[hy, hx]
        patchmatch.vote(estimate, level.image, nnf, cost, level.hole, targets, hy, hx, RADIUS, sigma2)
        step()
        if float(np.abs(estimate[hy, hx] - before).mean()) < CONVERGED:
            # The fill has settled: the remaining iterations would move it by less than a grey level.
            for _ in range(iteration + 1, iterations(index)):
                step()
            break
    if index == 0:
        patchmatch.score(nnf, cost, estimate, level.image, ty, tx, RADIUS)
        patchmatch.improve(nnf, cost, estimate, level.image, valid, targets, ty, tx, starts, RADIUS, passes,
                           seed - 1, reach)
        patchmatch.copy_centres(estimate, level.image, nnf, level.hole, targets)
        estimate[level.hole] += _membrane(*patchmatch.boundary_error(level.image, nnf, level.hole, ty, tx, RADIUS),
                                          level.hole)[level.hole]
    ys, xs = np.mgrid[0:height, 0:width]
    shift = nnf - np.stack([ys, xs], axis=-1)
    shift[~targets] = 0
    return estimate, shift


def _targets(hole: np.ndarray) -> np.ndarray:
    """Patch centres (away from the border) whose patch touches the hole."""
    size = 2 * RADIUS + 1
    touched = np.asarray(cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8))) > 0
    targets: np.ndarray = touched & _interior(hole.shape)
    return targets


def _sources(hole: np.ndarray) -> np.ndarray:
    """Patch centres whose whole patch is known."""
    size = 2 * RADIUS + 1
    touched = np.asarray(cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8))) > 0
    sources: np.ndarray = ~touched & _interior(hole.shape)
    return sources


def _interior(shape: tuple[int, ...]) -> np.ndarray:
    inside = np.zeros(shape[:2], bool)
    inside[RADIUS : shape[0] - RADIUS, RADIUS : shape[1] - RADIUS] = True
    return inside


def _inherit(nnf: np.ndarray, offsets: np.ndarray, ty: np.ndarray, tx: np.ndarray, valid: np.ndarray) -> None:
    """Start from the coarser level's field, its shifts scaled up: neighbouring patches stay coherent."""
    height, width = valid.shape
    ry, rx = height / offsets.shape[0], width / offsets.shape[1]
    py = np.minimum((ty / ry).astype(np.int64), offsets.shape[0] - 1)
    px = np.minimum((tx / rx).astype(np.int64), offsets.shape[1] - 1)
    cy = ty + np.round(offsets[py, px, 0] * ry).astype(np.int64)
    cx = tx + np.round(offsets[py, px, 1] * rx).astype(np.int64)
    inside = (cy >= 0) & (cy < height) & (cx >= 0) & (cx < width)
    keep = inside.copy()
    keep[inside] = valid[cy[inside], cx[inside]]
    nnf[ty[keep], tx[keep], 0] = cy[keep]
    nnf[ty[keep], tx[keep], 1] = cx[keep]


def _membrane(error: np.ndarray, known: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The seam error spread smoothly over the hole (a healing-brush correction).

    Copied patches can be a shade off the surroundings; adding this smooth
    field, equal to the error at the edge and fading inside, closes the step
    without touching the texture. In the BAND px along the edge, where the
    blend's soft edge lies, Telea follows the error closely (a blur of it
    leaves part of the step: bench/quality.py's seam figure rose from 0.26 to
    0.30 off 1); deeper in, a push-pull field carries it on, smooth, at a few
    image passes where Telea over the whole hole walked every pixel.
    """
    rows, cols = _around(hole, 2 * RADIUS)
    inner, ring = hole[rows, cols], known[rows, cols]
    deep = cv2.erode(inner.astype(np.uint8), np.ones((2 * BAND + 1, 2 * BAND + 1), np.uint8)) > 0
    # Telea reads the ring's error on one side of the band and the push-pull field on the other.
    given = np.where(deep[..., None], _push_pull(error[rows, cols], ring), error[rows, cols])
    band = np.where(inner & ~deep, np.uint8(255), np.uint8(0))
    spread = np.zeros_like(error)
    for c in range(3):
        spread[rows, cols, c] = cv2.inpaint(np.ascontiguousarray(given[..., c]), band, 5, cv2.INPAINT_TELEA)
    return spread


def _push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`values` (h, w, 3) known where `known`, filled everywhere by push-pull (Gortler et al. 1996).

    Each coarser level averages the known values, weighted by how much of
    each pixel is known; going back up, a pixel keeps its own average as far
    as it is known and takes the smooth upsampling of the level below for the rest.
    """
    weight: np.ndarray = known.astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = [(values * weight[..., None], weight)]
    while min(weight.shape) > 1 and float(weight.min()) <= 0.0:
        weight = np.asarray(cv2.pyrDown(levels[-1][1]))
        levels.append((np.asarray(cv2.pyrDown(levels[-1][0])).reshape(*weight.shape, 3), weight))
    field = levels[-1][0] / np.maximum(levels[-1][1], 1e-6)[..., None]
    for weighted, weight in reversed(levels[:-1]):
        up = cv2.pyrUp(field, dstsize=weight.shape[::-1]).reshape(*weight.shape, 3)
        share = np.minimum(weight, 1.0)[..., None]
        field = weighted / np.maximum(weight, 1e-6)[..., None] * share + up * (1.0 - share)
    filled: np.ndarray = field
    return filled


def _around(hole: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The hole's bounding box grown by `margin` pixels, inside the image."""
    ys, xs = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return (slice(max(0, int(ys[0]) - margin), min(height, int(ys[-1]) + margin + 1)),
            slice(max(0, int(xs[0]) - margin), min(width, int(xs[-1]) + margin + 1)))
