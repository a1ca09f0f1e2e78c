"""PatchMatch nearest-neighbour search and patch voting, compiled with numba.

The kernels work on float32 RGB images at one pyramid level. A *target* is a
patch centre whose 7x7 patch touches the hole; a *source* is a centre whose
whole patch is known. For every target the nearest-neighbour field (NNF)
holds the source patch that looks most like it (sum of squared differences),
found by Barnes et al.'s propagation and random search. Voting then rebuilds
each hole pixel from the source pixels that the patches covering it point at,
which copies real texture rather than averaging it away (Wexler et al.).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

RADIUS = 3
"""Patch radius: 7x7 patches, big enough to carry grain and small structure."""


def _jit(function: F) -> F:
    # cache: compile once per machine, not per process; nogil: the agent's event loop keeps running.
    return cast(F, numba.njit(cache=True, nogil=True)(function))


@_jit
def _distance(
    target: np.ndarray, source: np.ndarray, ty: int, tx: int, sy: int, sx: int, radius: int, limit: float
) -> float:
    """Squared difference of two patches, giving up (returning > limit) as soon as it exceeds `limit`."""
    total = 0.0
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            for c in range(3):
                diff = target[ty + dy, tx + dx, c] - source[sy + dy, sx + dx, c]
                total += diff * diff
        if total > limit:
            return total
    return total


@_jit
def score(
    nnf: np.ndarray, cost: np.ndarray, target: np.ndarray, source: np.ndarray, ty: np.ndarray, tx: np.ndarray,
    radius: int,
) -> None:
    """Recompute `cost` for every target after the target image changed."""
    for i in range(ty.shape[0]):
        y, x = ty[i], tx[i]
        cost[y, x] = _distance(target, source, y, x, nnf[y, x, 0], nnf[y, x, 1], radius, np.inf)


@_jit
def improve(
    nnf: np.ndarray, cost: np.ndarray, target: np.ndarray, source: np.ndarray, valid: np.ndarray,
    is_target: np.ndarray, ty: np.ndarray, tx: np.ndarray, radius: int, passes: int, seed: int,
) -> None:
    """`passes` PatchMatch sweeps, alternating scan direction, improving `nnf` in place."""
    np.random.seed(seed)
    height, width = valid.shape
    count = ty.shape[0]
    for sweep in range(passes):
        step = 1 if sweep % 2 == 0 else -1
        for k in range(count):
            i = k if step == 1 else count - 1 - k
            y, x = ty[i], tx[i]
            by, bx, best = nnf[y, x, 0], nnf[y, x, 1], cost[y, x]
            # Propagation: a good match for the neighbour just visited, shifted by one, is likely good here.
            for ny, nx in ((y, x - step), (y - step, x)):
                if is_target[ny, nx]:
                    cy, cx = nnf[ny, nx, 0] + y - ny, nnf[ny, nx, 1] + x - nx
                    if 0 <= cy < height and 0 <= cx < width and valid[cy, cx] and (cy != by or cx != bx):
                        d = _distance(target, source, y, x, cy, cx, radius, best)
                        if d < best:
                            by, bx, best = cy, cx, d
            # Random search in windows halving from the whole image down to one pixel.
            span = max(height, width)
            while span >= 1:
                cy = by + np.random.randint(-span, span + 1)
                cx = bx + np.random.randint(-span, span + 1)
                if 0 <= cy < height and 0 <= cx < width and valid[cy, cx]:
                    d = _distance(target, source, y, x, cy, cx, radius, best)
                    if d < best:
                        by, bx, best = cy, cx, d
                span //= 2
            nnf[y, x, 0], nnf[y, x, 1], cost[y, x] = by, bx, best


@_jit
def vote(
    estimate: np.ndarray, source: np.ndarray, nnf: np.ndarray, cost: np.ndarray, hole: np.ndarray,
    ty: np.ndarray, tx: np.ndarray, radius: int, sigma2: float,
) -> None:
    """Set every hole pixel of `estimate` to the weighted mean of what the patches over it copy.

    Weights fall with each patch's match cost, so a few poor matches do not
    wash out the texture the good ones agree on.
    """
    height, width = hole.shape
    total = np.zeros((height, width, 3), np.float32)
    weights = np.zeros((height, width), np.float32)
    for i in range(ty.shape[0]):
        y, x = ty[i], tx[i]
        sy, sx = nnf[y, x, 0], nnf[y, x, 1]
        w = np.float32(np.exp(-cost[y, x] / (2.0 * sigma2)))
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                qy, qx = y + dy, x + dx
                if hole[qy, qx]:
                    weights[qy, qx] += w
                    for c in range(3):
                        total[qy, qx, c] += w * source[sy + dy, sx + dx, c]
    for y in range(height):
        for x in range(width):
            if hole[y, x] and weights[y, x] > 0:
                for c in range(3):
                    estimate[y, x, c] = total[y, x, c] / weights[y, x]


@_jit
def random_field(nnf: np.ndarray, ty: np.ndarray, tx: np.ndarray, vy: np.ndarray, vx: np.ndarray, seed: int) -> None:
    """Point every target at a random source centre."""
    np.random.seed(seed)
    for i in range(ty.shape[0]):
        k = np.random.randint(0, vy.shape[0])
        nnf[ty[i], tx[i], 0], nnf[ty[i], tx[i], 1] = vy[k], vx[k]


@_jit
def copy_centres(
    estimate: np.ndarray, source: np.ndarray, nnf: np.ndarray, hole: np.ndarray, is_target: np.ndarray
) -> None:
    """Set every hole pixel that is a patch centre to the centre of its match: no averaging at all.

    Voting averages the patches over a pixel, which keeps structure but thins
    fine grain (film grain, sensor noise, foliage) that no two patches share;
    the last step copies pixels instead, so the grain survives.
    """
    height, width = hole.shape
    for y in range(height):
        for x in range(width):
            if hole[y, x] and is_target[y, x]:
                for c in range(3):
                    estimate[y, x, c] = source[nnf[y, x, 0], nnf[y, x, 1], c]


@_jit
def boundary_error(
    source: np.ndarray, nnf: np.ndarray, hole: np.ndarray, ty: np.ndarray, tx: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """At known pixels next to the hole: the source minus what the matched patches put there.

    Returns (error, known) where `known` marks the pixels that have an error.
    Patches straddle the hole's edge, so this is how far the copied texture's
    colour is off right at the seam; spread into the hole it removes the step.
    """
    height, width = hole.shape
    total = np.zeros((height, width, 3), np.float32)
    count = np.zeros((height, width), np.float32)
    for i in range(ty.shape[0]):
        y, x = ty[i], tx[i]
        sy, sx = nnf[y, x, 0], nnf[y, x, 1]
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                qy, qx = y + dy, x + dx
                if not hole[qy, qx]:
                    count[qy, qx] += 1.0
                    for c in range(3):
                        total[qy, qx, c] += source[qy, qx, c] - source[sy + dy, sx + dx, c]
    known = count > 0
    for y in range(height):
        for x in range(width):
            if known[y, x]:
                for c in range(3):
                    total[y, x, c] /= count[y, x]
    return total, known
