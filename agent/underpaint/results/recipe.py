"""Recipe: everything needed to re-create a result, as readable JSON."""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from underpaint.core import Mode, Params, Rect, Size
from underpaint.imaging.codec import raw_bytes
from underpaint.version import __version__

RECIPE_KEY = "underpaint:recipe"
"""Key under which the recipe JSON is stored in PNG text chunks and PSD metadata."""


class ModelRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str | None = None


class Recipe(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    underpaint: str = Field(default=__version__, description="Version of Underpaint that made the result.")
    engine: str
    model: ModelRef | None = None
    mode: Mode
    params: Params
    seeds: list[int]
    document: Size
    region: Rect
    image_sha256: str | None = None
    mask_sha256: str | None = None
    style: str | None = Field(default=None, description="The style resolved into `params` (its name, for people; "
                                                        "a replay needs only `params`).")
    set_id: str | None = Field(default=None, description="The consistent set the job belonged to.")
    sent_document: Size | None = Field(default=None, description="Upscale: the document as sent (`document` is "
                                                                 "the upscaled one).")
    sent_region: Rect | None = Field(default=None, description="Upscale: the region as sent (`region` is the "
                                                               "upscaled one).")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        return cls.model_validate_json(text)


def pixels_sha256(array: np.ndarray | None) -> str | None:
    """Hash of the raw pixel bytes plus shape, so equal pixels hash equal whatever the file format."""
    if array is None:
        return None
    digest = hashlib.sha256(repr(array.shape).encode())
    digest.update(raw_bytes(array))
    return digest.hexdigest()
