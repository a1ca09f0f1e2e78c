"""Telling SD 1.x, SD 2.x and SDXL (and their inpainting variants) apart from the weights themselves.

Never from file names: a checkpoint called `sd15-inpaint.safetensors` may be
anything. Single files are read by their tensor names and the UNet's input
channels (from the safetensors header only, no loading); diffusers folders by
their UNet and text-encoder configs, which describe the weights next to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo, read_safetensors_header


class Family(StrEnum):
    SD1 = "sd1"
    SD2 = "sd2"
    SDXL = "sdxl"


@dataclass(frozen=True)
class Architecture:
    family: Family
    inpaint: bool
    """A 9-channel UNet (latents + mask + masked image) trained for inpainting."""

    @property
    def name(self) -> str:
        return f"{self.family}-inpaint" if self.inpaint else str(self.family)

    @property
    def native(self) -> tuple[int, int, int]:
        """(long side min, long side max, max pixels) the model was trained around."""
        return NATIVE[self.family]

    @classmethod
    def parse(cls, name: str) -> Architecture:
        family, _, variant = name.partition("-")
        if variant not in ("", "inpaint"):
            raise ValueError(f"Unknown architecture '{name}'.")
        return cls(Family(family), variant == "inpaint")


NATIVE = {
    Family.SD1: (512, 768, 512 * 768),
    Family.SD2: (512, 768, 768 * 768),
    Family.SDXL: (768, 1216, 1024 * 1024),
}

_UNET = "model.diffusion_model."
_CONV_IN = _UNET + "input_blocks.0.0.weight"


def detect_from_tensors(tensors: dict[str, TensorInfo], where: Path) -> Architecture:
    """The architecture of an original (LDM-layout) single-file checkpoint."""
    conv_in = tensors.get(_CONV_IN)
    if conv_in is None or len(conv_in.shape) != 4:
        if any(name.startswith(("down_blocks.", "unet.", "transformer.")) for name in tensors):
            raise ModelFileError(f"{where} holds a lone model component, not a whole Stable Diffusion checkpoint; "
                                 "point at the full checkpoint or at a diffusers folder.")
        raise ModelFileError(f"{where} is not a Stable Diffusion checkpoint (no UNet weights found). "
                             "Use an SD 1.x, SD 2.x or SDXL checkpoint, or a diffusers folder.")
    inpaint = conv_in.shape[1] == 9
    if conv_in.shape[1] not in (4, 9):
        raise ModelFileError(f"{where} has a UNet with {conv_in.shape[1]} input channels; Underpaint runs "
                             "regular (4) and inpainting (9) Stable Diffusion UNets.")
    if any(name.startswith("conditioner.embedders.1.") for name in tensors):
        return Architecture(Family.SDXL, inpaint)
    if any(name.startswith("conditioner.embedders.0.model.") for name in tensors):
        raise ModelFileError(f"{where} is an SDXL refiner; it refines SDXL output and cannot be used alone.")
    if any(name.startswith("cond_stage_model.model.") for name in tensors):
        return Architecture(Family.SD2, inpaint)
    if any(name.startswith("cond_stage_model.transformer.") for name in tensors):
        return Architecture(Family.SD1, inpaint)
    raise ModelFileError(f"{where} has a UNet but no text encoder Underpaint recognises "
                         "(expected SD 1.x, SD 2.x or SDXL).")


def detect_single_file(path: Path) -> Architecture:
    if path.suffix != ".safetensors":
        raise ModelFileError(f"{path}: only .safetensors files can be inspected without running code in them.")
    return detect_from_tensors(read_safetensors_header(path), path)


def _config(folder: Path, component: str) -> dict[str, Any]:
    path = folder / component / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{folder} is not a complete diffusers folder: {path} is missing. "
                             "Copy or download the whole folder again.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is corrupt ({exc}); copy or download the folder again.") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path} is corrupt; copy or download the folder again.")
    return data


def detect_folder(folder: Path) -> Architecture:
    """The architecture of a diffusers folder, from the configs that describe its weights."""
    unet = _config(folder, "unet")
    in_channels = int(unet.get("in_channels", 4))
    if in_channels not in (4, 9):
        raise ModelFileError(f"{folder} has a UNet with {in_channels} input channels; Underpaint runs "
                             "regular (4) and inpainting (9) Stable Diffusion UNets.")
    inpaint = in_channels == 9
    if unet.get("addition_embed_type") == "text_time":
        if not (folder / "text_encoder").is_dir():
            raise ModelFileError(f"{folder} is an SDXL refiner; it refines SDXL output and cannot be used alone.")
        return Architecture(Family.SDXL, inpaint)
    text = _config(folder, "text_encoder")
    # OpenCLIP (SD 2.x) uses gelu; OpenAI's CLIP ViT-L (SD 1.x) quick_gelu.
    family = Family.SD2 if text.get("hidden_act") == "gelu" else Family.SD1
    return Architecture(family, inpaint)


def detect(source: Path) -> Architecture:
    if source.is_dir():
        return detect_folder(source)
    if not source.exists():
        raise ModelFileError(f"Model file {source} does not exist. Check the path, or re-add the model with "
                             "`underpaint models add NAME PATH`.")
    return detect_single_file(source)
