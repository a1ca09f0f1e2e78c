"""Telling a ControlNet from other weights, and which architecture it was made for, from its tensors alone.

ControlNets come as a diffusers folder (config.json + diffusion_pytorch_model.safetensors) or as one
.safetensors file in either of two layouts: diffusers' (`controlnet_cond_embedding.*`, `down_blocks.*`,
`controlnet_down_blocks.*`) or lllyasviel's original one (`control_model.input_hint_block.*`,
`control_model.zero_convs.*`, the UNet encoder under its LDM names). The architecture is the UNet's
whose encoder the ControlNet copies:
- SDXL conditions on text and time, so its ControlNets carry the add embedding (`add_embedding.*`,
  originally `label_emb.*`);
- SD 1.x projects into its transformers with 1x1 convolutions, SD 2.x with linear layers;
- real models' cross-attention widths differ too: 768 (1.x), 1024 (2.x), 2048 (SDXL).
FLUX.1 ControlNets (FluxControlNetModel: `controlnet_blocks.*` projecting into a copy of the transformer's
`x_embedder` and `transformer_blocks`) come as diffusers folders; they are made for [dev] when they embed the
distilled guidance (`time_text_embed.guidance_embedder.*`), as every published one does, else for [schnell].
The kind (canny, depth...) is not in the weights: whoever registers one says it. Like checkpoints, never
from file names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo, read_safetensors_header

WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")
"""A diffusers ControlNet folder's weights: full precision, or only the fp16 variant some repos ship."""
_MARKERS = ("controlnet_cond_embedding.", "control_model.input_hint_block.")
_ADD_EMBEDDING = re.compile(r"^(add_embedding|label_emb)\.")
_PROJECTION = re.compile(r"\.proj_in\.weight$")
_CONTEXT = re.compile(r"\.attn2\.to_k\.weight$")
_CONTEXT_WIDTHS = {768: Family.SD1, 1024: Family.SD2, 2048: Family.SDXL}
_FOLDER_CLASSES = ("ControlNetModel", "FluxControlNetModel", "SD3ControlNetModel")
"""The ControlNet classes a diffusers folder's config may name (SD 3.5's are recognised, to be refused)."""
_TRANSFORMER_MARKERS = ("controlnet_blocks.", "controlnet_single_blocks.")
_FLUX_TENSORS = ("x_embedder.", "double_blocks.")


def is_controlnet_folder(folder: Path) -> bool:
    """A diffusers folder holding one ControlNet (its config names the class)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("_class_name") in _FOLDER_CLASSES


def folder_weights(folder: Path) -> Path:
    """The safetensors file of a diffusers ControlNet folder (pickled .bin weights are refused: they can run code)."""
    for name in WEIGHT_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ModelFileError(f"ControlNet folder {folder} has no {WEIGHT_NAMES[0]}: copy or download it again "
                         "(pickled .bin weights can run code when loaded; convert them to .safetensors).")


def controlnet_tensors(path: Path) -> dict[str, TensorInfo] | None:
    """The tensors of the ControlNet at `path` (a folder or a .safetensors file), or None when it is no ControlNet.

    Raises ModelFileError for a ControlNet whose weights are missing, truncated or corrupt.
    """
    if path.is_dir():
        return read_safetensors_header(folder_weights(path)) if is_controlnet_folder(path) else None
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    tensors = read_safetensors_header(path)
    return tensors if any(name.startswith(_MARKERS + _TRANSFORMER_MARKERS) for name in tensors) else None


def detect_controlnet(tensors: dict[str, TensorInfo], where: Path) -> Family:
    """The family of the base model a ControlNet was made for."""
    if any(name.startswith(_TRANSFORMER_MARKERS) for name in tensors):
        return _transformer_family(tensors, where)
    names = {name.removeprefix("control_model."): info.shape for name, info in tensors.items()}
    if any(_ADD_EMBEDDING.match(name) for name in names):
        return Family.SDXL
    projections = {len(shape) for name, shape in names.items() if _PROJECTION.search(name)}
    if projections == {4}:
        return Family.SD1
    if projections == {2}:
        return Family.SD2
    widths = {shape[1] for name, shape in names.items() if _CONTEXT.search(name) and len(shape) == 2}
    family = _CONTEXT_WIDTHS.get(widths.pop()) if len(widths) == 1 else None
    if family is None:
        raise ModelFileError(f"{where} is a ControlNet, but not one for an architecture Underpaint recognises "
                             "(SD 1.x, SD 2.x or SDXL, told apart by its transformers and their widths).")
    return family


def _transformer_family(tensors: dict[str, TensorInfo], where: Path) -> Family:
    """A transformer ControlNet's family: FLUX.1 [dev] or [schnell]; SD 3.5's, FLUX union ControlNets and FLUX
    single files are refused with what to use instead."""
    if not any(name.startswith(_FLUX_TENSORS) for name in tensors):
        raise ModelFileError(f"{where} is a Stable Diffusion 3 ControlNet; Underpaint runs ControlNets for SD 1.x, "
                             "SD 2.x, SDXL and FLUX.1 [dev]/[schnell] models, none for SD 3.5 yet.")
    if not where.is_dir():
        raise ModelFileError(f"{where} is a FLUX.1 ControlNet as one file, which diffusers loads only from a "
                             "folder: point at its diffusers folder (config.json + "
                             "diffusion_pytorch_model.safetensors, as InstantX and Shakker-Labs publish them).")
    if any(name.startswith("controlnet_mode_embedder.") for name in tensors):
        raise ModelFileError(f"{where} is a FLUX.1 union ControlNet (one model for several control kinds, chosen "
                             "by a mode number per job), which Underpaint does not run yet; use a ControlNet "
                             "trained for one kind.")
    guided = any(name.startswith("time_text_embed.guidance_embedder.") for name in tensors)
    return Family.FLUX_DEV if guided else Family.FLUX_SCHNELL
