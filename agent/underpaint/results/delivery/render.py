"""One deliverable from one image: the preset's geometry, colour space and file format.

Geometry first (in sRGB, where the pixels are), with Lanczos going down and the weightless enlarger
(imaging.resample.enlarge) going up; then the conversion into the preset's profile; then the encoder, which
embeds the profile and the DPI, and for a target file size searches the quality.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PIL import Image, PngImagePlugin
from psd_tools import PSDImage
from psd_tools.constants import Resource
from psd_tools.psd.image_resources import ImageResource

from underpaint.core import ErrorCode, RequestError, Size
from underpaint.imaging.resample import enlarge
from underpaint.results.delivery.colour import convert, load_profile
from underpaint.results.delivery.preset import ALPHA_FORMATS, Anchor, Preset
from underpaint.results.psd import _xmp_packet
from underpaint.results.recipe import RECIPE_KEY, Recipe

DEFAULT_QUALITY = {"jpeg": 90, "webp": 85, "avif": 70}
XmpEdit = Callable[[bytes | None], bytes | None]
"""A change to a file's XMP packet (None: it has none yet) made as it is encoded (the IPTC disclosure)."""
_JPEG_XMP_MAX = 65504 - 29  # the segment's payload less the XMP namespace header
_ANCHORS: dict[Anchor, tuple[float, float]] = {
    "center": (0.5, 0.5), "top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5), "right": (1.0, 0.5),
    "top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}


@dataclass(frozen=True)
class Layout:
    """Where the picture goes: `crop` (left, top, right, bottom) of the source, scaled to `scaled`, placed at
    `offset` on a canvas of `canvas`."""

    crop: tuple[int, int, int, int]
    scaled: Size
    canvas: Size
    offset: tuple[int, int]

    @property
    def enlarges(self) -> bool:
        left, top, right, bottom = self.crop
        return self.scaled.width > right - left or self.scaled.height > bottom - top


@dataclass(frozen=True)
class Rendered:
    """A deliverable's bytes, its pixel size, and what a person should know about it."""

    data: bytes
    size: Size
    quality: int | None = None
    warnings: list[str] = field(default_factory=list)


def layout(source: Size, preset: Preset) -> Layout:
    """The geometry of `preset` for an image of `source`: fill crops to cover, pad and inside fit it whole."""
    width, height = source.width, source.height
    box_w, box_h = preset.width, preset.height
    fx, fy = _ANCHORS[preset.anchor]
    if preset.fit == "fill":
        scale = max(box_w / width, box_h / height)
        crop_w, crop_h = min(width, round(box_w / scale)), min(height, round(box_h / scale))
        left, top = round((width - crop_w) * fx), round((height - crop_h) * fy)
        size = Size(width=box_w, height=box_h)
        return Layout((left, top, left + crop_w, top + crop_h), size, size, (0, 0))
    scale = min(box_w / width, box_h / height)
    scaled = Size(width=min(box_w, max(1, round(width * scale))), height=min(box_h, max(1, round(height * scale))))
    if preset.fit == "inside":
        return Layout((0, 0, width, height), scaled, scaled, (0, 0))
    offset = (round((box_w - scaled.width) * fx), round((box_h - scaled.height) * fy))
    return Layout((0, 0, width, height), scaled, Size(width=box_w, height=box_h), offset)


def render(pixels: np.ndarray, preset: Preset, recipe: Recipe | None = None, avif_xmp: XmpEdit | None = None
           ) -> Rendered:
    """`pixels` (RGBA8, sRGB) as the file `preset` describes; `recipe` goes with it unless the preset strips
    metadata. `avif_xmp` edits an AVIF's XMP as it is encoded (no XMP can be added to an AVIF afterwards).
    Raises RequestError target_size_unreachable when no quality gets under the preset's target."""
    source = Size(width=pixels.shape[1], height=pixels.shape[0])
    plan = layout(source, preset)
    warnings = []
    left, top, right, bottom = plan.crop
    cropped = np.ascontiguousarray(pixels[top:bottom, left:right])
    if plan.enlarges:
        scaled = Image.fromarray(enlarge(cropped, plan.scaled), "RGBA")
        factor = max(plan.scaled.width / (right - left), plan.scaled.height / (bottom - top))
        warnings.append(f"{preset.name}: the image has {right - left}x{bottom - top} pixels for this "
                        f"{plan.scaled.width}x{plan.scaled.height} deliverable, so it was enlarged {factor:.2f}x "
                        "(Lanczos with unsharp mask); an upscale job adds real detail.")
    else:
        scaled = Image.fromarray(cropped, "RGBA").resize(
            (plan.scaled.width, plan.scaled.height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    image = _placed(scaled, plan, preset)
    data, quality = _encoded(image, preset, recipe, avif_xmp)
    return Rendered(data, plan.canvas, quality, warnings)


def _placed(scaled: Image.Image, plan: Layout, preset: Preset) -> Image.Image:
    """The scaled picture on its canvas in the preset's colour space: RGBA only when transparency remains and
    the file may hold it, else flattened onto the pad colour; RGB or CMYK after conversion."""
    pad = _rgba(preset.pad_color)
    canvas = Image.new("RGBA", (plan.canvas.width, plan.canvas.height), pad)
    canvas.paste(scaled, plan.offset)
    keep_alpha = preset.alpha and preset.format in ALPHA_FORMATS and not preset.cmyk
    alpha = canvas.getchannel("A")
    lowest, _ = alpha.getextrema()
    if keep_alpha and isinstance(lowest, int) and lowest < 255:
        converted = convert(canvas.convert("RGB"), preset.profile)
        converted.putalpha(alpha)
        return converted
    flat = Image.new("RGB", canvas.size, pad[:3])
    flat.paste(canvas, mask=alpha)
    return convert(flat, preset.profile)


def _encoded(image: Image.Image, preset: Preset, recipe: Recipe | None, avif_xmp: XmpEdit | None
             ) -> tuple[bytes, int | None]:
    """The file's bytes and the quality used (None for lossless formats)."""
    recipe_json = recipe.to_json() if recipe is not None and preset.metadata == "keep" else None
    write = _WRITERS[preset.format]
    if preset.format == "avif" and avif_xmp is not None:
        write = partial(_avif, edit=avif_xmp)
    if preset.format not in DEFAULT_QUALITY:
        return write(image, preset, recipe_json, None), None
    if preset.target_kb is None:
        quality = preset.quality or DEFAULT_QUALITY[preset.format]
        return write(image, preset, recipe_json, quality), quality
    limit = math.floor(preset.target_kb * 1024)
    return _largest_under(lambda q: write(image, preset, recipe_json, q), limit, preset)


def _largest_under(encode: Callable[[int], bytes], limit: int, preset: Preset) -> tuple[bytes, int]:
    """The highest quality (1-100) whose file is at most `limit` bytes, by binary search: file size grows
    with quality (closely enough that the search lands on a quality that fits)."""
    smallest = encode(1)
    if len(smallest) > limit:
        raise RequestError(ErrorCode.TARGET_SIZE_UNREACHABLE,
                           f"The preset {preset.name} asks for at most {preset.target_kb:g} KiB, but even quality 1 "
                           f"makes a {len(smallest) / 1024:.1f} KiB {preset.format.upper()} at "
                           f"{preset.width}x{preset.height}; raise target_kb or lower the size.")
    best, best_quality, low, high = smallest, 1, 2, 100
    while low <= high:
        middle = (low + high) // 2
        data = encode(middle)
        if len(data) <= limit:
            best, best_quality, low = data, middle, middle + 1
        else:
            high = middle - 1
    return best, best_quality


def _rgba(colour: str) -> tuple[int, int, int, int]:
    digits = colour.lstrip("#")
    values = [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]
    return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def _xmp(recipe_json: str | None) -> bytes | None:
    return None if recipe_json is None else _xmp_packet(recipe_json).encode("utf-8")


def _png(image: Image.Image, preset: Preset, recipe_json: str | None, _: int | None) -> bytes:
    info = PngImagePlugin.PngInfo()
    if recipe_json is not None:
        info.add_itxt(RECIPE_KEY, recipe_json)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, icc_profile=load_profile(preset.profile).data,
               dpi=(preset.dpi, preset.dpi), compress_level=6)
    return out.getvalue()


def _jpeg(image: Image.Image, preset: Preset, recipe_json: str | None, quality: int | None) -> bytes:
    out = io.BytesIO()
    xmp = _xmp(recipe_json)
    # One APP1 segment holds at most 64 KiB: a recipe larger than that (prompts of pages) stays with the result.
    extra = {"xmp": xmp} if xmp is not None and len(xmp) <= _JPEG_XMP_MAX else {}
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0",
               icc_profile=load_profile(preset.profile).data, dpi=(preset.dpi, preset.dpi), **extra)
    return out.getvalue()


def _webp(image: Image.Image, preset: Preset, recipe_json: str | None, quality: int | None) -> bytes:
    out = io.BytesIO()
    extra = {"xmp": xmp} if (xmp := _xmp(recipe_json)) is not None else {}
    image.save(out, "WEBP", quality=quality, method=4, icc_profile=load_profile(preset.profile).data, **extra)
    return out.getvalue()


def _avif(image: Image.Image, preset: Preset, recipe_json: str | None, quality: int | None,
          edit: XmpEdit | None = None) -> bytes:
    out = io.BytesIO()
    xmp = _xmp(recipe_json)
    if edit is not None:
        xmp = edit(xmp)
    extra = {"xmp": xmp} if xmp is not None else {}
    image.save(out, "AVIF", quality=quality, speed=8, icc_profile=load_profile(preset.profile).data, **extra)
    return out.getvalue()


def _tiff(image: Image.Image, preset: Preset, recipe_json: str | None, _: int | None) -> bytes:
    out = io.BytesIO()
    tags = {700: xmp} if (xmp := _xmp(recipe_json)) is not None else {}
    image.save(out, "TIFF", compression="tiff_adobe_deflate", icc_profile=load_profile(preset.profile).data,
               dpi=(preset.dpi, preset.dpi), tiffinfo=tags)
    return out.getvalue()


def _psd(image: Image.Image, preset: Preset, recipe_json: str | None, _: int | None) -> bytes:
    """A flat PSD (one Background, as Photoshop saves a flattened file) with the profile and resolution."""
    psd = PSDImage.frompil(image)
    resources = psd._record.image_resources
    resources[Resource.ICC_PROFILE] = ImageResource(key=Resource.ICC_PROFILE, data=load_profile(preset.profile).data)
    # ResolutionInfo: 16.16 fixed-point pixels per inch, shown in inches, for both axes.
    fixed = preset.dpi << 16
    resources[Resource.RESOLUTION_INFO] = ImageResource(key=Resource.RESOLUTION_INFO,
                                                        data=struct.pack(">IHHIHH", fixed, 1, 1, fixed, 1, 1))
    if (xmp := _xmp(recipe_json)) is not None:
        resources[Resource.XMP_METADATA] = ImageResource(key=Resource.XMP_METADATA, data=xmp)
    out = io.BytesIO()
    psd.save(out)
    return out.getvalue()


_WRITERS: dict[str, Callable[[Image.Image, Preset, str | None, int | None], bytes]] = {
    "png": _png, "jpeg": _jpeg, "webp": _webp, "avif": _avif, "tiff": _tiff, "psd": _psd}
