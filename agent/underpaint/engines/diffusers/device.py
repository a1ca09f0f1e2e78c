"""Which device and dtype a model runs on: CUDA, Apple MPS or the CPU, picked automatically unless told."""

from __future__ import annotations

from dataclasses import dataclass

import torch

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "fp16", "bf16", "fp32")
_TORCH_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    @property
    def label(self) -> str:
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"


def pick_device(requested: str = "auto") -> torch.device:
    if requested not in DEVICES and not requested.startswith("cuda:"):
        raise ValueError(f"Unknown device '{requested}'; use one of {', '.join(DEVICES)} (or cuda:N).")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but this torch build sees no CUDA GPU; install a CUDA build of torch.")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ValueError("Apple MPS was asked for but is not available on this machine.")
    return torch.device(requested)


def pick_dtype(device: torch.device, requested: str = "auto") -> torch.dtype:
    """fp16 on GPUs (bf16 where the GPU has it and it was asked for); fp32 on the CPU, where half is slower."""
    if requested not in DTYPES:
        raise ValueError(f"Unknown dtype '{requested}'; use one of {', '.join(DTYPES)}.")
    if requested != "auto":
        if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("This GPU has no bf16 support; use fp16.")
        return _TORCH_DTYPES[requested]
    if device.type in ("cuda", "mps"):
        return torch.float16
    return torch.float32


def placement(device: str = "auto", dtype: str = "auto") -> Placement:
    chosen = pick_device(device)
    return Placement(chosen, pick_dtype(chosen, dtype))


def free_memory_bytes(device: torch.device) -> int | None:
    """Free memory where the weights live, or None when it cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        return None
    return int(psutil.virtual_memory().available)
