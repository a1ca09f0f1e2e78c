"""Flattened variants as PNG files that carry their recipe.

Flattening is defined here once and reused by the PSD writer for its merged
composite, so a PNG of variant i and the PSD with variant i visible show the
same pixels.

A variant PNG also carries what a replay needs beside its recipe, in two private
chunks before the pixels (unsafe-to-copy, so an editor that changes the image
drops them): the selection, and the source as its XOR with the variant, which is
zero wherever the variant kept the source and so costs little more than the
filled area. Both are zlib-compressed Gray8/RGBA8 bytes at the PNG's size. A
third, GUIDES_CHUNK, holds the control and reference images the job was sent
(results/guides.py).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, PngImagePlugin

from underpaint.imaging.blend import blend_masked
from underpaint.imaging.codec import raw_bytes
from underpaint.results.credentials import DISCLOSURE_ONLY, Credentials, result_provenance, stamp
from underpaint.results.guides import Guides, decode_guides, encode_guides
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.recipe import RECIPE_KEY, Recipe

WHITE = (255, 255, 255, 255)
SELECTION_CHUNK = b"upSL"
SOURCE_CHUNK = b"upSR"
GUIDES_CHUNK = b"upGD"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def base_image(result: LayeredResult) -> np.ndarray:
    """The pixels under the variants: the source, or opaque white for Generate jobs.

    White rather than transparent because it is what the PSD's background
    layer holds and what a Photoshop document starts with, so the PNG of a
    Generate variant matches the PSD instead of showing the mask as holes.
    """
    region = result.region
    if result.source is None:
        return np.full((region.height, region.width, 4), WHITE, dtype=np.uint8)
    expected = (region.height, region.width, 4)
    if result.source.shape != expected or result.source.dtype != np.uint8:
        raise ValueError(f"source must be RGBA8 {expected}, got {result.source.dtype} {result.source.shape}")
    return result.source.copy()


def composite_layers(result: LayeredResult, layers: Iterable[VariantLayer]) -> np.ndarray:
    """Composite `layers` (bottom to top) over the base, clipped to the region."""
    region = result.region
    canvas = base_image(result)
    for layer in layers:
        if layer.pixels.shape != (layer.bounds.height, layer.bounds.width, 4):
            raise ValueError(f"layer {layer.name!r}: pixels {layer.pixels.shape} do not match {layer.bounds}")
        if layer.mask.shape != layer.pixels.shape[:2]:
            raise ValueError(f"layer {layer.name!r}: mask {layer.mask.shape} does not match its pixels")
        clip = layer.bounds.intersect(region)
        if clip.area == 0:
            continue
        src = np.s_[
            clip.y - layer.bounds.y : clip.bottom - layer.bounds.y,
            clip.x - layer.bounds.x : clip.right - layer.bounds.x,
        ]
        dst = np.s_[clip.y - region.y : clip.bottom - region.y, clip.x - region.x : clip.right - region.x]
        pixels = layer.pixels[src]
        # Photoshop's effective opacity is mask x layer alpha; folding the alpha
        # into the weight and blending an opaque layer makes the result alpha
        # come out as Porter-Duff "over" (exact for an opaque base).
        weight = (layer.mask[src].astype(np.uint32) * pixels[..., 3] + 127) // 255
        opaque = pixels.copy()
        opaque[..., 3] = 255
        canvas[dst] = blend_masked(canvas[dst], opaque, weight.astype(np.uint8))
    return canvas


def flatten_variant(result: LayeredResult, index: int) -> np.ndarray:
    """RGBA8 image of the region with `result.layers[index]` alone over the base.

    For Generate jobs (no source) the base is opaque white, see `base_image`.
    """
    return composite_layers(result, [result.layers[index]])


def flatten_visible(result: LayeredResult) -> np.ndarray:
    """What the PSD shows: visible variants over the base, first variant on top."""
    return composite_layers(result, [layer for layer in reversed(result.layers) if layer.visible])


def variant_png(result: LayeredResult, index: int, credentials: Credentials = DISCLOSURE_ONLY) -> bytes:
    """Variant `index` flattened, as a PNG with the recipe, the selection and the source, stamped
    with what `credentials` allow (results/credentials: disclosure, parameters text, manifest)."""
    flat = flatten_variant(result, index)
    chunks: dict[bytes, bytes] = {}
    if result.selection is not None:
        chunks[SELECTION_CHUNK] = zlib.compress(raw_bytes(result.selection), 1)
    if result.source is not None:
        chunks[SOURCE_CHUNK] = zlib.compress(np.bitwise_xor(flat, result.source).data, 1)
    if not result.guides.empty:
        chunks[GUIDES_CHUNK] = encode_guides(result.guides)
    return stamp(encode_png(flat, result.recipe, chunks), "png", result_provenance(result, index), credentials)


def encode_png(rgba: np.ndarray, recipe: Recipe | None, chunks: Mapping[bytes, bytes] | None = None) -> bytes:
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected an RGBA8 (H, W, 4) array, got {rgba.dtype} {rgba.shape}")
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        # iTXt because recipes hold prompts, which are UTF-8; tEXt is Latin-1.
        info.add_itxt(RECIPE_KEY, recipe.to_json())
    for name, data in (chunks or {}).items():
        info.add(name, data)
    out = io.BytesIO()
    # Level 1: results are encoded while the client waits; size matters less.
    Image.fromarray(rgba, "RGBA").save(out, format="PNG", pnginfo=info, compress_level=1)
    return out.getvalue()


def read_png_recipe(data_or_path: bytes | Path) -> Recipe:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with Image.open(source) as image:
        if not isinstance(image, PngImagePlugin.PngImageFile):
            raise ValueError(f"not a PNG file: {data_or_path if isinstance(data_or_path, Path) else 'bytes'}")
        # `info` holds the chunks before the pixels, where we write the recipe;
        # `text` would decode the whole image to look for trailing chunks.
        text = image.info.get(RECIPE_KEY)
        if text is None:
            text = image.text.get(RECIPE_KEY)
    if text is None:
        raise ValueError(f"PNG has no {RECIPE_KEY!r} text chunk; it was not written by Underpaint")
    return Recipe.from_json(str(text))


def read_png_replay(path: Path) -> tuple[Recipe, np.ndarray | None, np.ndarray | None]:
    """What a replay needs from a variant PNG: the recipe, the source (RGBA8) and the selection
    (Gray8), each None when the file does not carry it."""
    recipe = read_png_recipe(path)
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGBA")) if image.mode != "RGBA" else np.asarray(image)
    chunks = read_private_chunks(path, {SELECTION_CHUNK, SOURCE_CHUNK})
    selection = source = None
    if SELECTION_CHUNK in chunks:
        selection = _inflate(chunks[SELECTION_CHUNK], width * height, path).reshape(height, width)
    if SOURCE_CHUNK in chunks:
        source = np.bitwise_xor(pixels, _inflate(chunks[SOURCE_CHUNK], width * height * 4, path).reshape(
            height, width, 4))
    return recipe, source, selection


def read_png_guides(path: Path, recipe: Recipe) -> Guides:
    """The control and reference images a variant PNG holds for `recipe` (none when it holds none)."""
    chunk = read_private_chunks(path, {GUIDES_CHUNK}).get(GUIDES_CHUNK)
    if chunk is None:
        return Guides()
    return decode_guides(chunk, len(recipe.params.controls), len(recipe.params.references), path.name)


def read_private_chunks(path: Path, wanted: set[bytes]) -> dict[bytes, bytes]:
    """The chunks named `wanted` that come before the pixels, read with Pillow's chunk reader."""
    found: dict[bytes, bytes] = {}
    with path.open("rb") as file:
        if file.read(8) != _PNG_MAGIC:
            raise ValueError(f"{path} is not a PNG file")
        stream = PngImagePlugin.ChunkStream(file)
        try:
            while True:
                name, _, length = stream.read()
                if name in (b"IDAT", b"IEND"):
                    return found
                data = ImageFile._safe_read(file, length)
                stream.crc(name, data)
                if name in wanted:
                    found[name] = data
        except (SyntaxError, OSError, struct.error) as error:
            raise ValueError(f"{path}: broken PNG chunk ({error})") from None


def _inflate(data: bytes, size: int, path: Path) -> np.ndarray:
    # Bounded, so a forged chunk cannot make the agent inflate gigabytes.
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, size + 1)
    except zlib.error as error:
        raise ValueError(f"{path}: an Underpaint chunk is corrupt ({error})") from None
    if len(raw) != size:
        raise ValueError(f"{path}: an Underpaint chunk does not match the image's size")
    return np.frombuffer(raw, np.uint8)
