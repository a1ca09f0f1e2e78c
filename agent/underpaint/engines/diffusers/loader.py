"""Loading a registered model into warm pipelines: one set of weights, its family's pipelines sharing it.

Folders load with `from_pretrained`, single-file checkpoints with
`from_single_file` (component configs and tokenizers from the entry's
`config`, else the architecture's reference repo, from the local Hugging Face
cache first). Hub models are pulled into that cache once and load as folders.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import (
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
)

from underpaint.engines.diffusers.architecture import Architecture, Family, detect, detect_from_tensors
from underpaint.engines.diffusers.casting import cast_module
from underpaint.engines.diffusers.checkpoint import (
    ModelFileError,
    TensorInfo,
    read_safetensors_header,
    weight_files,
)
from underpaint.engines.diffusers.device import COMPILE_MODES, Placement, channels_last_parts, for_transformers
from underpaint.engines.diffusers.families import FACTS, PipelineKind, base_kind
from underpaint.engines.diffusers.memory import quantization_config, quantization_unavailable
from underpaint.engines.diffusers.registry import ModelEntry

log = logging.getLogger(__name__)
Offload = Literal[False, True, "sequential"]
"""No offload; model offload (each component on the GPU only while it runs); sequential offload (each layer:
the least GPU memory, many times slower)."""
Quantize = Literal["none", "nf4", "int8"]

_CLASSES: dict[Family, dict[PipelineKind, Any]] = {
    Family.SD1: {"txt2img": StableDiffusionPipeline, "img2img": StableDiffusionImg2ImgPipeline,
                 "inpaint": StableDiffusionInpaintPipeline},
    Family.SDXL: {"txt2img": StableDiffusionXLPipeline, "img2img": StableDiffusionXLImg2ImgPipeline,
                  "inpaint": StableDiffusionXLInpaintPipeline},
}
_CLASSES[Family.SD2] = _CLASSES[Family.SD1]

REFERENCE_CONFIGS = {
    "sd1": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sd1-inpaint": "stable-diffusion-v1-5/stable-diffusion-inpainting",
    "sd2": "stabilityai/stable-diffusion-2-1",
    "sd2-inpaint": "stabilityai/stable-diffusion-2-inpainting",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "sdxl-inpaint": "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
}
"""Where a single-file checkpoint's component configs and tokenizers come from unless its entry names a folder."""

_STORED_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
"""safetensors' names of the dtypes a model's weights are stored in."""

VAE_TILING_PIXELS = 1536 * 1536
"""Decode in tiles above this working area: the VAE's activations, not the weights, then dominate memory."""


@dataclass(frozen=True)
class LoadOptions:
    placement: Placement
    offload: Offload = False
    compile: bool = False
    """torch.compile the UNet (inductor): minutes of warm-up on the first job of each working size, paid once
    per machine with `compile_cache` (docs/benchmarks.md)."""
    offline: bool = False
    compile_cache: Path | None = None
    """Where inductor keeps its compiled kernels and graphs between starts (TORCHINDUCTOR_CACHE_DIR, unless the
    user set it); None: torch's default, a folder under the system's temp folder."""
    drop_text_encoders: bool = False
    """Free a FLUX or SD 3.5 model's T5 encoder once a job's prompt is encoded, and read it back for the next
    job (engines/diffusers/memory.py)."""
    quantize: Quantize = "none"
    """A FLUX or SD 3.5 transformer's weights quantised on load, through a quantisation library diffusers supports."""

    def __post_init__(self) -> None:
        if self.compile and (missing := compile_unavailable(self.placement.device)) is not None:
            raise ValueError(f"compile = true cannot work here: {missing} Set compile = false.")
        if self.quantize != "none" and (missing := quantization_unavailable(self.quantize)) is not None:
            raise ValueError(f"quantize = {self.quantize} cannot work here: {missing}")


