"""Colour conversion for deliverables with LittleCMS (Pillow's ImageCms): Underpaint's pixels are sRGB, so
every deliverable is converted from sRGB into its preset's profile, and that profile is embedded in the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import Image, ImageCms

_SHIPPED = {"srgb": "sRGB.icc", "display-p3": "DisplayP3.icc", "fogra39": "ISOcoated_v2_300_bas.icc"}
_INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
"""Relative colorimetric with black-point compensation: in-gamut colours stay exact and the darkest tone maps
to the paper's darkest, what print shops expect for photographic images going to FOGRA39."""


@dataclass(frozen=True)
class Profile:
    """An ICC profile: its bytes (what is embedded), its colour space ("RGB" or "CMYK") and its description."""

    data: bytes
    space: str
    description: str


def profile_path(name: str) -> Path:
    """The file of a shipped profile (see profiles/SOURCES.md), or `name` itself as a path."""
    if name in _SHIPPED:
        return Path(str(resources.files("underpaint.results.delivery").joinpath("profiles", _SHIPPED[name])))
    return Path(name).expanduser()


@lru_cache(maxsize=16)
def load_profile(name: str) -> Profile:
    """The profile `name` (a shipped one or a path); ValueError when the file is not an RGB or CMYK ICC profile."""
    path = profile_path(name)
    try:
        data = path.read_bytes()
        opened = ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (OSError, ImageCms.PyCMSError) as exc:
        raise ValueError(f"{path.name} is not a readable ICC profile ({exc})") from None
    space = opened.profile.xcolor_space.strip()
    if space not in ("RGB", "CMYK"):
        raise ValueError(f"{path.name} is a {space or 'unknown'} profile; a deliverable needs an RGB or CMYK one")
    return Profile(data, space, ImageCms.getProfileDescription(opened).strip())


def convert(image: Image.Image, name: str) -> Image.Image:
    """`image` (RGB, sRGB pixels) in the colour space of profile `name`: RGB or CMYK."""
    if name == "srgb":
        return image
    transform = _transform(name)
    return ImageCms.applyTransform(image, transform) or image


@lru_cache(maxsize=16)
def _transform(name: str) -> ImageCms.ImageCmsTransform:
    # Built once per profile: a CMYK print profile's tables take a noticeable moment to precompute.
    target = load_profile(name)
    source = ImageCms.ImageCmsProfile(io.BytesIO(load_profile("srgb").data))
    output = ImageCms.ImageCmsProfile(io.BytesIO(target.data))
    return ImageCms.buildTransform(source, output, "RGB", target.space, _INTENT,
                                   flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
