"""Gathering what a replay needs: the recipe and the very inputs it was made from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from psd_tools import PSDImage

from underpaint.imaging.codec import load_image
from underpaint.results.recipe import Recipe, pixels_sha256
from underpaint.results.store import read_recipe


def replay_inputs(recipe_file: Path, image: Path | None, mask: Path | None
                  ) -> tuple[Recipe, np.ndarray, np.ndarray]:
    """The recipe plus source and selection, checked against the recipe's input hashes,
    so a replay never silently runs on different pixels."""
    recipe = read_recipe(recipe_file)
    if image is not None:
        source, _ = load_image(image, 4)
    elif recipe_file.suffix.lower() == ".psd":
        source = _psd_background(recipe_file)
    else:
        raise ValueError("Pass --image: a JSON or PNG recipe does not hold the source image.")
    if mask is None:
        raise ValueError("Pass --mask with the selection the recipe was made from.")
    selection, _ = load_image(mask, 1)
    for name, array, expected in (("image", source, recipe.image_sha256), ("mask", selection, recipe.mask_sha256)):
        if expected is not None and pixels_sha256(array) != expected:
            raise ValueError(f"The {name} differs from the one this recipe was made from (its hash does not match).")
    return recipe, source, selection


def _psd_background(path: Path) -> np.ndarray:
    psd = PSDImage.open(path)
    for layer in psd:
        pixels = layer.topil() if layer.name == "Background" and not layer.is_group() else None
        if pixels is not None:
            return np.asarray(pixels.convert("RGBA"))
    raise ValueError(f"{path} has no Background layer to replay on; pass --image.")
