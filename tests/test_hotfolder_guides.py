"""Controls and references in hot-folder recipes: their images are files inside the hot folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import textured_rgba
from hotfolder_support import AdmittingClassicEngine, drop, error_of, live_agent, names, small_job, until
from underpaint.engines.base import Engine
from underpaint.results.recipe import pixels_sha256

CANNY = {"kind": "canny", "strength": 0.8}


async def fail_code(tmp_path: Path, recipe: dict[str, Any], engines: dict[str, Engine] | None = None) -> str:
    """The code a job `bad` with `recipe` fails with, once a good job dropped after it is done."""
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    async with live_agent(tmp_path, engines) as agent:
        del agent
        small_job(stage, "bad", recipe=recipe)
        small_job(stage, "good", seed=1)
        drop(stage, hot / "in")
        await until(lambda: "bad.error.json" in names(hot / "failed") and len(names(hot / "done")) == 2, 30,
                    "the bad job to fail and the good one to finish")
    return str(error_of(hot / "failed", "bad")["code"])


async def test_the_classic_engine_refuses_a_recipe_with_a_control_with_unsupported_feature(tmp_path: Path) -> None:
    recipe = {"params": {"controls": [CANNY | {"image": "source"}]}}
    assert await fail_code(tmp_path, recipe) == "unsupported_feature"


async def test_a_control_image_outside_the_hot_folder_is_refused(tmp_path: Path) -> None:
    Image.fromarray(textured_rgba(32, 32)).save(tmp_path / "outside.png")
    recipe = {"params": {"controls": [CANNY]}, "control_images": ["../../outside.png"]}
    assert await fail_code(tmp_path, recipe, {"classic": AdmittingClassicEngine()}) == "path_outside_folder"


async def test_a_recipe_with_fewer_control_images_than_controls_is_refused_with_control_needs_image(
        tmp_path: Path) -> None:
    recipe = {"params": {"controls": [CANNY | {"image": "source"}, CANNY]}, "control_images": [None]}
    assert await fail_code(tmp_path, recipe, {"classic": AdmittingClassicEngine()}) == "control_needs_image"


@pytest.mark.parametrize(("controls", "code"), [
    ([CANNY | {"image": "source", "strength": 3}], "weight_out_of_range"),
    ([{"kind": "banana", "image": "source"}], "unknown_control_kind"),
    ([CANNY | {"image": "source", "start": 0.6, "end": 0.2}], "bad_step_range"),
    ([CANNY | {"image": "source"}] * 5, "too_many_controls"),
])
async def test_a_recipe_with_bad_controls_is_refused_with_the_code_of_what_is_wrong(
        tmp_path: Path, controls: list[dict[str, Any]], code: str) -> None:
    assert await fail_code(tmp_path, {"params": {"controls": controls}}) == code


async def test_a_folder_job_sends_the_control_and_reference_images_its_recipe_names(tmp_path: Path) -> None:
    hot, shoot = tmp_path / "hot", tmp_path / "stage" / "shoot"
    edges, look = textured_rgba(32, 32, seed=5), textured_rgba(20, 24, seed=6)
    recipe = {"params": {"controls": [CANNY, CANNY | {"kind": "tile", "image": "source"}],
                         "references": [{"weight": 0.5, "focus": "style"}]},
              "control_images": ["edges.png", None], "reference_images": ["../../looks/look.png"]}
    small_job(shoot, "photo", recipe=recipe)
    Image.fromarray(edges).save(shoot / "edges.png")  # named by the recipe: a guide, not a second image
    (hot / "looks").mkdir(parents=True)
    Image.fromarray(look).save(hot / "looks" / "look.png")
    async with live_agent(tmp_path, {"classic": AdmittingClassicEngine()}) as agent:
        del agent
        shoot.rename(hot / "in" / "shoot")
        await until(lambda: names(hot / "done") == ["shoot"], 30, "the folder job")
    params = json.loads((hot / "out" / "shoot" / "recipe.json").read_text())["params"]
    assert [c["image_sha256"] for c in params["controls"]] == [pixels_sha256(edges), None]
    assert [(r["image_sha256"], r["weight"], r["focus"]) for r in params["references"]] == [
        (pixels_sha256(look), 0.5, "style")]
    assert names(hot / "done" / "shoot") == ["edges.png", "photo.json", "photo.mask.png", "photo.png"]
    assert np.array_equal(np.asarray(Image.open(hot / "looks" / "look.png")), look)
