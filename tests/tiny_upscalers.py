"""Random-weight super-resolution networks of real architectures, saved as users download them.

- SRVGGNetCompact (Real-ESRGAN's realesr-general-x4v3 / realesr-animevideov3 architecture) with few features
  and convolutions, as a .pth holding {"params": state_dict} (Real-ESRGAN's release layout) and as a bare
  .safetensors (OpenModelDB's conversions);
- ESRGAN's RRDBNet with one block, as a .pth in the original ESRGAN key layout (`model.0.weight`,
  `model.1.sub.0.RDB1.conv1.0.weight`, ...) that community models such as 4x-UltraSharp use.

The classes are spandrel's own copies of the architectures, imported the way the agent imports spandrel.
`realesr_general_x4v3` is the real network's full size (64 features, 32 convolutions), for the benchmark.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from underpaint.engines.upscalers.spandrel_models import architectures


def _arch(module: str, name: str) -> Any:
    architectures()  # spandrel's package importable here, with or without torchvision
    return getattr(importlib.import_module(f"spandrel.architectures.{module}"), name)


def compact(scale: int = 4, features: int = 8, convolutions: int = 2, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net: torch.nn.Module = _arch("Compact.__arch.SRVGG", "SRVGGNetCompact")(
        num_in_ch=3, num_out_ch=3, num_feat=features, num_conv=convolutions, upscale=scale, act_type="prelu")
    return net.eval()


def realesr_general_x4v3(seed: int = 0) -> torch.nn.Module:
    """The shape of Real-ESRGAN's realesr-general-x4v3.pth: 64 features, 32 convolutions, 4x."""
    return compact(scale=4, features=64, convolutions=32, seed=seed)


def esrgan(scale: int = 4, filters: int = 8, blocks: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net: torch.nn.Module = _arch("ESRGAN.__arch.RRDB", "RRDBNet")(num_filters=filters, num_blocks=blocks, scale=scale)
    return net.eval()


def save_pth(net: torch.nn.Module, path: Path, wrap: str | None = "params") -> Path:
    """`net`'s weights as a pickled .pth, under `wrap` ("params" or "params_ema", as Real-ESRGAN's releases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().clone() for key, value in net.state_dict().items()}
    torch.save({wrap: state} if wrap else state, path)
    return path


def save_safetensors(net: torch.nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.detach().contiguous() for key, value in net.state_dict().items()}, path)
    return path