@dataclass(eq=False)
class LoadedModel:
    entry: ModelEntry
    arch: Architecture
    placement: Placement
    base: Any
    _pipes: dict[PipelineKind, Any] = field(default_factory=dict)
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)
    """LoRAs loaded into this model's UNet and text encoders: adapter name -> LoRA name, least recently used
    first (engines/diffusers/adapters.py)."""
    controlnets: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    """ControlNets loaded beside this model: content hash -> ControlNetModel, least recently used first
    (engines/diffusers/controlnets.py)."""
    control_pipes: dict[PipelineKind, Any] = field(default_factory=dict)
    """The ControlNet pipelines made from `base`, by kind (engines/diffusers/controlnets.py)."""

    def pipeline(self, kind: PipelineKind) -> Any:
        """The pipeline for `kind`, made on first use from the base one's components (no weight copies).

        Inpainting UNets run every mode through the inpaint pipeline (a full mask for generate).
        """
        if self.arch.inpaint:
            kind = "inpaint"
        if kind not in self._pipes:
            cls = pipeline_class(self.arch, kind)
            # from_pipe casts to its dtype argument (fp32 by default) in place: pass ours.
            pipe = self.base if isinstance(self.base, cls) else cls.from_pipe(self.base,
                                                                               dtype=self.placement.dtype)
            pipe.set_progress_bar_config(disable=True)
            self._pipes[kind] = pipe
        return self._pipes[kind]


def pipeline_class(arch: Architecture, kind: PipelineKind) -> Any:
    classes = _CLASSES[arch.family] if arch.family.unet else FACTS[arch.family].pipelines
    return classes[kind]


def base_class(arch: Architecture) -> Any:
    """The class a model loads as: txt2img (inpaint for inpainting UNets), or its family's first pipeline."""
    if arch.family.unet:
        return _CLASSES[arch.family]["inpaint" if arch.inpaint else "txt2img"]
    return pipeline_class(arch, base_kind(arch.family))


def detect_source(path: Path, allow_ckpt: bool = False) -> Architecture:
    if path.is_file() and path.suffix != ".safetensors":
        if not allow_ckpt:
            raise ModelFileError(f"{path} is a pickle checkpoint, which can run code when loaded. Convert it to "
                                 ".safetensors, or allow it explicitly (--allow-ckpt) if you trust its origin.")
        return detect_from_tensors(_ckpt_tensors(path), path)
    return detect(path)


def _ckpt_tensors(path: Path) -> dict[str, TensorInfo]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise ModelFileError(f"Model file {path} cannot be read ({exc}); download or copy it again.") from None
    while isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return {k: TensorInfo(tuple(v.shape), str(v.dtype)) for k, v in state.items() if isinstance(v, torch.Tensor)}


def check_files(entry: ModelEntry) -> Architecture:
    """Cheap checks before loading: the weights exist, are complete, and are what the registry says."""
    location = entry.location
    if not location.exists():
        raise ModelFileError(f"Model '{entry.name}': {location} does not exist. Put it back, or "
                             f"`underpaint models remove {entry.name}` and add it again.")
    if location.is_dir():
        for path in weight_files(location):
            if path.suffix == ".safetensors":
                read_safetensors_header(path)
    arch = detect_source(location, entry.allow_ckpt)
    if arch != entry.arch:
        raise ModelFileError(f"Model '{entry.name}': {location} now holds an {arch.name} model, not the "
                             f"{entry.architecture} it was registered as; `underpaint models add` it again.")
    return arch


def load_model(entry: ModelEntry, options: LoadOptions) -> LoadedModel:
    """The entry's pipeline, its weights in the placement's dtype.

    Loaded in the dtype its weights are stored in (left memory-mapped, nothing copied) and then cast a tensor
    at a time (engines/diffusers/casting.py), so the load never holds the stored and the cast copy at once.
    """
    arch = check_files(entry)
    cls = base_class(arch)
    chosen = options.placement if arch.family.unet else for_transformers(options.placement)
    dtype = stored_dtype(entry.location) or chosen.dtype
    extra: dict[str, Any] = {}
    if arch.family in (Family.SD1, Family.SD2):
        extra = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    if not arch.family.unet and options.quantize != "none":
        parts = ["transformer", FACTS[arch.family].large_text_encoder]
        extra["quantization_config"] = quantization_config(options.quantize, chosen.dtype, parts)
    try:
        if entry.location.is_dir():
            pipe = cls.from_pretrained(entry.location, dtype=dtype, local_files_only=True, **extra)
        else:
            pipe = _from_single_file(cls, entry, arch, dtype, options.offline, extra)
    except (ModelFileError, torch.OutOfMemoryError):
        raise
    except Exception as exc:
        raise ModelFileError(f"Model '{entry.name}' at {entry.location} could not be loaded: {exc}. "
                             "If the files are damaged, copy or download them again.") from exc
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module) and not _quantized(component):
            cast_module(component, chosen.dtype)
    _place(pipe, options, chosen)
    log.info("loaded model %s (%s) on %s", entry.name, arch.name, chosen.label)
    return LoadedModel(entry, arch, chosen, pipe)


