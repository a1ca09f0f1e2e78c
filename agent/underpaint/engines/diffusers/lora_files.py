"""Telling a LoRA from a checkpoint, and which architecture it was made for, from its tensors alone.

LoRAs come in two layouts: kohya's (sd-scripts, most shared files) `lora_unet_*` /
`lora_te*_*` modules with `lora_down`, `lora_up` and `alpha`, and diffusers'/peft's
`unet.*` / `text_encoder*.*` with `lora_A` and `lora_B` (older files: `lora.down`,
`lora_linear_layer.down`). The architecture shows in what the factors attach to:
- SDXL has a second text encoder (`lora_te2_`, `text_encoder_2.`), is the one architecture
  kohya names by the original blocks (`input_blocks_4_1_...`), and the only one with more
  than one transformer block per attention layer;
- SD 1.x projects into its transformers with 1x1 convolutions, SD 2.x with linear layers;
- real models' widths differ too: cross-attention context 768 (1.x), 1024 (2.x), 2048 (SDXL).
FLUX.1 and SD 3.5 LoRAs change a transformer: kohya names FLUX's blocks as Black Forest Labs do
(`lora_unet_double_blocks_*`, `lora_unet_single_blocks_*`) and SD 3.5's as Stability does
(`lora_unet_joint_blocks_*`); diffusers' files name `transformer.transformer_blocks.*` for both, and only
FLUX has `single_transformer_blocks` (or, in a file that leaves those out, FLUX's 3072-wide attention).
Like checkpoints, never from file names.
"""

from __future__ import annotations

import re
from pathlib import Path

from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo

_DOWN = re.compile(r"(lora_down|lora\.down|lora_A|lora_linear_layer\.down)\.weight$")
_LYCORIS = re.compile(r"\.(hada|lokr)_w")
_SDXL = re.compile(r"^(lora_te2_|text_encoder_2_|lora_unet_(input_blocks|middle_block|output_blocks)_)"
                   r"|_transformer_blocks_[1-9]")
_PROJECTION = re.compile(r"_proj_(in|out)_")
_CONTEXT = re.compile(r"_attn2_to_k_")
_TEXT_QUERY = re.compile(r"^(lora_te_|text_encoder_)(text_model_)?encoder_layers_\d+_self_attn_q_proj_")
_CONTEXT_WIDTHS = {768: Family.SD1, 1024: Family.SD2, 2048: Family.SDXL}
_TEXT_WIDTHS = {768: Family.SD1, 1024: Family.SD2}
_FLUX = re.compile(r"^(lora_unet_(double|single)_blocks_|(transformer_)?single_transformer_blocks_"
                   r"|(diffusion_model_)?(double|single)_blocks_)")
_SD3 = re.compile(r"^(lora_unet_joint_blocks_|(diffusion_model_)?joint_blocks_)")
_TRANSFORMER = re.compile(r"^transformer_transformer_blocks_\d+_attn_to_q_")
FLUX_WIDTH = 3072


def is_lora(tensors: dict[str, TensorInfo]) -> bool:
    return any(_DOWN.search(name) or _LYCORIS.search(name) for name in tensors)


def detect_lora(tensors: dict[str, TensorInfo], where: Path) -> Family:
    """The family a LoRA file was made for (LoRAs fit a family's inpainting models too)."""
    if any(_LYCORIS.search(name) for name in tensors):
        raise ModelFileError(f"{where} is a LyCORIS LoHa/LoKr adapter, which Underpaint cannot apply; "
                             "use a plain LoRA (kohya or diffusers format).")
    downs = {name.replace(".", "_"): info.shape for name, info in tensors.items() if _DOWN.search(name)}
    if any(_FLUX.search(name) for name in downs):
        return Family.FLUX_DEV
    if any(_SD3.search(name) for name in downs):
        return Family.SD3
    attention = {shape[-1] for name, shape in downs.items() if _TRANSFORMER.search(name)}
    if attention:
        return Family.FLUX_DEV if attention == {FLUX_WIDTH} else Family.SD3
    if any(_SDXL.search(name) for name in downs):
        return Family.SDXL
    projections = {len(shape) for name, shape in downs.items() if _PROJECTION.search(name)}
    if projections == {4}:
        return Family.SD1
    if projections == {2}:
        return Family.SD2
    for pattern, widths in ((_CONTEXT, _CONTEXT_WIDTHS), (_TEXT_QUERY, _TEXT_WIDTHS)):
        found = {shape[1] for name, shape in downs.items() if pattern.search(name) and len(shape) > 1}
        family = widths.get(found.pop()) if len(found) == 1 else None
        if family is not None:
            return family
    raise ModelFileError(f"{where} is a LoRA, but not one for an architecture Underpaint recognises "
                         "(SD 1.x, SD 2.x, SDXL, FLUX.1 or SD 3.5, told apart by the layers it changes and their "
                         "widths).")
