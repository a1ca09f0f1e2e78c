"""From a finished result to its deliverables: the chosen variant composited over its source, rendered for
each preset, written beside each other.

The result is a file the agent wrote: its PSD (every variant, over the Background) or a variant PNG (one
variant, already flattened). Either carries the recipe, which goes with every deliverable that keeps its
metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, UnidentifiedImageError
from psd_tools import PSDImage
from psd_tools.api.layers import Group

from underpaint.core import ErrorCode, Rect, RequestError, Size
from underpaint.results.credentials import (
    SIDECAR_SUFFIX,
    Action,
    Credentials,
    Ingredient,
    Provenance,
    disclosure_xmp,
    sidecar_manifest,
    source_ingredient,
)
from underpaint.results.credentials import stamp as stamp_file
from underpaint.results.delivery.preset import Preset
from underpaint.results.delivery.render import XmpEdit, render
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.png import flatten_variant, read_png_recipe
from underpaint.results.psd import read_psd_recipe, write_atomically
from underpaint.results.recipe import Recipe
from underpaint.results.store import ResultStore, variant_name

_PSD_MAGIC = b"8BPS"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_VARIANT_PNG = re.compile(r"variant-(\d+)\.png$")
Finish = Callable[[bytes, Preset], tuple[bytes, bytes | None]]


@dataclass(frozen=True)
class Stamp:
    """Content Credentials for deliverables. `finish` is the last touch on a file's bytes before they are
    written, given its preset: the file's bytes, and the manifest to write beside it for a format no manifest
    can be embedded in (PSD). `xmp` edits the XMP packet of formats whose XMP is written by the encoder and
    cannot be changed after it (AVIF), so their disclosure goes in as they are encoded."""

    finish: Finish
    xmp: XmpEdit | None = None
_INGREDIENT_FORMATS = frozenset({"png", "jpeg", "webp", "tiff", "avif"})


@dataclass(frozen=True)
class Deliverable:
    preset: str
    path: Path
    format: str
    size: Size
    bytes: int
    quality: int | None


@dataclass(frozen=True)
class Delivery:
    files: list[Deliverable]
    warnings: list[str]


@dataclass(frozen=True, eq=False)
class ResultVariant:
    """One variant of a result file: its recipe, its RGBA8 composite over the source, and its 0-based index."""

    recipe: Recipe
    pixels: np.ndarray
    index: int


def read_variant(path: Path, variant: int | None = None) -> ResultVariant:
    """Variant `variant` (0-based; None: the first, or the one a variant PNG holds) of the result file at `path`.

    bad_image when the file is no image or not one Underpaint wrote; unknown_variant when it has no such variant.
    """
    try:
        with path.open("rb") as file:
            magic = file.read(8)
    except OSError as exc:
        raise RequestError(ErrorCode.BAD_IMAGE, f"Cannot read {path.name}: {exc.strerror or exc}.") from None
    try:
        if magic.startswith(_PSD_MAGIC):
            return _psd_variant(path, variant)
        if magic.startswith(_PNG_MAGIC):
            return _png_variant(path, variant)
    except (ValueError, OSError, UnidentifiedImageError) as exc:
        raise RequestError(ErrorCode.BAD_IMAGE, f"{path.name} is not a result Underpaint wrote: {exc}") from None
    raise RequestError(ErrorCode.BAD_IMAGE, f"{path.name} is neither a PSD nor a PNG; export takes the result files "
                       "Underpaint writes (result.psd, variant-N.png).")


def deliver(result: ResultVariant, presets: Sequence[Preset], out_dir: Path, name: str,
            stamp: Stamp | None = None, file_name: Callable[[Preset, Size], str] | None = None) -> Delivery:
    """Write `result` as every preset's file into `out_dir`. Files are named by each preset's pattern (with
    `name` as {name}) unless `file_name(preset, size)` says otherwise. Nothing is written when two presets would
    write one file name, or when any preset fails (a target size it cannot reach): a delivery is whole or absent."""
    rendered = [(preset, render(result.pixels, preset, result.recipe, stamp.xmp if stamp else None))
                for preset in presets]
    names = [file_name(preset, out.size) if file_name else preset.file_name(name, result.index, out.size.width,
                                                                             out.size.height)
             for preset, out in rendered]
    for index, taken in enumerate(names):
        if taken in names[:index]:
            raise RequestError(ErrorCode.BAD_PRESET, f"The presets {presets[names.index(taken)].name} and "
                               f"{presets[index].name} would both write {taken}; give one a naming pattern with "
                               "{preset} in it.")
    out_dir.mkdir(parents=True, exist_ok=True)
    files, warnings = [], []
    for (preset, out), file in zip(rendered, names, strict=True):
        data, sidecar = stamp.finish(out.data, preset) if stamp is not None else (out.data, None)
        path = out_dir / file
        write_atomically(path, _writes(data))
        if sidecar is not None:
            write_atomically(path.with_suffix(SIDECAR_SUFFIX), _writes(sidecar))
        files.append(Deliverable(preset.name, path, preset.format, out.size, len(data), out.quality))
        warnings += out.warnings
    return Delivery(files, warnings)


def credentials_stamp(credentials: Credentials, result: ResultVariant, origin: Path) -> Stamp:
    """Content Credentials for the deliverables of `result`: the disclosure and parameters text of its recipe, and
    a manifest saying each was resized and converted from the result file `origin` (its parent ingredient; a PSD,
    which no manifest can name, stands in as a JPEG of the variant)."""
    fmt = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff"}.get(origin.suffix.lower())
    if fmt in _INGREDIENT_FORMATS:
        ingredient = Ingredient(origin.read_bytes(), fmt, origin.name)
    else:
        shown = source_ingredient(result.pixels)
        assert shown is not None, "a variant always has pixels"
        ingredient = replace(shown, title=origin.name)
    provenance = Provenance(result.recipe, (Action.RESIZED, Action.CONVERTED), result.index, ingredient)

    def stamped(data: bytes, preset: Preset) -> tuple[bytes, bytes | None]:
        data = stamp_file(data, preset.format, provenance, credentials)
        return data, sidecar_manifest(data, provenance, credentials) if preset.format == "psd" else None

    def disclosed(packet: bytes | None) -> bytes | None:
        return disclosure_xmp(result.recipe, credentials, packet) or packet

    return Stamp(stamped, disclosed)


def deliver_job(store: ResultStore, job_id: str, variant: int, presets: Sequence[Preset]) -> Delivery:
    """Write variant `variant` (0-based) of a finished job as each preset's file into the job's own result folder,
    named `delivery_name` (so they download beside its PSD and go when it is cleaned up), carrying the store's
    Content Credentials. unknown_job when the job has no result files, unknown_variant when it has not that variant."""
    png = store.find(job_id, variant_name(variant))
    if png is None:
        first = store.find(job_id, variant_name(0))
        if first is None:
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"Job '{job_id}' has no result files to export (it has not "
                               "finished, it failed, or its files were cleaned up).", job_id)
        count = len(list(first.parent.glob("variant-*.png")))
        raise RequestError(ErrorCode.UNKNOWN_VARIANT, f"Job '{job_id}' has {count} variant(s); there is no variant "
                           f"{variant} (variants count from 0).", job_id)
    result = read_variant(png, variant)
    return deliver(result, presets, png.parent, job_id, credentials_stamp(store.credentials, result, png),
                   lambda preset, _: delivery_name(variant, preset))


def delivery_name(variant: int, preset: Preset) -> str:
    """The file a job's export to `preset` is kept as in its result folder (what the download URL names)."""
    return f"delivery-{variant + 1}-{preset.name}{preset.extension}"


