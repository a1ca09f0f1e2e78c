"""A style: a named preset of job fields a team shares, as one self-contained JSON file.

The file holds everything the style needs, reference images included (each a
PNG, base64 in the JSON), so the one file is what two people share. Every field
a style sets must be one a job could set: the limits are Params' own.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from underpaint.core import Params, Size
from underpaint.core.conditioning import ControlRef, ReferenceRef
from underpaint.core.names import NAME_PATTERN
from underpaint.core.spec import LoraRef
from underpaint.imaging.codec import ImageLike, encode_png, load_image, to_array

PLACEHOLDER = "{prompt}"
MAX_REFERENCE_SIDE = 1024
"""Longest side of a style's reference image: the IP-Adapter's image encoder sees 224 px, so more only
makes the shared file larger. `StyleReference.from_image` shrinks larger images to it."""
PARAM_FIELDS = ("engine", "model", "negative_prompt", "loras", "references", "controls", "scheduler", "steps",
                "guidance", "strength")
"""The Params fields a style may set under their own names (its `prompt` is a template around the job's)."""


class StyleReference(ReferenceRef):
    """A reference of a style: a job's reference (model, weight, focus) with its image inside the file."""

    png: bytes = Field(description="The reference image as a PNG file, base64 in JSON.")

    @field_validator("png", mode="before")
    @classmethod
    def _from_base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"the reference image is not base64: {exc}") from None
        return value

    @field_validator("png")
    @classmethod
    def _a_png_within_limits(cls, png: bytes) -> bytes:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(png)) as image:
                    # The header alone says the size, so an oversized one is refused before it is decompressed.
                    if image.format != "PNG":
                        raise ValueError(f"the reference image is {image.format}, not PNG")
                    if max(image.size) > MAX_REFERENCE_SIDE:
                        raise ValueError(f"the reference image is {image.width}x{image.height}; at most "
                                         f"{MAX_REFERENCE_SIDE} px on the long side")
                    image.load()
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"the reference image cannot be decoded: {exc}") from None
        return png

    @field_serializer("png")
    def _to_base64(self, png: bytes) -> str:
        return base64.b64encode(png).decode("ascii")

    @classmethod
    def from_image(cls, image: ImageLike, **fields: Any) -> StyleReference:
        """The reference of `image` (a path, Pillow image or array), shrunk to MAX_REFERENCE_SIDE if larger."""
        pixels, _ = load_image(image, 4)
        picture = Image.fromarray(pixels)
        picture.thumbnail((MAX_REFERENCE_SIDE, MAX_REFERENCE_SIDE), Image.Resampling.LANCZOS)
        return cls(png=encode_png(np.asarray(picture), compress_level=6), **fields)

    @property
    def size(self) -> Size:
        with Image.open(io.BytesIO(self.png)) as image:
            return Size(width=image.width, height=image.height)

    def pixels(self) -> np.ndarray:
        """The image as RGBA8 in sRGB, as a job's own reference image arrives."""
        with Image.open(io.BytesIO(self.png)) as image:
            return to_array(image, 4)[0]

    def as_job_reference(self) -> ReferenceRef:
        return ReferenceRef.model_validate(self.model_dump(exclude={"png"}))


class Style(BaseModel):
    """A named preset: every field it sets fills the same field of a job that leaves it unset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underpaint_style: Literal[1] = Field(default=1, description="The style file format's version.")
    name: str = Field(pattern=NAME_PATTERN, description="Letters, digits, '.', '_' and '-', at most 64.")
    description: str = Field(default="", max_length=500, description="What the style is for, for people.")
    prompt: str = Field(default="", description=f"Template: the job's prompt goes where {PLACEHOLDER} is; empty "
                                                "leaves the job's prompt as it is.")
    negative_prompt: str = Field(default="", description="What to keep out, for jobs that give none.")
    engine: str | None = Field(default=None, description="The engine the style's model runs on.")
    model: str | None = None
    loras: tuple[LoraRef, ...] = ()
    references: tuple[StyleReference, ...] = ()
    controls: tuple[ControlRef, ...] = Field(default=(), description="Controls derived from each job's source "
                                                                    "(image 'source').")
    scheduler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None

    @model_validator(mode="after")
    def _fits_a_job(self) -> Style:
        if self.prompt and PLACEHOLDER not in self.prompt:
            raise ValueError(f"the prompt template {self.prompt[:80]!r} has no {PLACEHOLDER}: write where the job's "
                             f"prompt goes (e.g. '{PLACEHOLDER}, {self.prompt[:40]}')")
        if sent := [str(control.kind) for control in self.controls if control.image == "sent"]:
            raise ValueError(f"a style's controls are derived from each job's source (image 'source'); "
                             f"{', '.join(sent)} asks for an image only a job can send")
        try:
            Params.model_validate(self.job_fields() | {"prompt": self.prompt})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from None
        return self

    def fields_set(self) -> Params:
        """What the style sets as Params whose `model_fields_set` is exactly those fields, its template as
        `prompt`: what a client shows when the style is picked."""
        return Params.model_validate(self.job_fields() | ({"prompt": self.prompt} if self.prompt else {}))

    def job_fields(self) -> dict[str, Any]:
        """The Params fields this style sets, by name, as a job would give them."""
        values: dict[str, Any] = {name: getattr(self, name) for name in PARAM_FIELDS
                                  if getattr(self, name) not in (None, "", ())}
        if self.references:
            values["references"] = tuple(reference.as_job_reference() for reference in self.references)
        return values
