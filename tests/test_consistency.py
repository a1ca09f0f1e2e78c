"""Consistency across a set, end to end: references, styles and sets through the one job path.

The tiny SD 1.5 model with a tiny IP-Adapter (tests/tiny_ip_adapter.py), called through the Python
API, which runs the same intake and pipeline as the agent's other front doors.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_settings, soft_ellipse, textured_rgba
from tiny_ip_adapter import build_tiny_ip_adapters
from underpaint.api import Reference, Underpaint
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd
from underpaint.styles import StyleBook
from underpaint.styles.book import make_style

H, W = 48, 64
IMAGES = [textured_rgba(H, W, seed=seed) for seed in (4, 5, 6)]
MASK = soft_ellipse(H, W, (16, 10, 30, 26))
LOOK = textured_rgba(40, 30, seed=9)
JOB = {"model": "sd15", "prompt": "a red cat", "steps": 2, "seed": 5}


@pytest.fixture(scope="module")
def engine(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DiffusersEngine:
    """The tiny SD 1.5 model and its IP-Adapter in a registry of their own."""
    adapters = build_tiny_ip_adapters(registry_path.parent, tmp_path_factory.mktemp("ip-adapters"))
    registry = ModelRegistry(tmp_path_factory.mktemp("consistency") / "models.json")
    registry.put(ModelRegistry(registry_path).get("sd15"))
    registry.put(make_entry("ip-sd15", adapters["ip-sd15"]))
    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu", "fp32")))


@pytest.fixture
def underpaint(engine: DiffusersEngine, tmp_path: Path) -> Underpaint:
    return Underpaint(make_settings(tmp_path, engine="diffusers"), {"diffusers": engine})


def pixels(result: LayeredResult) -> np.ndarray:
    return result.layers[0].pixels


def test_a_reference_guided_fill_replays_bit_identically_from_the_psd_alone(underpaint: Underpaint,
                                                                            tmp_path: Path) -> None:
    first = underpaint.fill(IMAGES[0], MASK, references=[Reference(LOOK, weight=0.8)], **JOB)
    write_psd(first, tmp_path / "guided.psd")
    again = underpaint.replay(tmp_path / "guided.psd")
    assert again.recipe.params == first.recipe.params
    assert np.array_equal(pixels(again), pixels(first))


def test_a_reference_guided_set_of_three_is_three_jobs_with_one_set_id_and_one_recipe(
        underpaint: Underpaint) -> None:
    results = underpaint.run_set("fill", IMAGES, MASK, references=[Reference(LOOK, weight=0.8)], **JOB)
    recipes = [result.recipe for result in results]
    assert len(recipes) == 3 and recipes[0].set_id is not None
    assert {recipe.set_id for recipe in recipes} == {recipes[0].set_id}
    assert all(recipe.params == recipes[0].params for recipe in recipes)
    assert len({recipe.image_sha256 for recipe in recipes}) == 3


def test_a_styles_reference_steers_as_the_same_reference_given_by_the_job(underpaint: Underpaint,
                                                                           tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.fromarray(LOOK).save(png, format="PNG")
    StyleBook(make_settings(tmp_path).styles_dir).add(make_style({
        "name": "brand", "prompt": "{prompt}", "model": "sd15",
        "references": [{"weight": 0.8, "png": base64.b64encode(png.getvalue()).decode()}]}))
    styled = underpaint.fill(IMAGES[0], MASK, style="brand", prompt="a red cat", steps=2, seed=5)
    given = underpaint.fill(IMAGES[0], MASK, references=[Reference(LOOK, weight=0.8)], **JOB)
    assert styled.recipe.style == "brand" and styled.recipe.params.style is None
    assert np.array_equal(pixels(styled), pixels(given))
