"""A delivery preset: the size, format, colour space and file name one channel (web, social, store, print) needs.

A team keeps presets as one TOML or JSON file each (the file's name is the preset's); every field below is
a key of that file, and a bad value is refused with the field named before anything is written.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from underpaint.core.names import NAME_PATTERN
from underpaint.results.delivery.colour import load_profile

Fit = Literal["inside", "fill", "pad"]
Anchor = Literal["center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right"]
Format = Literal["png", "jpeg", "webp", "avif", "tiff", "psd"]
BUILTIN_PROFILES = ("srgb", "display-p3", "fogra39")
"""Profiles shipped in profiles/ (see its SOURCES.md); any other `profile` is a path to a user's .icc file."""
LOSSY: frozenset[str] = frozenset({"jpeg", "webp", "avif"})
CMYK_FORMATS: frozenset[str] = frozenset({"tiff", "psd"})
"""Formats a CMYK deliverable may take: PNG, WebP and AVIF are RGB only, and CMYK JPEGs are read inverted by
half the readers (Adobe's APP14 convention), so print goes out as TIFF or PSD."""
ALPHA_FORMATS: frozenset[str] = frozenset({"png", "webp", "avif", "tiff", "psd"})
NAMING_FIELDS = frozenset({"name", "preset", "width", "height", "variant"})
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "avif": ".avif", "tiff": ".tif", "psd": ".psd"}
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


class Preset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    width: int = Field(gt=0, le=30000, description="Output width in pixels.")
    height: int = Field(gt=0, le=30000, description="Output height in pixels.")
    fit: Fit = Field(default="fill", description="fill: cover the size, cropping what overflows; pad: the whole "
                                                 "image inside the size, the rest `pad_color`; inside: the whole "
                                                 "image scaled to fit, the file as large as that (not padded).")
    anchor: Anchor = Field(default="center", description="Which part stays when fill crops, or where pad places "
                                                         "the image.")
    pad_color: str = Field(default="#ffffff", description="#RRGGBB or #RRGGBBAA: padding, and what transparent "
                                                          "pixels are flattened onto for a file without alpha.")
    format: Format
    quality: int | None = Field(default=None, ge=1, le=100, description="JPEG, WebP or AVIF quality.")
    target_kb: float | None = Field(default=None, gt=0, description="Largest file in KiB (1024 bytes); the "
                                                                     "highest quality that fits is found.")
    profile: str = Field(default="srgb", min_length=1,
                         description=f"Colour space: {', '.join(BUILTIN_PROFILES)} or a path to an .icc file.")
    dpi: int = Field(default=72, gt=0, le=10000)
    alpha: bool = Field(default=True, description="Keep transparency where the format holds it; false flattens "
                                                  "onto `pad_color` (app stores refuse alpha).")
    metadata: Literal["keep", "strip"] = Field(default="keep", description="keep: the recipe goes with the file; "
                                                                           "strip: only the ICC profile and DPI.")
    naming: str = Field(default="{name}-{preset}-{variant}", min_length=1,
                        description="File name without extension, from {name}, {preset}, {width}, {height} and "
                                    "{variant} (1-based).")

    @field_validator("pad_color")
    @classmethod
    def _a_colour(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError(f"{value!r} is not a colour: write #RRGGBB or #RRGGBBAA")
        return value

    @field_validator("naming")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a naming pattern: {exc}") from None
        unknown = sorted(set(fields) - NAMING_FIELDS)
        if unknown or "" in fields:
            raise ValueError(f"{value!r} names {unknown or ['{}']}; a pattern may use "
                             f"{', '.join('{' + f + '}' for f in sorted(NAMING_FIELDS))}")
        if "/" in value or "\\" in value:
            raise ValueError("a file name may not hold a path separator")
        return value

    @field_validator("profile")
    @classmethod
    def _builtin_or_file(cls, value: str) -> str:
        if value not in BUILTIN_PROFILES and not Path(value).expanduser().is_file():
            raise ValueError(f"{value!r} is neither a shipped profile ({', '.join(BUILTIN_PROFILES)}) nor an "
                             ".icc file that exists")
        load_profile(value)  # its ValueError says why the file is no usable profile
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Preset:
        if self.quality is not None and self.target_kb is not None:
            raise ValueError("give quality or target_kb, not both")
        if (self.quality is not None or self.target_kb is not None) and self.format not in LOSSY:
            raise ValueError(f"quality and target_kb apply to {', '.join(sorted(LOSSY))}, not {self.format}")
        if self.cmyk and self.format not in CMYK_FORMATS:
            raise ValueError(f"the profile {self.profile} is CMYK, which {self.format} files cannot hold; use "
                             f"{' or '.join(sorted(CMYK_FORMATS))}")
        return self

    @property
    def cmyk(self) -> bool:
        return load_profile(self.profile).space == "CMYK"

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    def file_name(self, name: str, variant: int, width: int, height: int) -> str:
        """The deliverable's file name: `naming` filled in (`variant` 0-based, shown 1-based), the extension added."""
        stem = self.naming.format(name=name, preset=self.name, width=width, height=height, variant=variant + 1)
        return stem.replace("/", "_").replace("\\", "_") + self.extension
