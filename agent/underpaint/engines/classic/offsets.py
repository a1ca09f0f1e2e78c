"""The offsets a hole is best filled along: the dominant shifts between similar patches of the image.

He and Sun (2012) observed that in a photograph, the shifts between each patch
and its most similar patch elsewhere cluster on a few values (the period of a
fence, the spacing of windows, the run of a horizon). Those few offsets are
the labels the shift-map chooses from, so the graph cut stays small.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

RADIUS = 3
"""Patch radius of the descriptors (7x7, as the synthesis' patches)."""
LUMA_TERMS, CHROMA_TERMS = 4, 2
"""Lowest DCT frequencies kept per direction: 4x4 of the lightness and 2x2 of each colour channel, the
24 numbers He and Sun match patches on (they use the Walsh-Hadamard basis; the DCT's is alike)."""
NEIGHBOURS = 24
"""Nearest patches looked at per patch for the first one far enough away."""
NEAR = 1 / 15
"""Shifts under this fraction of the long side are not counted: neighbouring patches of a smooth
area always match each other, and a hole cannot be filled from just beside itself."""
STRIDE = 2
"""Every STRIDE-th patch in each direction is matched: the histogram's peaks need no more."""


def dominant_offsets(image: np.ndarray, hole: np.ndarray, count: int) -> np.ndarray:
    """The `count` strongest (dy, dx) peaks, int64 (n, 2), strongest first; fewer when the image has fewer."""
    height, width = hole.shape
    centres = _known_centres(hole)
    ys, xs = np.nonzero(centres[::STRIDE, ::STRIDE])
    ys, xs = ys * STRIDE, xs * STRIDE
    if ys.size < 2:
        return np.zeros((0, 2), np.int64)
    features = _descriptors(image, ys, xs)
    found = cKDTree(features).query(features, k=min(NEIGHBOURS + 1, ys.size))[1][:, 1:]
    dy, dx = ys[found] - ys[:, None], xs[found] - xs[:, None]
    near = max(1, round(NEAR * max(height, width)))
    far = np.maximum(np.abs(dy), np.abs(dx)) >= near
    first = np.argmax(far, axis=1)
    keep = far[np.arange(ys.size), first]
    rows = np.arange(ys.size)[keep]
    histogram = np.zeros((2 * height - 1, 2 * width - 1), np.float32)
    np.add.at(histogram, (dy[rows, first[keep]] + height - 1, dx[rows, first[keep]] + width - 1), 1.0)
    smooth = cv2.GaussianBlur(histogram, (0, 0), np.sqrt(2.0))
    peak = (smooth >= cv2.dilate(smooth, np.ones((5, 5), np.uint8))) & (histogram > 0)
    py, px = np.nonzero(peak)
    # Strongest first; equal peaks in raster order, so the result never depends on sorting's whims.
    order = np.lexsort((px, py, -smooth[py, px]))[:count]
    return np.stack([py[order] - (height - 1), px[order] - (width - 1)], axis=1).astype(np.int64)


def _known_centres(hole: np.ndarray) -> np.ndarray:
    size = 2 * RADIUS + 1
    touched = cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    inside = np.zeros(hole.shape, bool)
    inside[RADIUS : hole.shape[0] - RADIUS, RADIUS : hole.shape[1] - RADIUS] = True
    known: np.ndarray = ~touched & inside
    return known


def _descriptors(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Each Lab patch's low DCT frequencies: a fixed basis, so equal patches give equal numbers."""
    steps = np.arange(-RADIUS, RADIUS + 1)
    patches = image[ys[:, None, None] + steps[None, :, None], xs[:, None, None] + steps[None, None, :]]
    basis = _dct_basis(2 * RADIUS + 1)
    parts = []
    for channel, terms in ((0, LUMA_TERMS), (1, CHROMA_TERMS), (2, CHROMA_TERMS)):
        low = basis[:terms]
        coefficients = np.einsum("ui,nij,vj->nuv", low, patches[..., channel].astype(np.float64), low)
        parts.append(coefficients.reshape(ys.size, -1))
    descriptors: np.ndarray = np.concatenate(parts, axis=1)
    return descriptors


def _dct_basis(size: int) -> np.ndarray:
    """Rows: the orthonormal DCT-II basis vectors of length `size`, lowest frequency first."""
    k, n = np.arange(size)[:, None], np.arange(size)[None, :]
    basis: np.ndarray = np.cos(np.pi * (n + 0.5) * k / size) * np.sqrt(2.0 / size)
    basis[0] /= np.sqrt(2.0)
    return basis
