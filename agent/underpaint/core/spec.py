"""JobSpec: the one typed request every front door builds.

Params is a pydantic model because it travels as JSON (protocol, hot-folder
sidecars, recipes); JobSpec adds the decoded pixels and is internal only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from underpaint.core.conditioning import MAX_CONTROLS, MAX_REFERENCES, ControlRef, ReferenceRef, limited
from underpaint.core.errors import ErrorCode
from underpaint.core.geometry import Margins, Rect, Size
from underpaint.core.upscale import UpscaleParams


class Mode(StrEnum):
    FILL = "fill"
    REMOVE = "remove"
    EXPAND = "expand"
    GENERATE = "generate"
    REFINE = "refine"
    UPSCALE = "upscale"
    EDIT = "edit"


MAX_LORAS = 8
"""LoRAs one job may stack: each adds its low-rank product to every layer it touches, at every step."""


class LoraRef(BaseModel):
    """One LoRA of a job's stack: a registered LoRA by name, at a weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="A LoRA registered with the engine (its `loras`).")
    weight: float = Field(default=1.0, ge=-2, le=2, description="How strongly it applies; 0 leaves it out, "
                                                                 "negative pushes away from it.")
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$",
                               description="Content hash the LoRA must have; recipes pin it, so a replay never "
                                           "runs on a changed file.")


class Params(BaseModel):
    """Everything about a job that is not pixels: what a recipe replays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str | None = Field(default=None, description="Engine name; the agent's default when absent.")
    model: str | None = Field(default=None, description="Model name for engines that load models.")
    prompt: str = Field(default="", max_length=4000, description="What to put there (engines that take prompts).")
    negative_prompt: str = Field(default="", max_length=4000, description="What to keep out of it.")
    variants: int = Field(default=1, ge=1, le=16, description="How many variants, one layer each.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Variant i uses seed + i.")
    steps: int = Field(default=20, ge=1, le=200, description="Denoising steps per variant.")
    guidance: float = Field(default=7.0, ge=0, le=30, description="How closely to follow the prompt (CFG scale).")
    guidance_skip: float = Field(default=0.0, ge=0, le=0.9,
                                 description="Fraction of the last steps run without classifier-free guidance: "
                                             "each such step costs one UNet pass instead of two, at a small cost "
                                             "in prompt adherence of the finest detail. 0 (the default) skips none.")
    strength: float = Field(default=1.0, ge=0, le=1, description="How much may change: 0 keeps, 1 remakes.")
    scheduler: str = Field(default="euler", max_length=64, description="Sampler name (the engine lists its own).")
    grow: int | None = Field(default=None, ge=0, le=512, description="Mask grow in document pixels.")
    feather: int | None = Field(default=None, ge=0, le=512, description="Mask feather in document pixels.")
    color_match: bool = Field(default=True, description="Match the fill's colours to its surroundings.")
    expand: Margins | None = Field(default=None, description="Expand: pixels to add on each side.")
    upscale: UpscaleParams | None = Field(default=None, description="Upscale: how much larger, and how.")
    loras: tuple[LoraRef, ...] = Field(default=(), description=f"LoRAs to apply, each at its weight, at most "
                                                                 f"{MAX_LORAS} (engines that load models).")
    controls: tuple[ControlRef, ...] = Field(default=(), description=f"ControlNets steering the layout, at most "
                                                                     f"{MAX_CONTROLS} (engines that load models).")
    references: tuple[ReferenceRef, ...] = Field(default=(), description=f"Reference images (IP-Adapter), at "
                                                                         f"most {MAX_REFERENCES}.")
    style: str | None = Field(default=None, min_length=1, max_length=64,
                              description="A style to start from: the agent fills every field the job leaves "
                                          "unset from it at intake. Recipes hold the resolved fields, with this "
                                          "cleared and the style's name in the recipe's `style`.")

    # Checked here rather than as the schema's maxItems, which would make the generated TypeScript type
    # a union of tuples no plain array can be assigned to.
    @field_validator("loras")
    @classmethod
    def _a_stack(cls, loras: tuple[LoraRef, ...]) -> tuple[LoraRef, ...]:
        limited(loras, MAX_LORAS, ErrorCode.TOO_MANY_LORAS, "LoRAs")
        names = [lora.name for lora in loras]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise PydanticCustomError(ErrorCode.INVALID_MESSAGE.value,
                                      "each LoRA at most once (give one weight): {names} repeated",
                                      {"names": ", ".join(twice)})
        return loras

    @field_validator("controls")
    @classmethod
    def _few_controls(cls, controls: tuple[ControlRef, ...]) -> tuple[ControlRef, ...]:
        limited(controls, MAX_CONTROLS, ErrorCode.TOO_MANY_CONTROLS, "controls")
        return controls

    @field_validator("references")
    @classmethod
    def _few_references(cls, references: tuple[ReferenceRef, ...]) -> tuple[ReferenceRef, ...]:
        limited(references, MAX_REFERENCES, ErrorCode.TOO_MANY_REFERENCES, "references")
        return references

    def seeds(self) -> list[int]:
        return [(self.seed + i) % 2**32 for i in range(self.variants)]


@dataclass(frozen=True, eq=False)
class JobSpec:
    """A job ready for the planner: pixels decoded, parameters validated.

    `image` is RGBA8 (H, W, 4) and `mask` Gray8 (H, W), both covering
    `region` of a document of `document` size. Generate jobs carry no image;
    their `region` is the rectangle to create.
    """

    job_id: str
    mode: Mode
    params: Params
    document: Size
    region: Rect
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    source: str = "api"
    client: str = "python"
    input_warnings: tuple[str, ...] = field(default_factory=tuple)
    control_images: tuple[np.ndarray | None, ...] = field(default_factory=tuple)
    reference_images: tuple[np.ndarray, ...] = field(default_factory=tuple)
    style: str | None = None
    set_id: str | None = None


_EVERY_MODE = frozenset({"engine", "model", "loras", "controls", "references", "style", "variants", "seed", "steps",
                         "guidance", "guidance_skip", "scheduler"})
_PROMPT = frozenset({"prompt", "negative_prompt"})
_BLEND = frozenset({"grow", "feather", "color_match"})
MODE_FIELDS: dict[Mode, frozenset[str]] = {
    Mode.FILL: _EVERY_MODE | _PROMPT | _BLEND | {"strength"},
    Mode.REMOVE: _EVERY_MODE | _BLEND | {"strength"},
    Mode.EXPAND: _EVERY_MODE | _PROMPT | _BLEND | {"expand"},
    Mode.GENERATE: _EVERY_MODE | _PROMPT,
    Mode.REFINE: _EVERY_MODE | _PROMPT | _BLEND | {"strength"},
    Mode.UPSCALE: _EVERY_MODE | _PROMPT | {"upscale"},
    # The prompt is the instruction ("make the jacket red"); strength is how far the edit may go.
    Mode.EDIT: _EVERY_MODE | _PROMPT | _BLEND | {"strength"},
}
"""The Params fields each mode uses (the command line offers these as options)."""
