"""Random-weight ControlNets for the tiny pipelines (and the benchmark's full-size one), in the formats users download.

Each is `ControlNetModel.from_unet` on the tiny model's UNet (what diffusers' training script starts from),
with its zero convolutions (the conditioning embedding's last layer and the residual projections into the
UNet) drawn at random: freshly made they are zeros, and a ControlNet that adds zeros changes nothing.
Saved three ways, as ControlNets are shared:
- a diffusers folder (`save_pretrained`: config.json + diffusion_pytorch_model.safetensors);
- one .safetensors in the diffusers layout (`controlnet_cond_embedding.*`, `down_blocks.*`);
- one .safetensors in lllyasviel's original layout (`control_model.input_hint_block.*`,
  `control_model.zero_convs.*`, the UNet's encoder under its LDM names), SD 1.x only: diffusers
  converts that layout for SD 1.x/2.x ControlNets, and SDXL ones are published in the diffusers layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import ControlNetModel
from safetensors.torch import save_file

from tiny_pipelines import _checkpoint_pipeline, _unet_to_ldm

ZERO_SCALE = 0.3
"""Spread of the randomised zero convolutions: enough to move the tiny UNet's output visibly."""
CONDITIONING_CHANNELS = (8, 8, 16, 16)
"""The conditioning embedding's widths (real ControlNets: 16, 32, 96, 256); four stages, three halvings,
as the latents are an eighth of the image."""


def make_controlnet(unet: Any, seed: int, scale: float = ZERO_SCALE,
                    conditioning_channels: tuple[int, ...] = CONDITIONING_CHANNELS) -> ControlNetModel:
    """A ControlNet for `unet`'s architecture, encoder copied from it, zero convolutions random.

    Its latent input has 4 channels even for a 9-channel inpainting UNet: diffusers' inpaint pipelines
    give a ControlNet the noisy latents alone."""
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=conditioning_channels)
    if controlnet.conv_in.in_channels != 4:
        conv = controlnet.conv_in
        controlnet.conv_in = torch.nn.Conv2d(4, conv.out_channels, conv.kernel_size, padding=conv.padding)
        controlnet.register_to_config(in_channels=4)
    generator = torch.Generator().manual_seed(seed)
    zero_convs = [controlnet.controlnet_cond_embedding.conv_out, controlnet.controlnet_mid_block,
                  *controlnet.controlnet_down_blocks]
    with torch.no_grad():
        for conv in zero_convs:
            for parameter in conv.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return controlnet


def _original_layout(controlnet: ControlNetModel) -> dict[str, torch.Tensor]:
    """The ControlNet's weights under lllyasviel's names (the inverse of diffusers' convert_controlnet_checkpoint)."""
    state = controlnet.state_dict()
    encoder = {k: v for k, v in state.items() if not k.startswith("controlnet_")}
    out = {k.replace("model.diffusion_model.", "control_model.", 1): v
           for k, v in _unet_to_ldm(encoder, dict(controlnet.config)).items()}
    blocks = len(controlnet.controlnet_cond_embedding.blocks)
    hint = {"conv_in": 0, "conv_out": 2 * (blocks + 1)} | {f"blocks.{i}": 2 * (i + 1) for i in range(blocks)}
    for key, value in state.items():
        for ours, theirs in (("controlnet_down_blocks.", "zero_convs."),
                             ("controlnet_mid_block.", "middle_block_out.0.")):
            if key.startswith(ours):
                index, _, kind = key.removeprefix(ours).rpartition(".")
                out[f"control_model.{theirs}{index + '.0.' if index else ''}{kind}"] = value
        if key.startswith("controlnet_cond_embedding."):
            layer, _, kind = key.removeprefix("controlnet_cond_embedding.").rpartition(".")
            out[f"control_model.input_hint_block.{hint[layer]}.{kind}"] = value
    return out


def save_controlnet(controlnet: ControlNetModel, root: Path, name: str, original: bool = False) -> dict[str, Path]:
    """`controlnet` under `root` as a diffusers folder and a diffusers-layout single file (and, with
    `original`, an original-layout one): layout -> path."""
    folder = root / name
    controlnet.save_pretrained(folder, safe_serialization=True)
    state = {k: v.contiguous() for k, v in controlnet.state_dict().items()}
    paths = {"folder": folder, "diffusers": root / f"{name}.safetensors"}
    save_file(state, str(paths["diffusers"]))
    if original:
        paths["original"] = root / f"{name}-original.safetensors"
        save_file({k: v.contiguous() for k, v in _original_layout(controlnet).items()}, str(paths["original"]))
    return paths


TINY_CONTROLNETS = {"canny": ("sd15", 1), "scribble": ("sd15", 2), "tile": ("sd15", 3), "xl-canny": ("sdxl", 4)}
"""Name -> (tiny model whose UNet it is made from, seed); the name before any dash is the kind."""


def build_tiny_controlnets(models: Path, root: Path) -> dict[str, dict[str, Path]]:
    """The TINY_CONTROLNETS for the tiny models in `models` (tiny_pipelines.build_tiny_models) under `root`:
    name -> layout -> path (SD 1.5 ones in all three layouts, SDXL in the two diffusers ones)."""
    root.mkdir(parents=True, exist_ok=True)
    unets = {model: _checkpoint_pipeline(models / model).unet for model in {m for m, _ in TINY_CONTROLNETS.values()}}
    return {name: save_controlnet(make_controlnet(unets[model], seed), root, name, original=model == "sd15")
            for name, (model, seed) in TINY_CONTROLNETS.items()}
