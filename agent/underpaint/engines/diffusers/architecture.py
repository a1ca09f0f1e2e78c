"""Telling the model families apart from the weights themselves: SD 1.x, SD 2.x and SDXL (and their
inpainting variants), FLUX.1 [dev], [schnell], Fill and Kontext, and SD 3.5.

Never from file names: a checkpoint called `sd15-inpaint.safetensors` may be
anything. Single files are read by their tensor names and the UNet's input
channels (from the safetensors header only, no loading); diffusers folders by
their UNet (or transformer) and text-encoder configs, which describe the weights
next to them.
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
    FLUX_DEV = "flux-dev"
    FLUX_SCHNELL = "flux-schnell"
    FLUX_FILL = "flux-fill"
    FLUX_KONTEXT = "flux-kontext"
    SD3 = "sd3"

    @property
    def lineage(self) -> Family:
        """The family whose add-ons (LoRAs) this one takes: every FLUX.1 model shares [dev]'s transformer layout."""
        return Family.FLUX_DEV if self.value.startswith("flux-") else self

    @property
    def unet(self) -> bool:
        """A UNet model (SD 1.x/2.x/SDXL), as opposed to a flow-matching transformer (FLUX, SD 3.5)."""
        return self in (Family.SD1, Family.SD2, Family.SDXL)


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
        family = name.removesuffix("-inpaint")
        try:
            parsed = Family(family)
        except ValueError:
            raise ValueError(f"Unknown architecture '{name}'.") from None
        if family != name and not parsed.unet:
            raise ValueError(f"Unknown architecture '{name}'.")
        return cls(parsed, family != name)


NATIVE = {
    Family.SD1: (512, 768, 512 * 768),
    Family.SD2: (512, 768, 768 * 768),
    Family.SDXL: (768, 1216, 1024 * 1024),
    # FLUX.1 was trained from 256 to 2 MP; 1 MP is where all its variants (Kontext's preferred sizes) sit.
    Family.FLUX_DEV: (768, 1536, 1024 * 1024),
    Family.FLUX_SCHNELL: (768, 1536, 1024 * 1024),
    Family.FLUX_FILL: (768, 1536, 1024 * 1024),
    Family.FLUX_KONTEXT: (672, 1568, 1024 * 1024),
    Family.SD3: (768, 1440, 1024 * 1024),
}

_UNET = "model.diffusion_model."
_CONV_IN = _UNET + "input_blocks.0.0.weight"


def detect_from_tensors(tensors: dict[str, TensorInfo], where: Path) -> Architecture:
    """The architecture of an original (LDM-layout) single-file checkpoint."""
    refuse_transformer_file(tensors, where)
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
    if (folder / "transformer").is_dir():
        return detect_transformer_folder(folder)
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


_FLUX_FILE = ("double_blocks.", "single_blocks.", "model.diffusion_model.double_blocks.", "single_transformer_blocks.")
_SD3_FILE = ("joint_blocks.", "model.diffusion_model.joint_blocks.")


def refuse_transformer_file(tensors: dict[str, TensorInfo], where: Path) -> None:
    """FLUX and SD 3.5 single files: diffusers loads them only beside a whole pipeline's other parts (text
    encoders, VAE, tokenizers) fetched from the hub, so they are refused with what to point at instead."""
    if any(name.startswith(_FLUX_FILE) for name in tensors):
        raise ModelFileError(f"{where} holds a FLUX.1 transformer alone, without the text encoders and VAE it "
                             "needs. Point at a diffusers folder instead (model_index.json with transformer/, vae/, "
                             "text_encoder/, text_encoder_2/ beside it, as black-forest-labs/FLUX.1-dev ships), or "
                             "at its Hugging Face cache folder (`underpaint models pull black-forest-labs/FLUX.1-dev`)"
                             "; to use a fine-tuned transformer, put it in such a folder's transformer/.")
    if any(name.startswith(_SD3_FILE) for name in tensors):
        raise ModelFileError(f"{where} is a Stable Diffusion 3.5 single file, which diffusers loads only with the "
                             "pipeline's configs and tokenizers from the hub. Point at a diffusers folder instead "
                             "(stabilityai/stable-diffusion-3.5-large or -medium, or its Hugging Face cache folder).")


def detect_transformer_folder(folder: Path) -> Architecture:
    """FLUX.1 and SD 3.5 diffusers folders, by their transformer's config."""
    transformer = _config(folder, "transformer")
    kind = transformer.get("_class_name")
    if kind == "SD3Transformer2DModel":
        return Architecture(Family.SD3, inpaint=False)
    if kind != "FluxTransformer2DModel":
        raise ModelFileError(f"{folder} holds a {kind or 'transformer'} model; Underpaint runs FLUX.1 and "
                             "Stable Diffusion 3.5 transformers (and SD 1.x/2.x/SDXL UNets).")
    vae = _config(folder, "vae")
    packed = 4 * int(vae.get("latent_channels", 16))  # FLUX packs 2x2 latent pixels into one token
    in_channels = int(transformer.get("in_channels", 64))
    if in_channels > packed:
        # Fill's transformer reads the masked image's latents and the mask beside the noisy latents.
        return Architecture(Family.FLUX_FILL, inpaint=False)
    if not transformer.get("guidance_embeds", False):
        return Architecture(Family.FLUX_SCHNELL, inpaint=False)
    # Kontext's weights have [dev]'s shapes and config exactly: the weights alone cannot tell Kontext from
    # [dev]. The folder's pipeline class (model_index.json) is the one thing that does.
    if _pipeline_class(folder) == "FluxKontextPipeline":
        return Architecture(Family.FLUX_KONTEXT, inpaint=False)
    return Architecture(Family.FLUX_DEV, inpaint=False)


def _pipeline_class(folder: Path) -> str:
    path = folder / "model_index.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is corrupt ({exc}); copy or download the folder again.") from None
    return str(data.get("_class_name", "")) if isinstance(data, dict) else ""


def detect(source: Path) -> Architecture:
    if source.is_dir():
        return detect_folder(source)
    if not source.exists():
        raise ModelFileError(f"Model file {source} does not exist. Check the path, or re-add the model with "
                             "`underpaint models add NAME PATH`.")
    return detect_single_file(source)
