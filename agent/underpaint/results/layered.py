"""LayeredResult: what Photoshop's Layers panel would show for one job."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from underpaint.core import Mode, Rect
from underpaint.results.guides import Guides
from underpaint.results.recipe import Recipe


@dataclass(frozen=True, eq=False)
class VariantLayer:
    """One variant: RGBA8 pixels and a Gray8 layer mask, both `bounds`-sized.

    `bounds` is in document coordinates.
    """

    index: int
    seed: int
    name: str
    bounds: Rect
    pixels: np.ndarray
    mask: np.ndarray
    visible: bool


@dataclass(frozen=True, eq=False)
class LayeredResult:
    """A group named after the brief, one layer per variant, over the source.

    `source` is the RGBA8 image under the variants (covering `recipe.region`:
    for Expand the grown canvas, the new strips transparent); None for Generate
    jobs, which have no source pixels. `selection` is the Gray8 selection the
    job filled at the same size, before grow and feather (for Expand the new
    strips plus any mask sent); None for Generate. `guides` are the control
    and reference images the job was sent. All travel in the result files so a
    replay needs no other file.
    """

    group_name: str
    source: np.ndarray | None
    layers: list[VariantLayer]
    recipe: Recipe
    selection: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    guides: Guides = field(default_factory=Guides)

    @property
    def region(self) -> Rect:
        return self.recipe.region


def layer_name(brief: str, index: int, seed: int) -> str:
    """Layer names carry the seed so a designer can tell variants apart and replay one."""
    return f"{brief} #{index + 1} (seed {seed})"


def group_name(prompt: str, mode: str) -> str:
    """The brief, or for an edit the instruction as a change ("Edit: make the jacket red"), so a group never
    reads as a description of what is there; the mode's name when there is no prompt."""
    brief = " ".join(prompt.split())
    if not brief:
        return mode.capitalize()
    if mode == Mode.EDIT:
        brief = f"Edit: {brief}"
    return brief if len(brief) <= 60 else brief[:57] + "..."
