"""Memory for large transformers: the T5 encoder dropped between jobs, quantised weights where a library is there.

FLUX's and SD 3.5's T5-XXL encoder is 4.8 B parameters (9.5 GB in bf16), used once per job to encode the prompt
(engines/diffusers/calls.py encodes it once for every variant). With `drop_text_encoders` its weights are freed
right after that encoding (the module moves to the meta device, so every pipeline made with from_pipe, which
shares the one module object, sees it go) and read back from the model's folder before the next job's encoding.

Quantisation goes through the loaders diffusers supports (PipelineQuantizationConfig): bitsandbytes' NF4 or
int8 for the transformer and T5. The library is not a dependency: asked for without it, the setting is refused
at start with what to install.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

import torch

from underpaint.engines.diffusers.checkpoint import read_safetensors_header, weight_files

log = logging.getLogger(__name__)

_FLOATING = {"F64", "F32", "F16", "BF16"}
QUANTIZE_LIBRARY = "bitsandbytes"
_BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "nf4": ("bitsandbytes_4bit", {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}),
    "int8": ("bitsandbytes_8bit", {"load_in_8bit": True}),
}


def quantization_unavailable(kind: str) -> str | None:
    """Why weights cannot be quantised as `kind` here, or None when they can."""
    if kind not in _BACKENDS:
        return f"unknown quantisation '{kind}'; use none, {', '.join(_BACKENDS)}."
    if importlib.util.find_spec(QUANTIZE_LIBRARY) is None:
        return (f"it needs the {QUANTIZE_LIBRARY} library, which is not installed (pip install {QUANTIZE_LIBRARY} "
                "into the agent's environment), or set quantize = none.")
    return None


def quantization_config(kind: str, dtype: torch.dtype, parts: list[str]) -> Any:
    """diffusers' pipeline quantisation for `kind` of the pipeline's `parts` (its transformer and T5: the CLIPs
    and the VAE are small), computing in `dtype`."""
    from diffusers.quantizers.pipe_quant_config import PipelineQuantizationConfig

    backend, arguments = _BACKENDS[kind]
    if kind == "nf4":
        arguments = arguments | {"bnb_4bit_compute_dtype": dtype}
    return PipelineQuantizationConfig(quant_backend=backend, quant_kwargs=arguments,
                                      components_to_quantize=parts)


def drop(pipe: Any, part: str) -> None:
    """Free the weights of `pipe`'s `part` (they are read back by `restore`)."""
    module = getattr(pipe, part, None)
    if module is not None and not is_dropped(module):
        module.to("meta")
        log.info("dropped %s after encoding the prompt", part)


def is_dropped(module: torch.nn.Module) -> bool:
    return any(parameter.is_meta for parameter in module.parameters())


def restore(pipe: Any, part: str, folder: Path, device: torch.device, dtype: torch.dtype) -> None:
    """Read `part`'s weights back from the model's diffusers folder into the same module object."""
    module = getattr(pipe, part, None)
    if module is None or not is_dropped(module):
        return
    fresh = type(module).from_pretrained(folder / part, dtype=dtype, local_files_only=True)
    module.load_state_dict(fresh.to(device).state_dict(), assign=True)
    log.info("read %s back from %s", part, folder / part)


def disk_bytes(location: Path) -> int:
    if location.is_file():
        return location.stat().st_size
    return sum(path.stat().st_size for path in weight_files(location)) if location.is_dir() else 0


def weight_bytes(location: Path, dtype: torch.dtype) -> int:
    """The memory a model's weights take when cast to `dtype` (what it runs in), read from the safetensors
    headers: floating-point tensors at `dtype`'s size, the rest as stored. Pickled files count as their size."""
    files = [location] if location.is_file() else weight_files(location) if location.is_dir() else []
    size = torch.tensor([], dtype=dtype).element_size()
    total = 0
    for path in files:
        if path.suffix != ".safetensors":
            total += path.stat().st_size
            continue
        for info in read_safetensors_header(path).values():
            stored = _STORED_SIZES.get(info.dtype, 1)
            total += math.prod(info.shape) * (size if info.dtype in _FLOATING else stored)
    return total


_STORED_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                 "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
