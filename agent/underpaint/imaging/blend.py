"""Masked blending of RGBA8 layers, exact where the mask is 0 or 255."""

from __future__ import annotations

import numpy as np


def blend_masked(base: np.ndarray, layer: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Composite `layer` over `base` through a Gray8 `mask` (same height and width).

    Integer maths with rounding, so mask 0 returns `base` bit for bit and
    mask 255 returns `layer` bit for bit.
    """
    if base.shape != layer.shape or base.shape[:2] != mask.shape:
        raise ValueError(f"shapes differ: base {base.shape}, layer {layer.shape}, mask {mask.shape}")
    weight = mask.astype(np.uint32)[..., None]
    mixed = base.astype(np.uint32) * (255 - weight) + layer.astype(np.uint32) * weight
    return ((mixed + 127) // 255).astype(np.uint8)
