"""PatchMatch nearest-neighbour search and patch voting, compiled with numba.

The kernels work on float32 RGB images at one pyramid level. A *target* is a
patch centre whose 7x7 patch touches the hole; a *source* is a centre whose
whole patch is known. For every target the nearest-neighbour field (NNF)
holds the source patch that looks most like it (sum of squared differences),
found by Barnes et al.'s propagation and random search. Voting then rebuilds
each hole pixel from the source pixels that the patches covering it point at,
which copies real texture rather than averaging it away (Wexler et al.).

The kernels use every core and still give the same field for a seed whatever
the thread count: random draws are a hash of (seed, target, draw), not a
stream shared by threads, and the search works in bands of rows, even bands
at once and then odd ones, so a band only reads its neighbours' fields while
nobody writes them.
"""

from __future__ import annotations

import numba
import numpy as np

from underpaint.engines.classic.compiled import jit, parallel

RADIUS = 3
"""Patch radius: 7x7 patches, big enough to carry grain and small structure."""

BAND_ROWS = 8
"""Rows of targets one thread searches in order: propagation runs along them unbroken."""

PARALLEL_TARGETS = 20_000
"""From this many targets a level's kernels use every core; below it waking the other threads
costs more than they save (a hot folder's small jobs)."""

_ALL_THREADS: int = numba.get_num_threads()
"""numba's thread count before anyone lowers it: NUMBA_NUM_THREADS, by default one per core."""


def use_threads_for(targets: int) -> None:
    """Set how many threads this thread's next kernels use, for a level with `targets` targets."""
    numba.set_num_threads(_ALL_THREADS if targets >= PARALLEL_TARGETS else 1)


def bands(ty: np.ndarray) -> np.ndarray:
    """Start index into the (row-major) targets of each band of BAND_ROWS rows, and the end."""
    first, last = int(ty[0]) // BAND_ROWS, int(ty[-1]) // BAND_ROWS
    edges = np.arange(first, last + 2, dtype=np.int64) * BAND_ROWS
    starts: np.ndarray = np.searchsorted(ty, edges).astype(np.int64)
    return starts


@jit
def _hash(seed: int, index: int, draw: int) -> np.uint64:
    """A random 64-bit number, the same for the same (seed, index, draw) on any thread (splitmix64)."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(index) * np.uint64(0xBF58476D1CE4E5B9)
    z = z + np.uint64(draw) * np.uint64(0x94D049BB133111EB) + np.uint64(0x2545F4914F6CDD1D)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@jit
def _pick(seed: int, index: int, draw: int, count: int) -> int:
    """A uniform integer in [0, count)."""
    return int(_hash(seed, index, draw) % np.uint64(count))


@jit
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


@parallel
def score(
    nnf: np.ndarray, cost: np.ndarray, target: np.ndarray, source: np.ndarray, ty: np.ndarray, tx: np.ndarray,
    radius: int,
) -> None:
    """Recompute `cost` for every target after the target image changed."""
    for i in numba.prange(ty.shape[0]):
        y, x = ty[i], tx[i]
        cost[y, x] = _distance(target, source, y, x, nnf[y, x, 0], nnf[y, x, 1], radius, np.inf)


@parallel
def improve(
    nnf: np.ndarray, cost: np.ndarray, target: np.ndarray, source: np.ndarray, valid: np.ndarray,
    is_target: np.ndarray, ty: np.ndarray, tx: np.ndarray, starts: np.ndarray, radius: int, passes: int,
    seed: int, reach: int,
) -> None:
    """`passes` PatchMatch sweeps, alternating scan direction, improving `nnf` in place.

    `starts` are the targets' `bands`. Random search tries windows halving
    from `reach` pixels either side of the current match down to one.
    """
    count = starts.shape[0] - 1
    for sweep in range(passes):
        for parity in range(2):
            for half in numba.prange((count - parity + 1) // 2):
                band = 2 * half + parity
                _improve_band(nnf, cost, target, source, valid, is_target, ty, tx, starts[band], starts[band + 1],
                              radius, 1 if sweep % 2 == 0 else -1, seed * 31 + sweep, reach)


@jit
def _improve_band(
    nnf: np.ndarray, cost: np.ndarray, target: np.ndarray, source: np.ndarray, valid: np.ndarray,
    is_target: np.ndarray, ty: np.ndarray, tx: np.ndarray, first: int, end: int, radius: int, step: int,
    seed: int, reach: int,
) -> None:
    height, width = valid.shape
    for k in range(end - first):
        i = first + k if step == 1 else end - 1 - k
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
        # Random search in windows halving down to one pixel.
        span, draw = reach, 0
        while span >= 1:
            cy = by + _pick(seed, i, draw, 2 * span + 1) - span
            cx = bx + _pick(seed, i, draw + 1, 2 * span + 1) - span
            draw += 2
            if 0 <= cy < height and 0 <= cx < width and valid[cy, cx]:
                d = _distance(target, source, y, x, cy, cx, radius, best)
                if d < best:
                    by, bx, best = cy, cx, d
            span //= 2
        nnf[y, x, 0], nnf[y, x, 1], cost[y, x] = by, bx, best


@parallel
def vote(
    estimate: np.ndarray, source: np.ndarray, nnf: np.ndarray, cost: np.ndarray, hole: np.ndarray,
    is_target: np.ndarray, hy: np.ndarray, hx: np.ndarray, radius: int, sigma2: float,
) -> None:
    """Set every hole pixel (`hy`, `hx`) of `estimate` to the weighted mean of what the patches over it copy.

    Weights fall with each patch's match cost, so a few poor matches do not
    wash out the texture the good ones agree on. Each pixel gathers from the
    patches over it, so pixels are independent and the sum's order is fixed.
    """
    height, width = hole.shape
    weight = np.zeros((height, width), np.float32)
    for i in numba.prange(height):
        for j in range(width):
            if is_target[i, j]:
                weight[i, j] = np.exp(-cost[i, j] / (2.0 * sigma2))
    for i in numba.prange(hy.shape[0]):
        qy, qx = hy[i], hx[i]
        total = np.zeros(3, np.float32)
        weights = np.float32(0.0)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                y, x = qy - dy, qx - dx
                if 0 <= y < height and 0 <= x < width and is_target[y, x]:
                    w = weight[y, x]
                    weights += w
                    for c in range(3):
                        total[c] += w * source[nnf[y, x, 0] + dy, nnf[y, x, 1] + dx, c]
        if weights > 0:
            for c in range(3):
                estimate[qy, qx, c] = total[c] / weights


@parallel
def random_field(nnf: np.ndarray, ty: np.ndarray, tx: np.ndarray, vy: np.ndarray, vx: np.ndarray, seed: int) -> None:
    """Point every target at a random source centre."""
    for i in numba.prange(ty.shape[0]):
        k = _pick(seed, i, 0, vy.shape[0])
        nnf[ty[i], tx[i], 0], nnf[ty[i], tx[i], 1] = vy[k], vx[k]


@jit
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


@jit
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
