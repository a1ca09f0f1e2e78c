"""What an engine can do for one model: reported in the handshake, planned with, checked at submit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from underpaint.core.conditioning import ControlKind
from underpaint.core.spec import Mode


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, reported in the handshake and used by the planner.

    Working sizes are kept within [native_min, native_max] on the long side,
    in multiples of `multiple`, and below `max_pixels` in area. `models` are
    the names a job may give as `params.model` and `schedulers` the names it may
    give as `params.scheduler`; an engine with none ignores that field. `loras`
    are the LoRAs a job on this model may stack (those made for its
    architecture), `controlnets` the ControlNets (name -> the kind it is for),
    `preprocessors` the control kinds the agent can derive from a job's source,
    and `ip_adapters` the IP-Adapters a reference may name. `device` says where
    the engine computes (device/dtype), which the history records per job.
    """

    name: str
    modes: frozenset[Mode]
    uses_prompt: bool
    native_min: int
    native_max: int
    multiple: int
    max_pixels: int
    models: tuple[str, ...] = field(default_factory=tuple)
    schedulers: tuple[str, ...] = field(default_factory=tuple)
    loras: tuple[str, ...] = field(default_factory=tuple)
    controlnets: tuple[tuple[str, ControlKind], ...] = field(default_factory=tuple)
    preprocessors: frozenset[ControlKind] = frozenset()
    ip_adapters: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    device: str = "cpu"
    family: str = ""
    """The model family (sd1, sdxl, flux-dev, flux-fill, flux-kontext, sd3, ...); empty for engines without models."""
    guidance: Literal["cfg", "distilled", "none"] = "none"
    """How `params.guidance` steers: true classifier-free guidance (two passes a step), a distilled guidance
    embedding (one pass; FLUX [dev]), or not at all (engines without prompts, FLUX [schnell])."""

    @property
    def offered_modes(self) -> frozenset[Mode]:
        """The modes a job may ask of this engine: its own, and upscale, which the upscale path runs for every
        engine (it enlarges without the engine, and refines only with engines that have Refine)."""
        return self.modes | {Mode.UPSCALE}
