"""What re-making a result needs, gathered from its own file: the recipe and the very inputs.

A PSD holds the source (its Background) and the selection (a saved channel), a
variant PNG holds both in private chunks, a recipe.json holds neither (pass
them); the PSD and PNG also hold the control and reference images the job was
sent. The recipe keeps the result's geometry; for Expand that is the grown
canvas, so the request as it was sent is recovered from the margins; an
upscale's recipe keeps the geometry as sent beside it, and its Background
holds each source pixel as a block. Every
input is checked against the recipe's hashes, so a replay never silently runs
on different pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from underpaint.core import Mode, Params, Rect, Size
from underpaint.imaging.canvas import placement, request_geometry
from underpaint.imaging.codec import ImageLike, load_image
from underpaint.imaging.resample import block_centres
from underpaint.results.guides import Guides
from underpaint.results.png import read_png_guides, read_png_recipe, read_png_replay
from underpaint.results.psd import read_psd_guides, read_psd_recipe, read_psd_replay
from underpaint.results.recipe import Recipe, pixels_sha256

_PSD_MAGIC = b"8BPS"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, eq=False)
class Replay:
    """A recipe's request as it was sent: geometry, the RGBA8 image and Gray8 mask (or None), and
    the control and reference images."""

    recipe: Recipe
    document: Size
    region: Rect
    image: np.ndarray | None
    mask: np.ndarray | None
    guides: Guides

    @property
    def mode(self) -> Mode:
        return self.recipe.mode

    @property
    def params(self) -> Params:
        """The recipe's parameters with its model pinned by name, so a replay never falls to
        whatever the agent's default model is by then."""
        model = self.recipe.model
        if self.recipe.params.model is None and model is not None:
            return self.recipe.params.model_copy(update={"model": model.name})
        return self.recipe.params


def load_replay(path: Path, image: ImageLike | None = None, mask: ImageLike | None = None,
                control_images: Sequence[ImageLike] = (), reference_images: Sequence[ImageLike] = ()) -> Replay:
    """The replay of the result file (PSD, variant PNG or recipe JSON) at `path`.

    `image` and `mask` stand in for what the file lacks (or override what it holds), as do
    `control_images` (one per control the job was sent an image for, in order) and
    `reference_images`. Raises ValueError, saying which input to pass, when one is missing or
    differs from the recipe's.
    """
    recipe, source, selection = read_result_inputs(path)
    document, region, inside = recipe.document, recipe.region, Rect(
        x=0, y=0, width=recipe.region.width, height=recipe.region.height)
    if recipe.mode is Mode.EXPAND and recipe.params.expand is not None:
        document, region = request_geometry(recipe.document, recipe.region, recipe.params.expand)
        inside = placement(region, recipe.region, recipe.params.expand)
    if recipe.mode is Mode.UPSCALE and recipe.sent_document is not None and recipe.sent_region is not None:
        document, region = recipe.sent_document, recipe.sent_region
        inside = Rect(x=0, y=0, width=region.width, height=region.height)
        if source is not None:  # the Background holds each source pixel as a block
            source = block_centres(source, Size(width=region.width, height=region.height))
    pixels = _input("image", image, source, recipe.image_sha256, inside, 4, path)
    selected = _input("mask", mask, selection, recipe.mask_sha256, inside, 1, path)
    return Replay(recipe, document, region, pixels, selected,
                  _guides(recipe, _held_guides(path, recipe), control_images, reference_images, path))


def read_recipe(path: Path) -> Recipe:
    """The recipe of a result file (recipe JSON, variant PNG or PSD), told apart by content."""
    kind = _kind(path)
    if kind == "psd":
        return read_psd_recipe(path)
    if kind == "png":
        return read_png_recipe(path)
    return _recipe_json(path)


def read_result_inputs(path: Path) -> tuple[Recipe, np.ndarray | None, np.ndarray | None]:
    """(recipe, source, selection) of a result file; the pixels are at the result's size and
    None when the file does not hold them."""
    kind = _kind(path)
    if kind == "psd":
        return read_psd_replay(path)
    if kind == "png":
        return read_png_replay(path)
    return _recipe_json(path), None, None


def _held_guides(path: Path, recipe: Recipe) -> Guides:
    if not (recipe.params.references or any(c.image == "sent" for c in recipe.params.controls)):
        return Guides()
    kind = _kind(path)
    if kind == "psd":
        return read_psd_guides(path, recipe)
    if kind == "png":
        return read_png_guides(path, recipe)
    return Guides()


def _guides(recipe: Recipe, held: Guides, controls: Sequence[ImageLike], references: Sequence[ImageLike],
            path: Path) -> Guides:
    """Each sent control image and reference image, given or held, checked against the recipe's hashes."""
    sent = [i for i, control in enumerate(recipe.params.controls) if control.image == "sent"]
    if controls and len(controls) != len(sent):
        raise ValueError(f"The recipe has {len(sent)} sent control images; {len(controls)} were given.")
    if references and len(references) != len(recipe.params.references):
        raise ValueError(f"The recipe has {len(recipe.params.references)} reference images; "
                         f"{len(references)} were given.")
    given_controls = dict(zip(sent, controls, strict=False))
    control_images: list[np.ndarray | None] = []
    for index, control in enumerate(recipe.params.controls):
        if control.image != "sent":
            control_images.append(None)
            continue
        stored = held.controls[index] if index < len(held.controls) else None
        control_images.append(_guide(f"control image {index + 1}", given_controls.get(index), stored,
                                     control.image_sha256, "--control-image", path))
    reference_images = [
        _guide(f"reference image {index + 1}", references[index] if references else None,
               held.references[index] if index < len(held.references) else None, reference.image_sha256,
               "--reference-image", path)
        for index, reference in enumerate(recipe.params.references)]
    return Guides(tuple(control_images), tuple(reference_images))


def _guide(name: str, given: ImageLike | None, held: np.ndarray | None, expected: str | None, option: str,
           path: Path) -> np.ndarray:
    if given is not None:
        array, _ = load_image(given, 4)
    elif held is None:
        raise ValueError(f"{path.name} does not hold the {name} this recipe was made from; pass it with {option}.")
    else:
        array = held
    if expected is not None and pixels_sha256(array) != expected:
        raise ValueError(f"The {name} differs from the one this recipe was made from (its hash does not match).")
    return array


def _kind(path: Path) -> str:
    with path.open("rb") as file:
        magic = file.read(8)
    return "psd" if magic.startswith(_PSD_MAGIC) else "png" if magic.startswith(_PNG_MAGIC) else "json"


def _recipe_json(path: Path) -> Recipe:
    try:
        return Recipe.from_json(path.read_bytes())
    except ValueError as error:
        raise ValueError(f"{path}: not a recipe JSON, PNG or PSD: {error}") from error


def _input(name: str, given: ImageLike | None, held: np.ndarray | None, expected: str | None, inside: Rect,
           channels: int, path: Path) -> np.ndarray | None:
    if given is not None:
        array, _ = load_image(given, channels)
    elif expected is None:
        return None  # the job was sent without it (a Generate, a Refine or Expand with no mask)
    elif held is None:
        raise ValueError(f"{path.name} does not hold the {name} this recipe was made from; pass it with "
                         f"--{name} (Python: {name}=...).")
    else:
        array = held[inside.y:inside.bottom, inside.x:inside.right]
    if expected is not None and pixels_sha256(array) != expected:
        raise ValueError(f"The {name} differs from the one this recipe was made from (its hash does not match).")
    return array
