"""Diffusion upscale: enlarge, then re-detail in overlapping img2img tiles through the engine's own run(), each
tile on its variant's seed, blended so no tile grid shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import make_settings, textured_rgba
from underpaint.api import Underpaint
from underpaint.core import Mode, Size
from underpaint.engines.base import CancelToken, Engine, ProgressSink, WorkItem
from underpaint.imaging.tiles import Grid, seam_ratio
from underpaint.results.layered import LayeredResult

_Y, _X = np.mgrid[0:40, 0:40]
SOURCE = np.dstack([40 + 3 * _X, 60 + 3 * _Y, 120 + 2 * (_X + _Y) // 2, np.full_like(_X, 255)]).astype(np.uint8)
"""Gentle ramps, so a seam between tiles would stand out against the image's own gradients."""
GRID = Grid.over(Size(width=80, height=80), 64, 16, 8, edge=0.0)
"""The tiles an 80x80 upscale refines in on the tiny models (native 64, multiples of 8)."""


class Recording:
    """An engine that hands every work item to `engine` and keeps the items and the images it returns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.items: list[WorkItem] = []
        self.outputs: list[np.ndarray] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        self.items.append(work)
        for output in self.engine.run(work, progress, cancel):
            self.outputs.append(output)
            yield output


@pytest.fixture(scope="module")
def refined(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[LayeredResult, Recording]:
    recording = Recording(engine)
    up = Underpaint(make_settings(tmp_path_factory.mktemp("refine")), {"diffusers": recording})  # type: ignore[dict-item]
    result = up.upscale(SOURCE, factor=2, refine=0.3, model="sd15", steps=4, variants=2, seed=5, prompt="detail")
    return result, recording


def test_every_tile_is_an_img2img_at_the_refine_strength_on_its_variants_seed(
        refined: tuple[LayeredResult, Recording]) -> None:
    result, recording = refined
    tiles = len(GRID.tiles())
    assert tiles == 4
    assert [item.seeds for item in recording.items] == [[5]] * tiles + [[6]] * tiles
    assert {(item.mode, item.params.strength, item.width, item.height) for item in recording.items} == {
        (Mode.REFINE, 0.3, 48, 48)}
    assert [layer.seed for layer in result.layers] == [5, 6] and result.recipe.seeds == [5, 6]
    assert result.recipe.model is not None and result.recipe.model.name == "sd15"


def test_the_refined_tiles_blend_with_no_grid_where_pasting_them_would_show_one(
        refined: tuple[LayeredResult, Recording]) -> None:
    result, recording = refined
    layer = result.layers[0].pixels
    pasted = np.zeros((80, 80, 3), np.uint8)
    for rect, output in zip(GRID.tiles(), recording.outputs[:4], strict=True):
        pasted[rect.y : rect.bottom, rect.x : rect.right] = output
    # Measured against lines of the same phase on the tiny VAE's 8-pixel grid, which its random decoder shows.
    blended_ratio, pasted_ratio = seam_ratio(layer, GRID, period=8), seam_ratio(pasted, GRID, period=8)
    assert blended_ratio < 1.1, (blended_ratio, pasted_ratio)
    assert pasted_ratio > blended_ratio + 0.05, (blended_ratio, pasted_ratio)


def test_refining_changes_the_enlarged_image_and_keeps_its_size(refined: tuple[LayeredResult, Recording]) -> None:
    result, _ = refined
    first, second = (layer.pixels for layer in result.layers)
    assert first.shape == second.shape == (80, 80, 4)
    assert not np.array_equal(first, second)


def test_a_size_off_the_engines_multiple_is_padded_for_refining_and_cropped_back(engine: Engine,
                                                                                 tmp_path: Path) -> None:
    up = Underpaint(make_settings(tmp_path), {"diffusers": engine})
    result = up.upscale(textured_rgba(20, 28), factor=1.5, refine=0.2, model="sd15", steps=2)
    assert result.layers[0].pixels.shape == (30, 42, 4)


def test_a_registered_tile_controlnet_steers_every_tile_from_the_tile_itself(
        registry_path: Path, tmp_path: Path) -> None:
    from tiny_controlnets import make_controlnet, save_controlnet
    from tiny_pipelines import _checkpoint_pipeline
    from underpaint.core.conditioning import ControlKind
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions
    from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

    sd15 = ModelRegistry(registry_path).get("sd15")
    registry = ModelRegistry(tmp_path / "models.json")
    registry.put(sd15)
    tile = save_controlnet(make_controlnet(_checkpoint_pipeline(sd15.location).unet, seed=2), tmp_path, "tile")
    registry.put(make_entry("tile", tile["folder"], control_kind=ControlKind.TILE))
    recording = Recording(DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu"))))
    up = Underpaint(make_settings(tmp_path), {"diffusers": recording})  # type: ignore[dict-item]
    result = up.upscale(SOURCE[:24, :24], factor=2, refine=0.3, model="sd15", steps=2)
    control, = result.recipe.params.controls
    assert (control.kind, control.model, control.sha256) == ("tile", "tile", registry.get("tile").sha256)
    assert all(len(item.control_images) == 1 and np.array_equal(item.control_images[0], item.image)
               for item in recording.items)
