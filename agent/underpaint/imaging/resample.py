"""Enlarging without weights: Lanczos, then a light unsharp mask to restore the edge contrast it softens.

The embedded upscaler (what `make run` has with nothing downloaded) and what delivery presets use when
they need more pixels than a result has.
"""

from __future__ import annotations

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
