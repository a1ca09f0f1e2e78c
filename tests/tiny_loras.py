"""Random-weight LoRAs for the tiny pipelines (and the benchmark's full-size one), in the formats users download.

- kohya (sd-scripts; most shared LoRAs): `lora_unet_*` / `lora_te_*` (SDXL: `lora_te1_*`,
  `lora_te2_*`) modules with `lora_down`, `lora_up` and `alpha`; UNet modules named in the
  diffusers layout for SD 1.x/2.x and in the original (SGM) layout for SDXL, text encoders
  with transformers' `text_model_` prefix, as sd-scripts writes them.
- diffusers/peft: peft adapters added to the UNet and text encoders and written by the
  pipeline's own `save_lora_weights` with their adapter metadata, as diffusers' training
  scripts do.

Both cover the attention projections and the transformers' `proj_in`/`proj_out` (a
convolution in SD 1.x, a linear layer in SD 2.x and SDXL), with small random up and
down weights (peft initialises `lora_B` to zeros, which would change nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, inject_adapter_in_model
from safetensors.torch import save_file

from tiny_pipelines import _checkpoint_pipeline, _unet_to_ldm

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
RANK, SCALE = 4, 0.5
"""Alpha is half the rank, not equal to it, so a loader that ignored alpha (or the adapter metadata) gives
other pixels."""


def _targets(module: torch.nn.Module, suffixes: tuple[str, ...]) -> dict[str, torch.nn.Module]:
    return {name: layer for name, layer in module.named_modules()
            if isinstance(layer, torch.nn.Linear | torch.nn.Conv2d) and name.endswith(suffixes)}


def _text_encoders(pipe: Any) -> list[torch.nn.Module]:
    return [m for m in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if m is not None]


def _down_up(layer: torch.nn.Module, rank: int, generator: torch.Generator, scale: float
             ) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(layer, torch.nn.Conv2d):  # 1x1 projections in SD 1.x
        down_shape: tuple[int, ...] = (rank, layer.in_channels, 1, 1)
        up_shape: tuple[int, ...] = (layer.out_channels, rank, 1, 1)
    else:
        assert isinstance(layer, torch.nn.Linear)
        down_shape, up_shape = (rank, layer.in_features), (layer.out_features, rank)
    return (torch.randn(down_shape, generator=generator) * scale, torch.randn(up_shape, generator=generator) * scale)


def kohya_state_dict(pipe: Any, seed: int = 0, rank: int = RANK, scale: float = SCALE) -> dict[str, torch.Tensor]:
    """A kohya-format LoRA for `pipe`'s UNet and text encoders; factors drawn from N(0, scale^2)."""
    generator = torch.Generator().manual_seed(seed)
    sdxl = hasattr(pipe, "text_encoder_2")
    modules: dict[str, torch.nn.Module] = {}
    for name, layer in _targets(pipe.unet, UNET_TARGETS).items():
        if sdxl:  # sd-scripts names SDXL's UNet in the original layout: input_blocks_4_1_...
            name = next(iter(_unet_to_ldm({name + ".weight": torch.zeros(1)}, dict(pipe.unet.config))))
            name = name.removeprefix("model.diffusion_model.").removesuffix(".weight")
        modules["lora_unet_" + name] = layer
    for index, encoder in enumerate(_text_encoders(pipe), start=1):
        prefix = f"lora_te{index}_" if sdxl else "lora_te_"
        for name, layer in _targets(encoder, TEXT_TARGETS).items():
            modules[prefix + "text_model." + name.removeprefix("text_model.")] = layer
    state: dict[str, torch.Tensor] = {}
    for name, layer in modules.items():
        key = name.replace(".", "_")
        down, up = _down_up(layer, rank, generator, scale)
        state |= {f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                  f"{key}.alpha": torch.tensor(float(rank // 2))}
    return state


def save_kohya_lora(model_folder: Path, path: Path, seed: int = 0) -> Path:
    """A kohya LoRA for the tiny diffusers model at `model_folder`, as one .safetensors file."""
    save_file(kohya_state_dict(_checkpoint_pipeline(model_folder), seed), str(path))
    return path


def _peft_layers(module: torch.nn.Module, targets: tuple[str, ...], generator: torch.Generator
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """peft adapter layers for `module` with random weights, named as peft's state dict names them
    (`...to_q.lora_A.weight`), and the adapter config that `save_lora_weights` keeps as metadata."""
    config = LoraConfig(r=RANK, lora_alpha=RANK // 2, target_modules=list(targets))
    inject_adapter_in_model(config, module)
    state: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if ".lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * SCALE)
                state[name.replace(".default", "")] = parameter.detach().clone()
    return state, config.to_dict()


def save_diffusers_lora(model_folder: Path, path: Path, seed: int = 0) -> Path:
    """A diffusers/peft-format LoRA for the tiny model at `model_folder`, written by `save_lora_weights`."""
    pipe = _checkpoint_pipeline(model_folder)
    generator = torch.Generator().manual_seed(seed)
    unet, unet_meta = _peft_layers(pipe.unet, UNET_TARGETS, generator)
    text, text_meta = _peft_layers(pipe.text_encoder, TEXT_TARGETS, generator)
    extra: dict[str, Any] = {}
    if hasattr(pipe, "text_encoder_2"):
        text_2, text_2_meta = _peft_layers(pipe.text_encoder_2, TEXT_TARGETS, generator)
        extra = {"text_encoder_2_lora_layers": text_2, "text_encoder_2_lora_adapter_metadata": text_2_meta}
    type(pipe).save_lora_weights(path.parent, unet_lora_layers=unet, text_encoder_lora_layers=text,
                                 unet_lora_adapter_metadata=unet_meta, text_encoder_lora_adapter_metadata=text_meta,
                                 weight_name=path.name, **extra)
    return path


TINY_LORAS = {"ink": ("sd15", "kohya"), "wash": ("sd15", "diffusers"),
              "xl-ink": ("sdxl", "kohya"), "xl-wash": ("sdxl", "diffusers")}
"""Name -> (tiny model it is made for, format): one of each format per family."""


def build_tiny_loras(models: Path, root: Path) -> dict[str, Path]:
    """The TINY_LORAS for the tiny models in `models` (tiny_pipelines.build_tiny_models), as files under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    save = {"kohya": save_kohya_lora, "diffusers": save_diffusers_lora}
    return {name: save[layout](models / model, root / f"{name}.safetensors", seed=index)
            for index, (name, (model, layout)) in enumerate(TINY_LORAS.items(), start=1)}
