"""Shift-map: each hole pixel copies the image along one of a few offsets, chosen by graph cuts.

The labelling minimises seams (Pritch et al. 2009, He and Sun 2012): two
neighbouring hole pixels that copy along different offsets pay for how much
the two copies disagree at both (and a little for changing offset at all),
and a hole pixel beside a known one pays for how much its copy's neighbour
differs from the real one. Alpha-expansion (Boykov et al. 2001) lowers that
energy one offset at a time, each move an exact minimum cut (PyMaxflow's
Boykov-Kolmogorov solver). The cuts are exact and the order of moves is
given, so the same input always gives the same fill.
"""

from __future__ import annotations

import maxflow
import numpy as np

from underpaint.engines.classic.compiled import inlined, jit

CYCLES = 3
"""Passes over every offset at most; the labelling rarely changes in the third."""
CHANGE = 1000.0
"""Cost of a change of offset between two neighbours, on top of the seam: it keeps the copies in a few
large pieces, whose texture the synthesis above carries on, rather than a patchwork it would blur.
On bench/quality.py (seeds 0-2, before seeded prices) 0 (seams only), 300, 1000, 3000 and 10000 all
held both figures within noise; 1000 gave the large holes' best."""
MISSING = 1e7
"""Cost of a seam where one of the copies would read an unknown pixel: far above any colour difference."""
FORBIDDEN = 1e12
"""Cost of copying from outside the image or from the hole."""


class ShiftMap:
    """The seam energy of filling `hole` in `image` (float32 (h, w, c)) along `offsets` ((labels, 2) dy, dx),
    each hole pixel paying `prices` (labels,) for the offset it copies along."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, offsets: np.ndarray, prices: np.ndarray) -> None:
        self.ys, self.xs = np.nonzero(hole)
        height, width = hole.shape
        sy, sx = self.ys[:, None] + offsets[:, 0], self.xs[:, None] + offsets[:, 1]
        self.valid = _readable(hole, sy, sx)
        """(pixels, labels): whether the copy along each offset reads a known pixel."""
        self.copies = np.ascontiguousarray(image[np.clip(sy, 0, height - 1), np.clip(sx, 0, width - 1)],
                                           np.float32)
        """(pixels, labels, channels): what each hole pixel would copy along each offset."""
        self.unary = _boundary_costs(image, hole, self.ys, self.xs, offsets) + prices
        self.unary[~self.valid] = FORBIDDEN
        index = np.full(hole.shape, -1, np.int64)
        index[self.ys, self.xs] = np.arange(self.ys.size)
        self.first, self.second = _hole_pairs(index)

    def solve(self, order: np.ndarray) -> np.ndarray:
        """The label per hole pixel (an index into the offsets), trying offsets in `order`;
        -1 where no offset reads a known pixel."""
        labels = np.where(self.valid.any(axis=1), np.argmin(self.unary, axis=1), -1)
        energy = self.energy(labels)
        for _ in range(CYCLES):
            changed = False
            for alpha in order:
                moved = self._expand(labels, int(alpha))
                moved_energy = self.energy(moved)
                # The cut truncates the few pairs it cannot represent, so a move is kept only if it really helps.
                if moved_energy < energy:
                    labels, energy, changed = moved, moved_energy, True
            if not changed:
                break
        return labels

    def energy(self, labels: np.ndarray) -> float:
        return float(_energy(self.unary, self.copies, self.valid, self.first, self.second, labels))

    def _expand(self, labels: np.ndarray, alpha: int) -> np.ndarray:
        """The best labelling in which each pixel keeps its label or takes `alpha`: one minimum cut."""
        take, stay, capacity = _expansion(self.unary, self.copies, self.valid, self.first, self.second, labels,
                                          alpha)
        graph = maxflow.Graph[float](labels.size, self.first.size)
        nodes = graph.add_nodes(labels.size)
        # A node cut to the sink's side takes alpha and pays its source capacity, `take`.
        graph.add_grid_tedges(nodes, take, stay)
        graph.add_edges(self.first, self.second, capacity, np.zeros_like(capacity))
        graph.maxflow()
        moved = labels.copy()
        moved[graph.get_grid_segments(nodes)] = alpha
        return moved


@inlined
def _seam(copies: np.ndarray, valid: np.ndarray, pixel: int, a: int, b: int) -> float:
    """Squared colour difference at `pixel` between its copies along offsets `a` and `b`."""
    if a == b:
        return 0.0
    if not (valid[pixel, a] and valid[pixel, b]):
        return MISSING
    total = 0.0
    for channel in range(copies.shape[2]):
        difference = copies[pixel, a, channel] - copies[pixel, b, channel]
        total += difference * difference
    return total


@inlined
def _pair(copies: np.ndarray, valid: np.ndarray, p: int, q: int, a: int, b: int) -> float:
    """Seam cost between neighbouring hole pixels p (label a) and q (label b)."""
    if a == b or a < 0 or b < 0:
        return 0.0
    return CHANGE + _seam(copies, valid, p, a, b) + _seam(copies, valid, q, a, b)


@jit
def _energy(unary: np.ndarray, copies: np.ndarray, valid: np.ndarray, first: np.ndarray, second: np.ndarray,
            labels: np.ndarray) -> float:
    total = 0.0
    for pixel in range(labels.size):
        if labels[pixel] >= 0:
            total += unary[pixel, labels[pixel]]
    for edge in range(first.size):
        p, q = first[edge], second[edge]
        total += _pair(copies, valid, p, q, labels[p], labels[q])
    return total


@jit
def _expansion(unary: np.ndarray, copies: np.ndarray, valid: np.ndarray, first: np.ndarray, second: np.ndarray,
               labels: np.ndarray, alpha: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cut's capacities for the move to `alpha`: per pixel the cost of taking it and of staying, per
    pair the capacity of its edge (Kolmogorov and Zabih's construction)."""
    take = unary[:, alpha].copy()
    stay = np.zeros(labels.size)
    for pixel in range(labels.size):
        if labels[pixel] >= 0:
            stay[pixel] = unary[pixel, labels[pixel]]
    capacity = np.zeros(first.size)
    for edge in range(first.size):
        p, q = first[edge], second[edge]
        if not (valid[p, alpha] or valid[q, alpha]):
            # Neither end can take alpha: the pair keeps its cost whatever the cut, and needs no edge.
            continue
        both_stay = _pair(copies, valid, p, q, labels[p], labels[q])
        q_takes = _pair(copies, valid, p, q, labels[p], alpha)
        p_takes = _pair(copies, valid, p, q, alpha, labels[q])
        # Both taking alpha costs 0; staying is truncated where it costs more than one taking (not submodular).
        both_stay = min(both_stay, q_takes + p_takes)
        # E(xp, xq) = A + (C - A) xp - C xq + (B + C - A)(1 - xp) xq, with x = 1 taking alpha.
        linear = p_takes - both_stay
        if linear > 0:
            take[p] += linear
        else:
            stay[p] -= linear
        # The -C xq term: staying costs C more instead.
        stay[q] += p_takes
        capacity[edge] = q_takes + p_takes - both_stay
    return take, stay, capacity


