"""What an upscale job asks for: how much larger, with which super-resolution model, how much re-detail."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from underpaint.core.errors import ErrorCode
from underpaint.core.geometry import Size

MAX_UPSCALE_FACTOR = 8.0
"""Beyond 8x a super-resolution model invents more than it recovers; chain two jobs if you must."""


class UpscaleParams(BaseModel):
    """An upscale by `factor` or to `size` (exactly one), enlarged by `upscaler` (a registered
    super-resolution model; absent: the built-in Lanczos resampler with a light unsharp mask), then,
    when `refine` is above 0, re-detailed in overlapping img2img tiles at that strength."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factor: float | None = Field(default=None, gt=1, le=MAX_UPSCALE_FACTOR,
                                 description="How many times larger each side becomes (2, 4, 1.5, ...).")
    size: Size | None = Field(default=None, description="The exact size the upscaled region becomes; its aspect "
                                                        "ratio must match the region's within a pixel.")
    upscaler: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="A registered super-resolution model; absent: Lanczos.")
    upscaler_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$",
                                        description="Content hash the upscaler must have; recipes pin it.")
    refine: float = Field(default=0.0, ge=0, le=1,
                          description="Strength of the tiled img2img re-detail after enlarging; 0 skips it.")

    @model_validator(mode="after")
    def _one_target(self) -> UpscaleParams:
        if (self.factor is None) == (self.size is None):
            raise PydanticCustomError(ErrorCode.INVALID_MESSAGE.value,
                                      "an upscale takes exactly one of factor and size")
        return self
