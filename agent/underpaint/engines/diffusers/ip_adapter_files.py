"""Telling an IP-Adapter from other weights, what it was made for, and finding its image encoder.

An IP-Adapter file (h94/IP-Adapter's `ip-adapter_sd15.safetensors`, ...) holds two groups of tensors:
`image_proj.*`, which turns a CLIP image encoder's output into a few context tokens, and
`ip_adapter.N.to_k_ip.weight` / `to_v_ip.weight`, a key and a value projection for each cross-attention
layer of the UNet (N counts all its attention processors, so the cross-attention ones are the odd N).
- The family shows in the width those projections read, the UNet's cross-attention width: 768 (SD 1.x),
  1024 (SD 2.x), 2048 (SDXL). For a width no released model has (small test models), in how many
  cross-attention layers there are: 16 in SD 1.x/2.x UNets, 70 in SDXL's.
- Plain adapters project the encoder's pooled image embedding (`image_proj.proj.weight`, read at the
  encoder's projection_dim); plus adapters run a Resampler (`image_proj.latents`) over the encoder's
  penultimate hidden states (read at its hidden_size).
- FaceID adapters need face embeddings (insightface) and full-face ones a different projection; both are
  refused with a sentence.
The image encoder is a CLIPVisionModelWithProjection folder (config.json + model.safetensors), which h94
ships beside the adapters as `image_encoder/` (`models/`, `sdxl_models/`). Like checkpoints, never from
file names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import (
    ModelFileError,
    TensorInfo,
    content_sha256,
    file_sha256,
    fingerprint,
    read_safetensors_header,
)

ENCODER_FOLDER = "image_encoder"
"""Where h94/IP-Adapter keeps the image encoder: beside the adapter files."""
ENCODER_WEIGHTS = "model.safetensors"
_KEY = re.compile(r"^ip_adapter\.(\d+)\.to_k_ip\.weight$")
_WIDTHS = {768: Family.SD1, 1024: Family.SD2, 2048: Family.SDXL}
_SD1_LAYERS = 16


@dataclass(frozen=True)
class IpAdapterKind:
    """What an IP-Adapter file is: the family it was made for, plain or plus, and the width of the image
    features it reads (the encoder's projection_dim when plain, its hidden_size when plus)."""

    family: Family
    plus: bool
    image_width: int


@dataclass(frozen=True)
class IpAdapterFiles:
    adapter: Path
    encoder: Path
    kind: IpAdapterKind


def is_ip_adapter(tensors: dict[str, TensorInfo]) -> bool:
    return any(_KEY.match(name) for name in tensors) and any(name.startswith("image_proj.") for name in tensors)


def adapter_file(path: Path) -> Path | None:
    """The IP-Adapter file at `path` (the file itself, or the one IP-Adapter .safetensors directly in a folder);
    None when `path` holds none."""
    if path.is_file():
        return path if path.suffix == ".safetensors" and is_ip_adapter(read_safetensors_header(path)) else None
    if not path.is_dir() or (path / "model_index.json").exists() or (path / "config.json").exists():
        return None
    found = sorted(p for p in path.glob("*.safetensors") if is_ip_adapter(read_safetensors_header(p)))
    if len(found) > 1:
        raise ModelFileError(f"{path} holds several IP-Adapters ({', '.join(p.name for p in found)}); add each one "
                             f"by its file: `underpaint models add NAME {found[0]}`.")
    return found[0] if found else None


def detect_ip_adapter(tensors: dict[str, TensorInfo], where: Path) -> IpAdapterKind:
    """The kind of IP-Adapter whose tensors are `tensors`."""
    if "image_proj.proj.weight" in tensors:
        plus, image_width, width = False, tensors["image_proj.proj.weight"].shape[-1], "image_proj.norm.weight"
    elif "image_proj.latents" in tensors and "image_proj.proj_in.weight" in tensors:
        plus, image_width, width = True, tensors["image_proj.proj_in.weight"].shape[-1], "image_proj.proj_out.weight"
    elif any(name.startswith(("image_proj.perceiver_resampler.", "image_proj.norm.")) for name in tensors):
        raise ModelFileError(f"{where} is an IP-Adapter FaceID, which needs face embeddings (insightface) that "
                             "Underpaint does not compute; use a plain or plus IP-Adapter.")
    else:
        raise ModelFileError(f"{where} is an IP-Adapter of a kind Underpaint cannot run (full-face or another "
                             "image projection); use a plain or plus IP-Adapter.")
    keys = {int(m.group(1)): info.shape for name, info in tensors.items() if (m := _KEY.match(name))}
    contexts = {shape[-1] for shape in keys.values()}
    if len(contexts) != 1 or width not in tensors or tensors[width].shape[0] not in contexts:
        raise ModelFileError(f"{where} is not a consistent IP-Adapter (its layers read different widths); "
                             "download or copy it again.")
    context = contexts.pop()
    family = _WIDTHS.get(context) or (Family.SD1 if len(keys) == _SD1_LAYERS else Family.SDXL)
    return IpAdapterKind(family, plus, image_width)


def encoder_config(folder: Path) -> dict[str, object]:
    """The image encoder's config, after checking its weights are complete (ModelFileError naming what is wrong)."""
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"The IP-Adapter's image encoder {folder} is missing (no {config_path.name}); put "
                             f"the '{ENCODER_FOLDER}' folder it came with beside it, or give it with --image-encoder."
                             ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{config_path} is corrupt ({exc}); copy or download the image encoder again.") from None
    if not isinstance(config, dict) or config.get("model_type") != "clip_vision_model":
        raise ModelFileError(f"{folder} is not a CLIP image encoder (CLIPVisionModelWithProjection), which an "
                             "IP-Adapter needs.")
    weights = folder / ENCODER_WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f"The image encoder {folder} has no {ENCODER_WEIGHTS} (pickled .bin weights can run "
                             "code when loaded); copy or download it again.")
    read_safetensors_header(weights)
    return config


def describe(adapter: Path, encoder: Path | None) -> IpAdapterFiles:
    """The IP-Adapter at `adapter` with its image encoder (`encoder`, else the `image_encoder` folder beside
    it), checked to fit each other."""
    kind = detect_ip_adapter(read_safetensors_header(adapter), adapter)
    folder = encoder if encoder is not None else adapter.parent / ENCODER_FOLDER
    config = encoder_config(folder)
    field = "hidden_size" if kind.plus else "projection_dim"
    if config.get(field) != kind.image_width:
        raise ModelFileError(f"The image encoder {folder} gives features {config.get(field)} wide, but the "
                             f"{'plus' if kind.plus else 'plain'} IP-Adapter {adapter} reads {kind.image_width}: "
                             "give the encoder it was trained with (--image-encoder).")
    return IpAdapterFiles(adapter, folder, kind)


def files_sha256(adapter: Path, encoder: Path) -> str:
    """One content hash for the adapter and its encoder: both shape the output."""
    return hashlib.sha256(bytes.fromhex(file_sha256(adapter)) + bytes.fromhex(content_sha256(encoder))).hexdigest()


def files_fingerprint(adapter: Path, encoder: Path) -> str:
    return hashlib.sha256(f"{fingerprint(adapter)}|{fingerprint(encoder)}".encode()).hexdigest()[:16]
