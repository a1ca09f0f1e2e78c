"""LayeredResult as a layered PSD: source background, then one group of variants.

Layout, bottom to top, as Photoshop shows it:
    Background            the source pixels (white for Generate jobs)
    <group_name>/         open folder
        variant n ... 2   hidden unless marked visible
        variant 1         on top and visible, as a Generative Fill's current variation
Every variant carries its selection as a user layer mask. The merged image
section holds `flatten_visible(result)` so composite-only readers agree, and
after it the job's selection as a saved alpha channel named SELECTION_CHANNEL,
the way Photoshop saves a selection: it shows in the Channels panel, and with
the recipe and the Background it is all a replay needs (with, when the job was
sent control or reference images, those images in image resource
GUIDES_RESOURCE, from Photoshop's plug-in range, which it keeps on re-save).

The recipe lives in the XMP packet (image resource 1060) as the simple
property `underpaint:recipe` in the namespace `XMP_NAMESPACE`; Photoshop keeps
XMP properties it does not know when it re-saves a document.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

import numpy as np
from defusedxml import DefusedXmlException, ElementTree
from PIL import Image
from psd_tools import PSDImage
from psd_tools.api.layers import Group
from psd_tools.constants import Compression, Resource
from psd_tools.psd.image_data import ImageData
from psd_tools.psd.image_resources import (
    AlphaChannel,
    AlphaIdentifiers,
    AlphaNamesPascal,
    AlphaNamesUnicode,
    DisplayInfo,
    ImageResource,
)

from underpaint.results.credentials import DISCLOSURE_ONLY, Credentials, disclosure_xmp
from underpaint.results.guides import Guides, decode_guides, encode_guides
from underpaint.results.layered import LayeredResult
from underpaint.results.png import base_image, flatten_visible
from underpaint.results.recipe import RECIPE_KEY, Recipe

XMP_NAMESPACE = "https://underpaint.dev/ns/recipe/1.0/"
SELECTION_CHANNEL = "Underpaint selection"
_SELECTION_ID = 1  # Alpha identifier 0 means the composite's transparency to readers.
# Shown as Photoshop shows a new saved selection: a red overlay at 50% over the masked areas.
_SELECTION_DISPLAY = AlphaChannel(color_space=0, c1=65535, c2=0, c3=0, c4=0, opacity=50, mode=0)
_PREFIX, _LOCAL = RECIPE_KEY.split(":")
_MAX_NAME = 255  # PSD layer names are Pascal strings / luni blocks capped at 255.
GUIDES_RESOURCE = 4000


def write_psd(result: LayeredResult, path: Path, credentials: Credentials = DISCLOSURE_ONLY) -> None:
    """The PSD of `result` at `path`; its XMP also discloses how it was made when `credentials`
    allow (PSD takes no C2PA manifest: see results/credentials)."""
    region = result.region
    if region.area == 0:
        raise ValueError("cannot write a PSD of an empty region")
    composite = flatten_visible(result)
    opaque = bool((composite[..., 3] == 255).all())
    psd = PSDImage.new("RGB" if opaque else "RGBA", (region.width, region.height), depth=8)

    # Names go through the `name` setter, which also writes the Unicode name
    # block ('luni') that the constructors skip and non-MacRoman names need.
    background = psd.create_pixel_layer_from_array(base_image(result), name="Background")
    background.name = "Background"
    group = psd.create_group(name="Group", open_folder=True)
    group.name = result.group_name[:_MAX_NAME]
    # Children are listed bottom to top, so the first variant lands on top.
    for variant in reversed(result.layers):
        top, left = variant.bounds.y - region.y, variant.bounds.x - region.x
        layer = group.create_pixel_layer_from_array(
            variant.pixels, name="Layer", top=top, left=left, compression=Compression.RLE
        )
        layer.name = variant.name[:_MAX_NAME]
        layer.create_mask(Image.fromarray(variant.mask, "L"), top=top, left=left)
        layer.visible = variant.visible
    # Masks were attached after the layers joined the tree; rebuild the flat
    # record list so the layer section carries them.
    psd._update_record()

    record = psd._record
    if not opaque:
        # A negative layer count tells readers the merged image's alpha channel
        # is the composite's transparency, not an extra spot channel.
        info = record._get_layer_info()
        assert info is not None
        info.layer_count = -abs(info.layer_count)
    record.image_resources[Resource.XMP_METADATA] = ImageResource(
        key=Resource.XMP_METADATA, data=_xmp(result, credentials)
    )
    if not result.guides.empty:
        record.image_resources[GUIDES_RESOURCE] = ImageResource(key=GUIDES_RESOURCE,
                                                                data=encode_guides(result.guides))
    # Our own composite rather than psd-tools' (save() would re-render it): it
    # must be bit-identical to the source outside the mask, as the PNGs are.
    planes = [np.ascontiguousarray(composite[..., c]).tobytes() for c in range(3 if opaque else 4)]
    if result.selection is not None:
        planes.append(_selection_plane(result.selection, region.width, region.height))
        record.header.channels = len(planes)
        # psd-tools' list elements are untyped generics, hence the ignores.
        for key, value in ((Resource.ALPHA_NAMES_UNICODE, AlphaNamesUnicode([SELECTION_CHANNEL])),  # type: ignore[list-item]
                           (Resource.ALPHA_NAMES_PASCAL, AlphaNamesPascal([SELECTION_CHANNEL])),  # type: ignore[list-item]
                           (Resource.ALPHA_IDENTIFIERS, AlphaIdentifiers([_SELECTION_ID])),  # type: ignore[list-item]
                           (Resource.DISPLAY_INFO, DisplayInfo(alpha_channels=[_SELECTION_DISPLAY]))):  # type: ignore[list-item]
            buffer = io.BytesIO()
            value.write(buffer)
            record.image_resources[key] = ImageResource(key=key, data=buffer.getvalue())
    record.image_data = ImageData(compression=Compression.RLE)
    record.image_data.set_data(planes, record.header)
    write_atomically(path, record.write)


def _selection_plane(selection: np.ndarray, width: int, height: int) -> bytes:
    if selection.shape != (height, width) or selection.dtype != np.uint8:
        raise ValueError(f"selection must be Gray8 {(height, width)}, got {selection.dtype} {selection.shape}")
    return np.ascontiguousarray(selection).tobytes()


def read_psd_recipe(path: Path) -> Recipe:
    return _recipe(PSDImage.open(path), path)


def read_psd_layers(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each variant's RGBA8 pixels and Gray8 mask at its bounds, in variant order, from a PSD that
    `write_psd` wrote: RLE is lossless, so they are the arrays the job streamed."""
    group = next((layer for layer in PSDImage.open(path) if isinstance(layer, Group)), None)
    if group is None:
        raise ValueError(f"{path} has no group of variants.")
    layers = []
    # The group lists its layers bottom to top, and the first variant is on top.
    for layer in reversed(list(group)):
        pixels = layer.topil()
        mask = layer.mask.topil() if layer.mask is not None else None
        if pixels is None or mask is None:
            raise ValueError(f"{path}: layer {layer.name!r} lacks pixels or a mask.")
        layers.append((np.asarray(pixels.convert("RGBA")), np.asarray(mask.convert("L"))))
    return layers


