"""Cheap previews: a linear map from the 4 latent channels to RGB, no VAE and no extra weights.

The factors are least-squares fits of decoded colours to latents published for
the SD 1.x/2.x and SDXL VAEs; good enough to see composition emerge.
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
}
_FACTORS[Family.SD2] = _FACTORS[Family.SD1]

PREVIEW_EVERY = 4
"""Steps between previews: each costs a few milliseconds and a small frame on the wire."""


def latents_to_rgb(latents: torch.Tensor, family: Family) -> np.ndarray:
    """RGB8 (h/8, w/8, 3) for the first image of a (batch, 4, h/8, w/8) latent tensor."""
    weights, bias = _FACTORS[family]
    first = latents[0, :4].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", first, torch.tensor(weights)) + torch.tensor(bias)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def wants_preview(step: int, steps: int) -> bool:
    """Every PREVIEW_EVERY steps, never on the last step (the real image follows at once)."""
    return step % PREVIEW_EVERY == 0 and step < steps
