"""Enlarging without weights: Lanczos, then a light unsharp mask to restore the edge contrast it softens.

The embedded upscaler (what `make run` has with nothing downloaded) and what delivery presets use when
they need more pixels than a result has.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageFilter

from underpaint.core import Size

UNSHARP_RADIUS, UNSHARP_PERCENT, UNSHARP_THRESHOLD = 1.2, 60, 2
"""Light enough to leave noise and flat areas alone, firm enough that 2x-4x edges look drawn, not blurred."""


def enlarge(pixels: np.ndarray, size: Size) -> np.ndarray:
    """`pixels` (RGB8 or RGBA8) resized to `size` with Lanczos, colour channels sharpened; alpha is only resampled."""
    image = Image.fromarray(pixels)
    resized = image.resize((size.width, size.height), Image.Resampling.LANCZOS)
    sharpen = ImageFilter.UnsharpMask(UNSHARP_RADIUS, UNSHARP_PERCENT, UNSHARP_THRESHOLD)
    if resized.mode == "RGBA":
        sharp = resized.convert("RGB").filter(sharpen).convert("RGBA")
        sharp.putalpha(resized.getchannel("A"))
        return np.asarray(sharp)
    return np.asarray(resized.filter(sharpen))


def blocks(image: np.ndarray, size: Size) -> np.ndarray:
    """`image` enlarged to `size` by nearest neighbour, sampling pixel centres: every source pixel lands on at
    least one output pixel, so `block_centres` gives `image` back exactly (an upscale's PSD keeps its source so)."""
    # INTER_NEAREST_EXACT samples source pixel floor((x + 0.5) * width / size.width), as PIL's nearest does.
    enlarged: np.ndarray = cv2.resize(image, (size.width, size.height), interpolation=cv2.INTER_NEAREST_EXACT)
    return enlarged


def block_centres(enlarged: np.ndarray, size: Size) -> np.ndarray:
    """The `size` image `blocks` enlarged into `enlarged`: the pixel at each block's centre."""
    # Going down, output pixel i samples floor((i + 0.5) * W / w), which lies inside block i whenever w < W.
    return blocks(enlarged, size)
