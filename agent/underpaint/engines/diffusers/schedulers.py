"""Schedulers by the names jobs use; each built from the model's own scheduler config.

UNet models (SD 1.x/2.x/SDXL) take the noise-prediction samplers; flow-matching models (FLUX, SD 3.5) the
flow-matching Euler sampler they ship with, as shipped or on Karras-spaced sigmas: their pipelines set the
sigmas (and FLUX's resolution shift) themselves, which only FlowMatchEulerDiscreteScheduler takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    LCMScheduler,
    UniPCMultistepScheduler,
)

from underpaint.core import ErrorCode
from underpaint.engines.base import EngineError

_SCHEDULERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++"}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "ddim": (DDIMScheduler, {}),
    "unipc": (UniPCMultistepScheduler, {}),
    "lcm": (LCMScheduler, {}),
}
SCHEDULER_NAMES = tuple(_SCHEDULERS)
_FLOW_SCHEDULERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "euler": (FlowMatchEulerDiscreteScheduler, {}),
    "euler_karras": (FlowMatchEulerDiscreteScheduler, {"use_karras_sigmas": True}),
}
FLOW_SCHEDULER_NAMES = tuple(_FLOW_SCHEDULERS)


def make_scheduler(name: str, base_config: Mapping[str, Any], flow: bool = False) -> Any:
    """A fresh scheduler `name` configured like the model's own (betas, prediction type, timestep spacing; for
    a flow-matching model, its shift)."""
    table = _FLOW_SCHEDULERS if flow else _SCHEDULERS
    try:
        cls, overrides = table[name]
    except KeyError:
        raise EngineError(ErrorCode.UNKNOWN_SCHEDULER,
                          f"Unknown scheduler '{name}'; choose one of {', '.join(table)}.") from None
    return cls.from_config(dict(base_config), **overrides)
