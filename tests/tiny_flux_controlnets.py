"""Random-weight FLUX.1 ControlNets for the tiny FLUX models, saved as the diffusers folders users download.

Each is `FluxControlNetModel.from_transformer` on the tiny [dev] transformer (what diffusers' FLUX ControlNet
training script starts from), in InstantX's layout (the control image enters through the VAE and
`controlnet_x_embedder`, no `input_hint_block`), with its zero layers (`controlnet_x_embedder` and the
residual projections into the transformer's blocks) drawn at random: freshly made they are zeros, and a
ControlNet that adds zeros changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import FluxControlNetModel

from tiny_flux import flux_transformer

ZERO_SCALE = 0.3
"""Spread of the randomised zero layers: enough to move the tiny transformer's output visibly."""


def make_flux_controlnet(seed: int, scale: float = ZERO_SCALE, guidance: bool = True) -> FluxControlNetModel:
    """A ControlNet for the tiny FLUX transformer (with `guidance`: [dev]'s), its blocks copied, zero layers random."""
    transformer = flux_transformer(guidance)
    config = transformer.config
    controlnet = FluxControlNetModel.from_transformer(
        transformer, num_layers=1, num_single_layers=1, attention_head_dim=config.attention_head_dim,
        num_attention_heads=config.num_attention_heads)
    generator = torch.Generator().manual_seed(seed)
    zero_layers = [controlnet.controlnet_x_embedder, *controlnet.controlnet_blocks,
                   *controlnet.controlnet_single_blocks]
    with torch.no_grad():
        for layer in zero_layers:
            for parameter in layer.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return controlnet


def save_flux_controlnet(folder: Path, seed: int = 0, guidance: bool = True) -> Path:
    """A tiny FLUX ControlNet as a diffusers folder (config.json + diffusion_pytorch_model.safetensors)."""
    make_flux_controlnet(seed, guidance=guidance).save_pretrained(folder, safe_serialization=True)
    return folder
