"""Which device and dtype a model runs on: CUDA, Apple MPS or the CPU, picked automatically unless told.

The automatic dtype follows what the hardware reports. On a CPU, bf16 only where the
CPU computes it natively (AMX or AVX512-BF16): there the UNet runs in about half
fp32's time (a Xeon with AMX; an EPYC Zen 4 with AVX512-BF16 measured 7.4 s
against 12-24 s for one SD 1.5 UNet forward at 64x64 latents, docs/benchmarks.md);
without it torch emulates bf16 and is many times slower, so fp32. fp16 on GPUs.
The pick is a pure function of the reported facts (`CpuFacts`), so any CPU can be
described to it.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "fp16", "bf16", "fp32")
_TORCH_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (as Linux's /proc/cpuinfo names them) that mean the CPU computes bf16 natively."""


@dataclass(frozen=True)
class CpuFacts:
    """What a CPU reports about itself: its flags and torch's own capability string (e.g. "AVX512")."""

    flags: frozenset[str]
    capability: str

    @property
    def native_bf16(self) -> str | None:
        """The first flag that gives native bf16, or None when the CPU has none or torch runs it without its
        vector kernels (capability "DEFAULT"), where bf16 is emulated."""
        if self.capability == "DEFAULT":
            return None
        return next((flag for flag in NATIVE_BF16_FLAGS if flag in self.flags), None)


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype
    reason: str = ""
    """Why this dtype: "asked", the CPU flag that gives native bf16, "no native bf16", "GPU"."""

    @property
    def label(self) -> str:
        base = f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"
        return f"{base} ({self.reason})" if self.reason else base


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


def cpu_facts() -> CpuFacts:
    """This machine's CPU: flags from /proc/cpuinfo (Linux) or sysctl (macOS), torch's capability string."""
    return CpuFacts(_linux_flags() or _macos_flags(), torch.backends.cpu.get_cpu_capability())


def _linux_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _macos_flags() -> frozenset[str]:
    """Intel Macs name AVX512-BF16 in sysctl's leaf-7 features; Apple silicon runs on MPS, not here."""
    if platform.system() != "Darwin":
        return frozenset()
    try:
        out = subprocess.run(["sysctl", "-n", "machdep.cpu.leaf7_features"], capture_output=True, text=True,
                             timeout=2, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset("avx512_bf16" if word == "AVX512BF16" else word.lower() for word in out.split())


def pick_dtype(device: torch.device, requested: str = "auto",
               cpu: CpuFacts | None = None) -> tuple[torch.dtype, str]:
    """The dtype for `device` and why: as asked, else fp16 on GPUs, bf16 on CPUs with native bf16, else fp32."""
    if requested not in DTYPES:
        raise ValueError(f"Unknown dtype '{requested}'; use one of {', '.join(DTYPES)}.")
    if requested != "auto":
        if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("This GPU has no bf16 support; use fp16.")
        return _TORCH_DTYPES[requested], "asked"
    if device.type in ("cuda", "mps"):
        return torch.float16, "GPU"
    flag = (cpu or cpu_facts()).native_bf16
    return (torch.bfloat16, flag) if flag else (torch.float32, "no native bf16")


def channels_last_parts(placement: Placement) -> tuple[str, ...]:
    """The pipeline parts that run in channels-last memory format on `placement`, where it pays: on CUDA the
    UNet and the VAE (cuDNN's NHWC kernels, with fp16 tensor cores); on a CPU none (measured in bf16 on this
    project's 2-core EPYC, docs/benchmarks.md "Speed": the UNet 1.18x slower and 0.3 GiB more at peak, the VAE
    within the run's noise)."""
    return ("unet", "vae") if placement.device.type == "cuda" else ()


COMPILE_MODES = {"cuda": "max-autotune-no-cudagraphs"}
"""torch.compile's mode per device type (default mode elsewhere): on CUDA, autotuned matmuls and convolutions
without CUDA graphs, which would be re-recorded for every working size and LoRA stack."""


def for_transformers(chosen: Placement, gpu_bf16: bool | None = None) -> Placement:
    """`chosen` for a FLUX or SD 3.5 model: bf16 where the automatic pick gave a GPU fp16 and the GPU has bf16
    (`gpu_bf16`, asked of torch when not given). Their activations (T5's above all) overflow fp16's range and
    decode to black or noise; bf16 has fp32's range."""
    if chosen.reason != "GPU" or chosen.dtype != torch.float16 or chosen.device.type != "cuda":
        return chosen
    if not (torch.cuda.is_bf16_supported() if gpu_bf16 is None else gpu_bf16):
        return chosen
    return Placement(chosen.device, torch.bfloat16, "GPU, bf16 for FLUX/SD 3.5's range")


def placement(device: str = "auto", dtype: str = "auto") -> Placement:
    chosen = pick_device(device)
    return Placement(chosen, *pick_dtype(chosen, dtype))


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
