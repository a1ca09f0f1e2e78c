"""Random-weight IP-Adapters for the tiny pipelines, with their image encoders, laid out as h94/IP-Adapter ships them.

An adapter is one .safetensors of the original training code's state dict: `image_proj.*` (plain: a linear
projection of the pooled image embedding to 4 context tokens and a LayerNorm; plus: a Resampler of 4
perceiver layers over the encoder's penultimate hidden states) and `ip_adapter.N.to_k_ip.weight` /
`to_v_ip.weight` for each cross-attention layer, N its index among all the UNet's attention processors.
The image encoder is a tiny CLIPVisionModelWithProjection saved with `save_pretrained` in an
`image_encoder/` folder beside the adapters, as in h94's `models/` (SD 1.5, a ViT-H-style encoder) and
`sdxl_models/` (a wider, bigG-style one).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

IMAGE_SIZE = 32
ENCODERS = {"models": (32, 16), "sdxl_models": (48, 24)}
"""h94's folder -> the (hidden_size, projection_dim) of its tiny encoder (the real ViT-H: 1280, 1024;
bigG: 1664, 1280)."""
TOKENS, RESAMPLER_WIDTH, RESAMPLER_DEPTH = 4, 64, 4
"""Plus adapters: context tokens, the Resampler's width (one 64-wide head, as diffusers reads the heads as
width / 64) and its depth (diffusers builds 4 layers)."""
SCALE = 0.5


def save_image_encoder(folder: Path, hidden: int, projection: int, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = CLIPVisionConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_attention_heads=4,
                              num_hidden_layers=2, image_size=IMAGE_SIZE, patch_size=8, projection_dim=projection)
    CLIPVisionModelWithProjection(config).save_pretrained(folder, safe_serialization=True)
    return folder


def _random(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=generator) * SCALE


def _plain_projection(cross: int, image_width: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {"proj.weight": _random(generator, TOKENS * cross, image_width),
            "proj.bias": _random(generator, TOKENS * cross),
            "norm.weight": 1 + _random(generator, cross), "norm.bias": _random(generator, cross)}


def _resampler(cross: int, image_width: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The original IP-Adapter Resampler's state dict (ip_adapter/resampler.py): latents, proj_in, perceiver
    attention + feed-forward layers, proj_out, norm_out."""
    width = RESAMPLER_WIDTH
    state = {"latents": _random(generator, 1, TOKENS, width), "proj_in.weight": _random(generator, width, image_width),
             "proj_in.bias": _random(generator, width), "proj_out.weight": _random(generator, cross, width),
             "proj_out.bias": _random(generator, cross), "norm_out.weight": 1 + _random(generator, cross),
             "norm_out.bias": _random(generator, cross)}
    for i in range(RESAMPLER_DEPTH):
        for norm in ("0.norm1", "0.norm2", "1.0"):
            state |= {f"layers.{i}.{norm}.weight": 1 + _random(generator, width),
                      f"layers.{i}.{norm}.bias": _random(generator, width)}
        state |= {f"layers.{i}.0.to_q.weight": _random(generator, width, width) / width ** 0.5,
                  f"layers.{i}.0.to_kv.weight": _random(generator, 2 * width, width) / width ** 0.5,
                  f"layers.{i}.0.to_out.weight": _random(generator, width, width) / width ** 0.5,
                  f"layers.{i}.1.1.weight": _random(generator, 4 * width, width) / width ** 0.5,
                  f"layers.{i}.1.3.weight": _random(generator, width, 4 * width) / width ** 0.5}
    return state


def ip_adapter_state(unet: UNet2DConditionModel, image_width: int, plus: bool, seed: int) -> dict[str, torch.Tensor]:
    """An IP-Adapter for `unet`'s layers, reading image features `image_width` wide."""
    generator = torch.Generator().manual_seed(seed)
    cross = int(unet.config.cross_attention_dim)
    projection = (_resampler if plus else _plain_projection)(cross, image_width, generator)
    state = {f"image_proj.{name}": value for name, value in projection.items()}
    for index, name in enumerate(unet.attn_processors):
        if name.endswith("attn2.processor"):
            inner = unet.get_submodule(name.removesuffix(".processor")).to_k.out_features
            state[f"ip_adapter.{index}.to_k_ip.weight"] = _random(generator, inner, cross)
            state[f"ip_adapter.{index}.to_v_ip.weight"] = _random(generator, inner, cross)
    return state


TINY_IP_ADAPTERS = {"ip-sd15": ("sd15", "models", "ip-adapter_sd15.safetensors", False),
                    "ip-sd15-plus": ("sd15", "models", "ip-adapter-plus_sd15.safetensors", True),
                    "ip-sdxl": ("sdxl", "sdxl_models", "ip-adapter_sdxl.safetensors", False)}
"""Name -> (tiny model it is made for, h94 folder, file name, plus)."""


def save_ip_adapter(model_folder: Path, path: Path, encoder: tuple[int, int], plus: bool, seed: int) -> Path:
    """An IP-Adapter for the tiny diffusers model at `model_folder`, reading an encoder of `encoder`'s
    (hidden_size, projection_dim), as one .safetensors at `path`."""
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(model_folder / "unet"))
    hidden, projection = encoder
    state = ip_adapter_state(unet, hidden if plus else projection, plus, seed)
    save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    return path


def build_tiny_ip_adapters(models: Path, root: Path) -> dict[str, Path]:
    """The TINY_IP_ADAPTERS for the tiny models in `models`, as `root/models/...` and `root/sdxl_models/...`,
    each folder with its `image_encoder/`; returns name -> adapter file."""
    for folder, (hidden, projection) in ENCODERS.items():
        save_image_encoder(root / folder / "image_encoder", hidden, projection)
    return {name: save_ip_adapter(models / model, root / folder / file_name, ENCODERS[folder], plus, seed)
            for seed, (name, (model, folder, file_name, plus)) in enumerate(TINY_IP_ADAPTERS.items(), start=1)}
