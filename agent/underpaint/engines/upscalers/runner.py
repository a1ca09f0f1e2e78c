"""A super-resolution model run over an image of any size: tile by tile with overlap, blended (imaging.tiles),
on the device the agent computes on, with progress per tile and cancel between tiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from underpaint.core import Size
from underpaint.engines.base import CancelToken
from underpaint.imaging.tiles import Blender, Grid

TILE, OVERLAP = 256, 32
"""Input pixels per tile side and shared with each neighbour: a 4x model's 256-pixel tile is a 1024-pixel
output tile, small enough for any GPU and for a CPU's cache-friendly batches; 32 pixels of overlap hide the
padding each tile's edge sees from the blend (imaging.tiles uses none of a tile's outer 8)."""

TileProgress = Callable[[int, int], None]
"""Called with (tiles done, tiles in all) after each tile."""


class SuperResolution:
    """A loaded super-resolution model (spandrel's ImageModelDescriptor) on `device`, in `dtype` when the
    architecture runs in it (else fp32)."""

    def __init__(self, model: Any, device: torch.device, dtype: torch.dtype,
                 tile: int = TILE, overlap: int = OVERLAP) -> None:
        supported = {torch.float16: model.supports_half, torch.bfloat16: model.supports_bfloat16}
        self.dtype = dtype if supported.get(dtype, True) else torch.float32
        self.device = device
        self.model = model.to(device).to(self.dtype)
        self.tile, self.overlap = tile, overlap

    @property
    def scale(self) -> int:
        return int(self.model.scale)

    @property
    def architecture(self) -> str:
        return str(self.model.architecture.name)

    def grid(self, size: Size) -> Grid:
        """The input tiles an image of `size` runs in."""
        return Grid.over(size, self.tile, self.overlap)

    def enlarge(self, rgb: np.ndarray, progress: TileProgress, cancel: CancelToken) -> np.ndarray:
        """`rgb` (RGB8, H x W x 3) made `scale` times larger on each side."""
        height, width = rgb.shape[:2]
        grid = self.grid(Size(width=width, height=height))
        blender = Blender(grid.scaled(self.scale), 3)
        tiles = grid.tiles()
        for done, rect in enumerate(tiles, start=1):
            cancel.raise_if_cancelled()
            blender.add(self.run_tile(rgb[rect.y : rect.bottom, rect.x : rect.right]))
            progress(done, len(tiles))
        return blender.image

    @torch.inference_mode()
    def run_tile(self, rgb: np.ndarray) -> np.ndarray:
        """One tile through the model, untiled: RGB8 in, RGB8 `scale` times larger out."""
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device).permute(2, 0, 1)[None]
        output = self.model(tensor.to(self.dtype).div_(255))
        pixels = output[0].float().mul_(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
        result: np.ndarray = pixels.cpu().numpy()
        return result
