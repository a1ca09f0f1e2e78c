"""Reference images as an IP-Adapter's image encoder takes them."""

from __future__ import annotations

import numpy as np


def reference_rgb(image: np.ndarray) -> np.ndarray:
    """RGB8 from an RGBA8 reference, its transparent parts over white: a cut-out product or character
    is judged on white, as a reference sheet shows it, not on whatever its hidden pixels hold."""
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    rgb = image[..., :3].astype(np.float32)
    alpha = image[..., 3:4].astype(np.float32) / 255
    return np.ascontiguousarray((rgb * alpha + 255 * (1 - alpha)).round().astype(np.uint8))
