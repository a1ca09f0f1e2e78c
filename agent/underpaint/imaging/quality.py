"""Measures of a fill's quality, shared by the tests and `bench/quality.py`.

Texture: high-frequency energy (luminance minus its Gaussian blur, squared,
averaged) inside the filled area over the same in the known ring around it.
A blur-like fill scores near 0, a fill that keeps the surroundings' grain near 1.

Seam: Sobel gradient magnitude of the composite on the blend's edge band over
the source's gradient in the known ring nearby. A visible seam scores well
above 1; a fill that continues the surroundings scores about 1.
"""

from __future__ import annotations

import cv2
import numpy as np

RING = 16
"""Width (px) of the known ring that serves as reference."""


def luminance(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    return gray.astype(np.float32)


def high_frequency(rgb: np.ndarray) -> np.ndarray:
    gray = luminance(rgb)
    detail = gray - cv2.GaussianBlur(gray, (0, 0), 1.5)
    energy: np.ndarray = detail * detail
    return energy


def ring(mask: np.ndarray, width: int = RING, gap: int = 0) -> np.ndarray:
    """Pixels outside `mask` (bool) at a distance in (gap, gap + width]."""
    outside = np.where(mask, np.uint8(0), np.uint8(1))
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    selected: np.ndarray = (distance > gap) & (distance <= gap + width)
    return selected


def texture_ratio(image: np.ndarray, hole: np.ndarray, reference: np.ndarray, gap: int = 0) -> float:
    """High-frequency energy of `image` in `hole` (kept 4 px off its edge) over `reference`'s in the ring."""
    inner = cv2.erode(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    inside = high_frequency(image)[inner if inner.any() else hole].mean()
    return float(inside / max(float(high_frequency(reference)[ring(hole, gap=gap)].mean()), 1e-6))


def seam_ratio(composite: np.ndarray, source: np.ndarray, layer_mask: np.ndarray) -> tuple[float, float]:
    """(mean, 95th percentile) gradient on the edge band (0 < mask < 255) over the source's nearby.

    `layer_mask` is the blend mask in the composite's coordinates; "nearby" is
    the ring of `RING` px outside it. With a hard mask, the band is the mask's
    outermost pixels.
    """
    band = (layer_mask > 0) & (layer_mask < 255)
    if not band.any():
        selected = layer_mask > 0
        band = selected & ~(cv2.erode(selected.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    nearby = ring(layer_mask > 0)
    seam, reference = _gradient(composite), _gradient(source)
    return (
        float(seam[band].mean() / max(float(reference[nearby].mean()), 1e-6)),
        float(np.percentile(seam[band], 95) / max(float(np.percentile(reference[nearby], 95)), 1e-6)),
    )


def _gradient(rgb: np.ndarray) -> np.ndarray:
    gray = luminance(rgb)
    magnitude: np.ndarray = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    return magnitude
