"""JobSpec: the one typed request every front door builds.

Params is a pydantic model because it travels as JSON (protocol, hot-folder
sidecars, recipes); JobSpec adds the decoded pixels and is internal only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Mode(StrEnum):
    FILL = "fill"
    REMOVE = "remove"
    EXPAND = "expand"
    GENERATE = "generate"
    REFINE = "refine"


class Rect(BaseModel):
    """An integer rectangle in document pixels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x: int
    y: int
    width: int = Field(ge=0)
    height: int = Field(ge=0)

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def offset(self, dx: int, dy: int) -> Rect:
        return Rect(x=self.x + dx, y=self.y + dy, width=self.width, height=self.height)

    def intersect(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x=x0, y=y0, width=max(0, x1 - x0), height=max(0, y1 - y0))


class Size(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Margins(BaseModel):
    """How far Expand grows the canvas on each side, in pixels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    left: int = Field(default=0, ge=0)
    top: int = Field(default=0, ge=0)
    right: int = Field(default=0, ge=0)
    bottom: int = Field(default=0, ge=0)


class Params(BaseModel):
    """Everything about a job that is not pixels: what a recipe replays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str | None = Field(default=None, description="Engine name; the agent's default when absent.")
    model: str | None = Field(default=None, description="Model name for engines that load models.")
    prompt: str = Field(default="", max_length=4000)
    negative_prompt: str = Field(default="", max_length=4000)
    variants: int = Field(default=1, ge=1, le=16)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Variant i uses seed + i.")
    steps: int = Field(default=20, ge=1, le=200)
    guidance: float = Field(default=7.0, ge=0, le=30)
    strength: float = Field(default=1.0, ge=0, le=1)
    scheduler: str = Field(default="euler", max_length=64)
    grow: int | None = Field(default=None, ge=0, le=512, description="Mask grow in document pixels.")
    feather: int | None = Field(default=None, ge=0, le=512, description="Mask feather in document pixels.")
    color_match: bool = True
    expand: Margins | None = None

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
