"""The LoRA being trained: peft adapters on the UNet (and text encoders), their state, the kohya file.

Adapters go where kohya's sd-scripts and diffusers' training scripts put them: the attention
projections and the transformers' `proj_in`/`proj_out` of the UNet, the self-attention projections
of the text encoders. The file is written in kohya's key layout (`lora_unet_*`, `lora_te_*`, with
`lora_down`/`lora_up`/`alpha`), which AUTOMATIC1111, ComfyUI, Forge, InvokeAI and diffusers'
`load_lora_weights` all read; the keys come from diffusers' own converter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from diffusers.utils.state_dict_utils import convert_state_dict_to_kohya
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model, set_peft_model_state_dict
from safetensors.torch import save_file

from underpaint.engines.diffusers.architecture import Family

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def text_encoders(pipe: Any) -> dict[str, torch.nn.Module]:
    """The pipeline's text encoders by the prefix diffusers' LoRA files give them."""
    encoders = {"text_encoder": pipe.text_encoder}
    if getattr(pipe, "text_encoder_2", None) is not None:
        encoders["text_encoder_2"] = pipe.text_encoder_2
    return encoders


def trained_modules(pipe: Any, with_text: bool) -> dict[str, torch.nn.Module]:
    """The modules that carry adapters, by file prefix."""
    return {"unet": pipe.unet} | (text_encoders(pipe) if with_text else {})


def add_adapters(pipe: Any, rank: int, alpha: float, with_text: bool) -> list[torch.nn.Parameter]:
    """Fresh adapters (lora_B zero, so step 0 is the base model), their parameters in fp32 for the optimizer."""
    for name, module in trained_modules(pipe, with_text).items():
        targets = UNET_TARGETS if name == "unet" else TEXT_TARGETS
        # peft's own injection for every module: transformers' add_adapter wants a newer peft than diffusers.
        config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian",  # type: ignore[arg-type]
                            target_modules=targets)  # peft scales by alpha / r in floats; its hint says int
        inject_adapter_in_model(config, module)
    parameters = [p for module in trained_modules(pipe, with_text).values() for p in module.parameters()
                  if p.requires_grad]
    for parameter in parameters:
        # The frozen base may be bf16/fp16; the few trained weights stay fp32, so small updates are not lost.
        parameter.data = parameter.data.float()
    return parameters


def adapter_state(pipe: Any, with_text: bool) -> dict[str, torch.Tensor]:
    """The adapters' weights in peft's layout, each key led by its module's prefix (`unet.`, ...)."""
    return {f"{prefix}.{key}": value.detach().to("cpu", torch.float32).contiguous()
            for prefix, module in trained_modules(pipe, with_text).items()
            for key, value in get_peft_model_state_dict(module).items()}


def load_adapter_state(pipe: Any, with_text: bool, state: dict[str, torch.Tensor]) -> None:
    for prefix, module in trained_modules(pipe, with_text).items():
        own = {key.removeprefix(prefix + "."): value for key, value in state.items()
               if key.startswith(prefix + ".")}
        unexpected: list[str] = set_peft_model_state_dict(module, own).unexpected_keys  # type: ignore[attr-defined]
        if unexpected:
            raise ValueError(f"checkpoint does not fit this model: {unexpected[:3]}")


def kohya_state(state: dict[str, torch.Tensor], family: Family, alpha: float) -> dict[str, torch.Tensor]:
    """peft-layout adapter weights as kohya keys, with the alpha they were trained with."""
    kohya: dict[str, torch.Tensor] = convert_state_dict_to_kohya(state)  # type: ignore[no-untyped-call]
    out: dict[str, torch.Tensor] = {}
    for key, value in kohya.items():
        module, _, kind = key.partition(".")
        # diffusers' converter writes the rank as alpha (scale 1) and calls SD 1.x's one encoder `te1`, and
        # transformers 5 dropped CLIP's `text_model.` level: kohya's names keep it and use `lora_te_` outside SDXL.
        if kind == "alpha":
            value = torch.tensor(float(alpha))
        if module.startswith("lora_te1_") and family is not Family.SDXL:
            module = "lora_te_" + module.removeprefix("lora_te1_")
        for prefix in ("lora_te_", "lora_te1_", "lora_te2_"):
            if module.startswith(prefix) and not module.startswith(prefix + "text_model_"):
                module = prefix + "text_model_" + module.removeprefix(prefix)
        out[f"{module}.{kind}"] = value.contiguous()
    return out


def save_kohya(state: dict[str, torch.Tensor], family: Family, rank: int, alpha: float, path: Path,
               metadata: dict[str, Any]) -> None:
    """The LoRA file, written beside its final name and renamed over it (never half a file)."""
    header = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": str(alpha),
              "ss_base_model_version": {Family.SD1: "sd_v1", Family.SD2: "sd_v2", Family.SDXL: "sdxl_base_v1-0"}
              [family]} | {key: value if isinstance(value, str) else json.dumps(value)
                           for key, value in metadata.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    save_file(kohya_state(state, family, alpha), str(temporary), metadata=header)
    temporary.replace(path)
