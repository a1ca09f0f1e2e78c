"""Cheap previews: a linear map from the latent channels to RGB, no VAE and no extra weights.

The factors are least-squares fits of decoded colours to latents published for the SD 1.x/2.x and SDXL VAEs,
and ComfyUI's (comfy/latent_formats.py) for the 16-channel SD 3.5 and FLUX.1 VAEs; good enough to see
composition emerge. A VAE with fewer latent channels than its family's factors (the tests' tiny models) is
mapped by the first rows.
"""

from __future__ import annotations

import numpy as np
import torch

from underpaint.engines.diffusers.architecture import Family

_FACTORS = {
    Family.SD1: ([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350],
                  [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]], [0.0, 0.0, 0.0]),
    Family.SDXL: ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068],
                   [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011]),
    Family.SD3: ([[-0.0922, -0.0175, 0.0749], [0.0311, 0.0633, 0.0954], [0.1994, 0.0927, 0.0458],
                  [0.0856, 0.0339, 0.0902], [0.0587, 0.0272, -0.0496], [-0.0006, 0.1104, 0.0309],
                  [0.0978, 0.0306, 0.0427], [-0.0042, 0.1038, 0.1358], [-0.0194, 0.0020, 0.0669],
                  [-0.0488, 0.0130, -0.0268], [0.0922, 0.0988, 0.0951], [-0.0278, 0.0524, -0.0542],
                  [0.0332, 0.0456, 0.0895], [-0.0069, -0.0030, -0.0810], [-0.0596, -0.0465, -0.0293],
                  [-0.1448, -0.1463, -0.1189]], [0.2394, 0.2135, 0.1925]),
    Family.FLUX_DEV: ([[-0.0346, 0.0244, 0.0681], [0.0034, 0.0210, 0.0687], [0.0275, -0.0668, -0.0433],
                       [-0.0174, 0.0160, 0.0617], [0.0859, 0.0721, 0.0329], [0.0004, 0.0383, 0.0115],
                       [0.0405, 0.0861, 0.0915], [-0.0236, -0.0185, -0.0259], [-0.0245, 0.0250, 0.1180],
                       [0.1008, 0.0755, -0.0421], [-0.0515, 0.0201, 0.0011], [0.0428, -0.0012, -0.0036],
                       [0.0817, 0.0765, 0.0749], [-0.1264, -0.0522, -0.1103], [-0.0280, -0.0881, -0.0499],
                       [-0.1262, -0.0982, -0.0778]], [-0.0329, -0.0718, -0.0851]),
}
_FACTORS[Family.SD2] = _FACTORS[Family.SD1]

PREVIEW_EVERY = 4
"""Steps between previews: each costs a few milliseconds and a small frame on the wire."""


def latents_to_rgb(latents: torch.Tensor, family: Family, width: int, height: int) -> np.ndarray:
    """RGB8 (height/8, width/8, 3) for the first image of a (batch, channels, height/8, width/8) latent tensor,
    or of FLUX's packed (batch, tokens, channels x 4) one for a `width` x `height` image."""
    if latents.ndim == 3:
        latents = _unpacked(latents, height // 8, width // 8)
    weights, bias = _FACTORS[family.lineage]
    channels = min(latents.shape[1], len(weights))
    first = latents[0, :channels].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", first, torch.tensor(weights[:channels])) + torch.tensor(bias)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def _unpacked(latents: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """FLUX's tokens (2x2 latent pixels each, as FluxPipeline._pack_latents packs them) back into a latent image."""
    batch, _tokens, packed = latents.shape
    grid = latents.view(batch, height // 2, width // 2, packed // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(batch, packed // 4, height // 2 * 2, width // 2 * 2)


def wants_preview(step: int, steps: int) -> bool:
    """Every PREVIEW_EVERY steps, never on the last step (the real image follows at once)."""
    return step % PREVIEW_EVERY == 0 and step < steps
