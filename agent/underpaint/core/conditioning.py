"""What steers a job besides its prompt: controls (ControlNet) and references (IP-Adapter).

Each is a small JSON object in the job's params, so it travels in the protocol,
the hot-folder sidecars and the recipe like every other field; the pixels it
needs travel beside the job's source (a control image the client sends, a
reference image), and the recipe pins their hashes and the content hash of the
weights that ran.

Limits raise pydantic's custom errors whose type is an ErrorCode value, so
every front door reports each bad input with its own code
(core.errors.request_error_from).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from underpaint.core.errors import ErrorCode

MAX_CONTROLS = 4
"""Controls one job may stack: each runs a ControlNet as large as the UNet's encoder at every step."""
MAX_REFERENCES = 4
"""Reference images one job may give: each adds its image tokens to every cross-attention layer."""

_SHA256 = "^[0-9a-f]{64}$"


class ControlKind(StrEnum):
    """The kinds of control a ControlNet is trained for (Krita AI Diffusion's control layers)."""

    CANNY = "canny"
    SCRIBBLE = "scribble"
    TILE = "tile"
    INPAINT = "inpaint"
    DEPTH = "depth"
    POSE = "pose"
    LINEART = "lineart"
    SOFTEDGE = "softedge"
    SEGMENTATION = "segmentation"


WEIGHTLESS_PREPROCESSORS = frozenset({ControlKind.CANNY, ControlKind.SCRIBBLE, ControlKind.TILE,
                                      ControlKind.INPAINT})
"""Kinds whose control image the agent can make itself, with no model: canny edges (OpenCV), a drawing
binarised, the source itself (tile), the source with the selection blanked out (inpaint)."""
FROM_SOURCE = frozenset({ControlKind.CANNY, ControlKind.TILE, ControlKind.INPAINT, ControlKind.DEPTH,
                         ControlKind.LINEART, ControlKind.SOFTEDGE, ControlKind.SEGMENTATION, ControlKind.POSE})
"""Kinds that may be derived from the job's own source (scribble is a person's drawing: it is always sent).
Those outside WEIGHTLESS_PREPROCESSORS need a registered preprocessor model for it."""


class ControlRef(BaseModel):
    """One control of a job: a ControlNet steering the layout from a control image."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ControlKind = Field(description="What the control image shows (edges, a drawing, depth, a pose...).")
    model: str | None = Field(default=None, max_length=64,
                              description="A ControlNet registered with the engine; absent: the first, by name, "
                                          "registered for this kind and the job model's architecture.")
    image: Literal["sent", "source"] = Field(
        default="sent", description="'sent': the control image comes with the job, covering its output area "
                                    "(the region; for expand the region with its margins). 'source': the agent "
                                    "derives it from the job's own source with the kind's preprocessor.")
    preprocess: bool = Field(default=True, description="Run the kind's preprocessor on a sent image (canny "
                                                       "edges, a scribble binarised); false when the image "
                                                       "already is the control map.")
    strength: float = Field(default=1.0, ge=0, le=2, description="How strongly it steers; 0 is the job without it.")
    start: float = Field(default=0.0, ge=0, le=1, description="Fraction of the steps where it starts steering.")
    end: float = Field(default=1.0, ge=0, le=1, description="Fraction of the steps where it stops steering.")
    low_threshold: int = Field(default=100, ge=0, le=255, description="Canny: weaker edges than this are dropped.")
    high_threshold: int = Field(default=200, ge=0, le=255, description="Canny: edges this strong always count.")
    sha256: str | None = Field(default=None, pattern=_SHA256,
                               description="Content hash the ControlNet must have (recipes pin it).")
    image_sha256: str | None = Field(default=None, pattern=_SHA256,
                                     description="Hash of the sent control image (recipes pin it).")
    preprocessor: str | None = Field(default=None, max_length=64,
                                     description="The registered preprocessor model that makes this control's map "
                                                 "(depth, segmentation), from the source or from a sent image with "
                                                 "preprocess true; absent: the first, by name, registered for the "
                                                 "kind.")
    preprocessor_sha256: str | None = Field(default=None, pattern=_SHA256,
                                            description="Content hash the preprocessor model must have (recipes "
                                                        "pin it).")

    @model_validator(mode="after")
    def _a_step_range(self) -> ControlRef:
        if self.start >= self.end:
            raise PydanticCustomError(ErrorCode.BAD_STEP_RANGE.value,
                                      "a control's start ({start}) must come before its end ({end})",
                                      {"start": self.start, "end": self.end})
        if self.low_threshold > self.high_threshold:
            raise PydanticCustomError(ErrorCode.BAD_STEP_RANGE.value,
                                      "canny's low_threshold must not exceed its high_threshold")
        if self.kind is ControlKind.SCRIBBLE and self.image == "source":
            raise PydanticCustomError(ErrorCode.CONTROL_NEEDS_IMAGE.value,
                                      "a scribble control is a drawing: send it (image 'sent')")
        return self


class ReferenceRef(BaseModel):
    """One reference image of a job: an IP-Adapter carrying its look or content into the result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(default=None, max_length=64,
                              description="An IP-Adapter registered with the engine; absent: the first, by "
                                          "name, registered for the job model's architecture.")
    weight: float = Field(default=0.6, ge=0, le=2, description="How strongly it steers; 0 is the job without it.")
    focus: Literal["all", "style"] = Field(
        default="all", description="'all': content and look; 'style': only the look (colour, texture, light), "
                                   "applied in the style layers alone (InstantStyle).")
    sha256: str | None = Field(default=None, pattern=_SHA256,
                               description="Content hash the IP-Adapter must have (recipes pin it).")
    image_sha256: str | None = Field(default=None, pattern=_SHA256,
                                     description="Hash of the reference image (recipes pin it).")


def limited(items: tuple[BaseModel, ...], most: int, code: ErrorCode, what: str) -> None:
    """Raise `code` when a job gives more than `most` of `what`."""
    if len(items) > most:
        raise PydanticCustomError(code.value, "at most {most} {what} per job, not {count}",
                                  {"most": most, "what": what, "count": len(items)})