def _quantized(module: torch.nn.Module) -> bool:
    """Quantised weights keep their own storage types: casting them would undo (or break) the quantisation."""
    return getattr(module, "quantization_method", None) is not None or getattr(module, "is_quantized", False)


def stored_dtype(location: Path) -> torch.dtype | None:
    """The floating-point dtype most of a model's safetensors weights are stored in (the largest file's, for a
    folder), or None when they are not safetensors."""
    files = [location] if location.is_file() else weight_files(location) if location.is_dir() else []
    files = [path for path in files if path.suffix == ".safetensors"]
    if not files:
        return None
    counts: dict[str, int] = {}
    for info in read_safetensors_header(max(files, key=lambda path: path.stat().st_size)).values():
        counts[info.dtype] = counts.get(info.dtype, 0) + math.prod(info.shape)
    floating = {name: count for name, count in counts.items() if name in _STORED_DTYPES}
    return _STORED_DTYPES[max(floating, key=floating.__getitem__)] if floating else None


def _from_single_file(cls: Any, entry: ModelEntry, arch: Architecture, dtype: torch.dtype, offline: bool,
                      extra: dict[str, Any]) -> Any:
    config = entry.config or REFERENCE_CONFIGS[arch.name]
    kwargs = {"config": config, "dtype": dtype, **extra}
    try:
        return cls.from_single_file(str(entry.location), local_files_only=True, **kwargs)
    except OSError:
        if offline or Path(config).is_dir():
            raise ModelFileError(
                f"Model '{entry.name}' ({entry.location}) needs the component configs and tokenizers of {config}, "
                "which are not on this machine. Connect once to fetch them (a few MB), or register the model with "
                "--config pointing at a diffusers folder of the same architecture.") from None
    log.info("fetching the component configs of %s for %s", config, entry.name)
    return cls.from_single_file(str(entry.location), local_files_only=False, **kwargs)


def _place(pipe: Any, options: LoadOptions, chosen: Placement) -> None:
    device = chosen.device
    if options.offload == "sequential" and device.type == "cuda":
        pipe.enable_sequential_cpu_offload(device=device)
    elif options.offload and device.type == "cuda":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    for part in channels_last_parts(chosen):
        if hasattr(pipe, part):  # FLUX and SD 3.5 have a transformer where SD has its UNet
            getattr(pipe, part).to(memory_format=torch.channels_last)
    if options.compile:
        if options.compile_cache is not None:
            os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(options.compile_cache))
        # In place: the UNet stays a UNet2DConditionModel (LoRAs, ControlNets and from_pipe see the same module).
        denoiser = pipe.unet if hasattr(pipe, "unet") else pipe.transformer
        denoiser.compile(mode=COMPILE_MODES.get(device.type))
    pipe.set_progress_bar_config(disable=True)


def compile_unavailable(device: torch.device) -> str | None:
    """Why inductor cannot compile for `device` on this machine, or None when it can: on a CPU it builds C++
    kernels, so it needs a C++ compiler (CXX, or c++/g++/clang++ on the PATH); on CUDA, Triton."""
    if device.type == "cuda":
        return None if importlib.util.find_spec("triton") else "on CUDA it needs Triton (pip install triton)."
    if device.type != "cpu":
        return f"torch.compile is not offered for {device.type} here."
    if os.environ.get("CXX") or any(shutil.which(name) for name in ("c++", "g++", "clang++")):
        return None
    return ("torch.compile builds C++ kernels for the CPU and no C++ compiler was found (install g++, e.g. "
            "`apt-get install g++`, or set CXX).")


def configure_vae(pipe: Any, width: int, height: int) -> None:
    """Tiled VAE decode/encode only for large working sizes, where it saves memory; plain otherwise."""
    if width * height > VAE_TILING_PIXELS:
        pipe.vae.enable_tiling()
    else:
        pipe.vae.disable_tiling()
