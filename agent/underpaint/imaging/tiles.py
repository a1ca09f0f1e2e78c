"""Tiles: covering an image of any size with overlapping tiles, blending them back with weights that sum to one,
and measuring whether the tile grid shows.

Each axis is cut into equal spans of at most `tile` pixels, neighbours overlapping by `overlap`, spread
evenly so no span is a sliver. Within an overlap the incoming tile's weight is 0 over the first `edge` of
it (by default a quarter: a tile's own edge pixels, where a network sees padding instead of the neighbour's
content, are never used), rises along a smoothstep through the middle, and is 1 over the last `edge`; the
outgoing tile's weight is one minus that. Tiles that differ everywhere (img2img) blend best with no edge:
the widest, gentlest ramp. The weights of all tiles sum to exactly one everywhere, so blending needs no
normalising pass, and `Blender` can write each band of rows out as soon as the tile row below no longer
reaches it: memory is one band of the output in float32, whatever the image's size.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from underpaint.core import Rect, Size

Span = tuple[int, int]
"""[start, end) along one axis."""


def spans(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[Span, ...]:
    """Equal [start, end) spans of at most `tile` covering [0, length), as few as can be, neighbours overlapping
    by `overlap` (more where rounding takes it); their length a multiple of `multiple` unless one span covers
    all. `tile` (a multiple of `multiple`) above 3 `overlap` keeps every position within at most two spans."""
    if tile <= 3 * overlap or tile % multiple:
        raise ValueError(f"a tile of {tile} cannot overlap each neighbour by {overlap} in multiples of {multiple}")
    if length <= tile:
        return ((0, length),)
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count / multiple) * multiple
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    return tuple((start, start + size) for start in starts)


EDGE = 0.25
"""Fraction of an overlap, at each of its ends, where one of the two tiles has all the weight."""


def axis_weights(axis: tuple[Span, ...], index: int, edge: float = EDGE) -> np.ndarray:
    """float32 weights over span `index`: ramps where it overlaps its neighbours, 1 elsewhere; the weights of
    all spans of `axis` sum to 1 at every position."""
    start, end = axis[index]
    weights = np.ones(end - start, np.float32)
    if index > 0:
        shared = axis[index - 1][1] - start
        weights[:shared] = _rise(shared, edge)
    if index < len(axis) - 1:
        shared = end - axis[index + 1][0]
        weights[end - start - shared:] = 1 - _rise(shared, edge)
    return weights


def _rise(length: int, edge: float) -> np.ndarray:
    """0 over the first `edge` of `length`, a smoothstep through the middle, 1 over the last `edge`."""
    t = (np.arange(length, dtype=np.float32) + 0.5 - length * edge) / max(length * (1 - 2 * edge), 1)
    t = np.clip(t, 0, 1)
    rise: np.ndarray = t * t * (3 - 2 * t)
    return rise


@dataclass(frozen=True)
class Grid:
    """Overlapping tiles over an image: `columns` and `rows` are each axis's spans; tiles run row by row and blend
    with ramps that leave `edge` of each overlap's ends to one tile alone."""

    columns: tuple[Span, ...]
    rows: tuple[Span, ...]
    edge: float = EDGE

    @classmethod
    def over(cls, size: Size, tile: int, overlap: int, multiple: int = 1, edge: float = EDGE) -> Grid:
        return cls(spans(size.width, tile, overlap, multiple), spans(size.height, tile, overlap, multiple), edge)

    @property
    def size(self) -> Size:
        return Size(width=self.columns[-1][1], height=self.rows[-1][1])

    def tiles(self) -> list[Rect]:
        return [Rect(x=x0, y=y0, width=x1 - x0, height=y1 - y0) for y0, y1 in self.rows for x0, x1 in self.columns]

    def scaled(self, scale: int) -> Grid:
        """The same tiles on an image `scale` times larger (what a super-resolution model makes of each)."""
        return Grid(tuple((a * scale, b * scale) for a, b in self.columns),
                    tuple((a * scale, b * scale) for a, b in self.rows), self.edge)

    def borders(self) -> tuple[list[int], list[int]]:
        """Where a tile grid could show, as (columns, rows): each overlap's two tile edges and its middle."""
        def lines(axis: tuple[Span, ...]) -> list[int]:
            found: set[int] = set()
            for (_, end), (start, _) in itertools.pairwise(axis):
                found.update((start, (start + end) // 2, end))
            return sorted(found)

        return lines(self.columns), lines(self.rows)


class Blender:
    """Tiles of `grid` (row by row, each H x W x channels) blended into one uint8 image.

    Only the current tile row is held in float32; rows above the next tile row are final and rounded into
    `image` as soon as that row starts.
    """

    def __init__(self, grid: Grid, channels: int) -> None:
        self.grid = grid
        size = grid.size
        self.image = np.empty((size.height, size.width, channels), np.uint8)
        self._column_weights = [axis_weights(grid.columns, i, grid.edge)[None, :, None]
                                for i in range(len(grid.columns))]
        self._carry: np.ndarray | None = None
        self._band: np.ndarray | None = None
        self._next = 0

    def add(self, pixels: np.ndarray) -> None:
        row, column = divmod(self._next, len(self.grid.columns))
        (y0, y1), (x0, x1) = self.grid.rows[row], self.grid.columns[column]
        if pixels.shape[:2] != (y1 - y0, x1 - x0):
            raise ValueError(f"tile {self._next} is {pixels.shape[:2]}, not {(y1 - y0, x1 - x0)}")
        if column == 0:
            self._band = np.zeros((y1 - y0, self.image.shape[1], self.image.shape[2]), np.float32)
        assert self._band is not None
        window = self._band[:, x0:x1]
        window += pixels.astype(np.float32) * self._column_weights[column]
        self._next += 1
        if column == len(self.grid.columns) - 1:
            self._finish_row(row)

    def _finish_row(self, row: int) -> None:
        band = self._band
        assert band is not None
        band *= axis_weights(self.grid.rows, row, self.grid.edge)[:, None, None]
        y0, y1 = self.grid.rows[row]
        if self._carry is not None:
            band[: len(self._carry)] += self._carry
        # Rows the next tile row reaches stay open; the rest are final.
        final = self.grid.rows[row + 1][0] - y0 if row + 1 < len(self.grid.rows) else y1 - y0
        self.image[y0 : y0 + final] = np.clip(np.rint(band[:final]), 0, 255)
        self._carry = band[final:].copy() if final < y1 - y0 else None
        self._band = None

    @property
    def done(self) -> bool:
        return self._next == len(self.grid.columns) * len(self.grid.rows)


def seam_ratio(image: np.ndarray, grid: Grid, period: int = 1) -> float:
    """How much stronger the image's gradients are across the grid's tile borders than across the other lines
    of the image: about 1 where no grid shows, well above 1 where tiles meet at visible seams. Grey levels, both
    axes, the larger of the two ratios. `period` is the model's own pixel grid (8 for a latent diffusion
    model's VAE, whose decoder leaves a faint 8-pixel pattern): borders are compared with the lines of the
    same phase on it, so the model's grid is not taken for the tiles'."""
    grey = image[..., :3].astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    across_columns = np.abs(np.diff(grey, axis=1)).mean(axis=0)  # [x - 1]: the step from column x - 1 to x
    across_rows = np.abs(np.diff(grey, axis=0)).mean(axis=1)
    border_columns, border_rows = grid.borders()
    ratios = []
    for gradients, lines in ((across_columns, border_columns), (across_rows, border_rows)):
        if lines:
            phases = {line % period for line in lines}
            alike = [line for line in range(1, len(gradients) + 1) if line % period in phases]
            reference = float(gradients[[line - 1 for line in alike]].mean())
            ratios.append(float(gradients[[line - 1 for line in lines]].mean()) / max(reference, 1e-6))
    return max(ratios, default=1.0)