def read_psd_replay(path: Path) -> tuple[Recipe, np.ndarray, np.ndarray | None]:
    """What a replay needs from an Underpaint PSD: the recipe, the Background (RGBA8) and the
    saved selection (Gray8), or None when the file has no channel named SELECTION_CHANNEL."""
    psd = PSDImage.open(path)
    recipe = _recipe(psd, path)
    background = next((layer for layer in psd if layer.name == "Background" and not layer.is_group()), None)
    pixels = background.topil() if background is not None else None
    if pixels is None:
        raise ValueError(f"{path} has no Background layer to replay on.")
    return recipe, np.asarray(pixels.convert("RGBA")), _saved_selection(psd)


def read_psd_guides(path: Path, recipe: Recipe) -> Guides:
    """The control and reference images a PSD holds for `recipe` (none when it holds none)."""
    data = PSDImage.open(path).image_resources.get_data(GUIDES_RESOURCE)
    if not isinstance(data, bytes):
        return Guides()
    return decode_guides(data, len(recipe.params.controls), len(recipe.params.references), path.name)


def _saved_selection(psd: PSDImage) -> np.ndarray | None:
    names = psd.image_resources.get_data(Resource.ALPHA_NAMES_UNICODE) or []
    if SELECTION_CHANNEL not in names:
        return None
    # Named channels are the last ones, after the colour channels and any composite transparency.
    index = psd.channels - len(names) + list(names).index(SELECTION_CHANNEL)
    return np.asarray(psd.topil(channel=index))


def _recipe(psd: PSDImage, path: Path) -> Recipe:
    xmp = psd.image_resources.get_data(Resource.XMP_METADATA)
    if not isinstance(xmp, bytes):
        raise ValueError(f"{path}: no XMP metadata, so no Underpaint recipe")
    text = _recipe_from_xmp(xmp)
    if text is None:
        raise ValueError(f"{path}: XMP metadata holds no {RECIPE_KEY!r} property")
    return Recipe.from_json(text)


def _xmp(result: LayeredResult, credentials: Credentials) -> bytes:
    packet = _xmp_packet(result.recipe.to_json()).encode("utf-8")
    return disclosure_xmp(result.recipe, credentials, packet) or packet


def _xmp_packet(recipe_json: str) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:{_PREFIX}="{XMP_NAMESPACE}">\n'
        f"   <{RECIPE_KEY}>{escape(recipe_json)}</{RECIPE_KEY}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _recipe_from_xmp(xmp: bytes) -> str | None:
    try:
        root = ElementTree.fromstring(xmp.decode("utf-8").lstrip("\ufeff"))
    except (UnicodeDecodeError, ElementTree.ParseError, DefusedXmlException) as error:
        raise ValueError(f"unreadable XMP metadata: {error}") from error
    name = f"{{{XMP_NAMESPACE}}}{_LOCAL}"
    for description in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        # Adobe's XMP toolkit may re-serialise a simple property as an attribute.
        if name in description.attrib:
            return description.attrib[name]
        element = description.find(name)
        if element is not None and element.text:
            return element.text
    return None


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through `write(file)` to a temp file beside `path`, then rename it over `path`.

    Readers (HTTP downloads, the hot folder's watcher) never see a half-written file.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