def _readable(hole: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether (y, x) is a known pixel inside the image."""
    height, width = hole.shape
    inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
    readable: np.ndarray = inside.copy()
    readable[inside] = ~hole[y[inside], x[inside]]
    return readable


def _boundary_costs(image: np.ndarray, hole: np.ndarray, ys: np.ndarray, xs: np.ndarray,
                    offsets: np.ndarray) -> np.ndarray:
    """(pixels, labels): for each known 4-neighbour q of a hole pixel, how far the copy's neighbour is from q."""
    height, width = hole.shape
    costs = np.zeros((ys.size, len(offsets)))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        rows = np.flatnonzero(_readable(hole, qy, qx))
        sy, sx = qy[rows, None] + offsets[:, 0], qx[rows, None] + offsets[:, 1]
        known = image[qy[rows], qx[rows]][:, None, :]
        copied = image[np.clip(sy, 0, height - 1), np.clip(sx, 0, width - 1)]
        costs[rows] += np.where(_readable(hole, sy, sx), ((copied - known) ** 2).sum(axis=-1), MISSING)
    return costs


def _hole_pairs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of each pair of 4-neighbouring hole pixels (right and down neighbours)."""
    right = (index[:, :-1] >= 0) & (index[:, 1:] >= 0)
    down = (index[:-1] >= 0) & (index[1:] >= 0)
    first = np.concatenate([index[:, :-1][right], index[:-1][down]])
    second = np.concatenate([index[:, 1:][right], index[1:][down]])
    return first, second