def _writes(data: bytes) -> Callable[[IO[bytes]], object]:
    return lambda handle: handle.write(data)


def _png_variant(path: Path, variant: int | None) -> ResultVariant:
    recipe = read_png_recipe(path)
    match = _VARIANT_PNG.search(path.name)
    index = int(match.group(1)) - 1 if match else 0
    if variant is not None and variant != index:
        raise RequestError(ErrorCode.UNKNOWN_VARIANT, f"{path.name} holds variant {index + 1} alone; export the "
                           f"job's PSD (or variant-{variant + 1}.png) for variant {variant + 1}.")
    with Image.open(path) as image:
        return ResultVariant(recipe, np.asarray(image.convert("RGBA")), index)


def _psd_variant(path: Path, variant: int | None) -> ResultVariant:
    """The variant composited as the job's own PNG is (results.png.flatten_variant), from the PSD's layers."""
    recipe = read_psd_recipe(path)
    psd = PSDImage.open(path)
    background = next((layer for layer in psd if layer.name == "Background" and not layer.is_group()), None)
    group = next((layer for layer in psd if isinstance(layer, Group)), None)
    source = background.topil() if background is not None else None
    if source is None or group is None:
        raise ValueError("it has no Background and group of variants")
    region = recipe.region
    layers = []
    for index, layer in enumerate(reversed(list(group))):  # the group lists bottom to top; variant 1 is on top
        pixels, mask = layer.topil(), layer.mask.topil() if layer.mask is not None else None
        if pixels is None or mask is None:
            raise ValueError(f"its layer {layer.name!r} lacks pixels or a mask")
        bounds = Rect(x=region.x + layer.left, y=region.y + layer.top, width=pixels.width, height=pixels.height)
        layers.append(VariantLayer(index, 0, layer.name, bounds, np.asarray(pixels.convert("RGBA")),
                                   np.asarray(mask.convert("L")), index == 0))
    chosen = 0 if variant is None else variant
    if not 0 <= chosen < len(layers):
        raise RequestError(ErrorCode.UNKNOWN_VARIANT, f"{path.name} has {len(layers)} variants; there is no "
                           f"variant {chosen + 1}.")
    result = LayeredResult(group.name, np.asarray(source.convert("RGBA")), layers, recipe)
    return ResultVariant(recipe, flatten_variant(result, chosen), chosen)
