"""Schedulers by the names jobs use; each built from the model's own scheduler config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
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


def make_scheduler(name: str, base_config: Mapping[str, Any]) -> Any:
    """A fresh scheduler `name` configured like the model's own (betas, prediction type, timestep spacing)."""
    try:
        cls, overrides = _SCHEDULERS[name]
    except KeyError:
        raise EngineError(ErrorCode.UNKNOWN_SCHEDULER,
                          f"Unknown scheduler '{name}'; choose one of {', '.join(SCHEDULER_NAMES)}.") from None
    return cls.from_config(dict(base_config), **overrides)
