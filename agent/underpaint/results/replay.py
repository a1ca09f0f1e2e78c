"""What re-making a result needs, gathered from its own file: the recipe and the very inputs.

A PSD holds the source (its Background) and the selection (a saved channel), a
variant PNG holds both in private chunks, a recipe.json holds neither (pass
them). The recipe keeps the result's geometry; for Expand that is the grown
canvas, so the request as it was sent is recovered from the margins. Every
input is checked against the recipe's hashes, so a replay never silently runs
on different pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from underpaint.core import Mode, Params, Rect, Size
from underpaint.imaging.canvas import placement, request_geometry
from underpaint.imaging.codec import ImageLike, load_image
from underpaint.results.png import read_png_recipe, read_png_replay
from underpaint.results.psd import read_psd_recipe, read_psd_replay
from underpaint.results.recipe import Recipe, pixels_sha256

_PSD_MAGIC = b"8BPS"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, eq=False)
class Replay:
    """A recipe's request as it was sent: geometry, and the RGBA8 image and Gray8 mask (or None)."""

    recipe: Recipe
    document: Size
    region: Rect
    image: np.ndarray | None
    mask: np.ndarray | None

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


def load_replay(path: Path, image: ImageLike | None = None, mask: ImageLike | None = None) -> Replay:
    """The replay of the result file (PSD, variant PNG or recipe JSON) at `path`.

    `image` and `mask` stand in for what the file lacks (or override what it holds).
    Raises ValueError, saying which input to pass, when one is missing or differs from the
    recipe's.
    """
    recipe, source, selection = read_result_inputs(path)
    document, region, inside = recipe.document, recipe.region, Rect(
        x=0, y=0, width=recipe.region.width, height=recipe.region.height)
    if recipe.mode is Mode.EXPAND and recipe.params.expand is not None:
        document, region = request_geometry(recipe.document, recipe.region, recipe.params.expand)
        inside = placement(region, recipe.region, recipe.params.expand)
    pixels = _input("image", image, source, recipe.image_sha256, inside, 4, path)
    selected = _input("mask", mask, selection, recipe.mask_sha256, inside, 1, path)
    return Replay(recipe, document, region, pixels, selected)


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
