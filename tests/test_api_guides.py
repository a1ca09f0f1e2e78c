"""The Python API's controls, references, styles and sets: the one job path called in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import make_settings, soft_ellipse, textured_rgba
from hotfolder_support import AdmittingClassicEngine
from underpaint.api import Control, ParamError, Reference, Underpaint
from underpaint.core import ErrorCode, Mode, RequestError
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.results.recipe import pixels_sha256
from underpaint.styles import StyleBook
from underpaint.styles.book import make_style

H, W = 32, 40
IMAGES = [textured_rgba(H, W, seed) for seed in range(3)]
MASK = soft_ellipse(H, W, (14, 10, 12, 10))


@pytest.fixture
def classic(tmp_path: Path) -> Underpaint:
    return Underpaint(make_settings(tmp_path), {"classic": ClassicEngine()})


@pytest.fixture
def admitting(tmp_path: Path) -> Underpaint:
    """The classic engine admitting guides, so the calls get past its refusal to the checks after it."""
    return Underpaint(make_settings(tmp_path), {"classic": AdmittingClassicEngine()})


def test_a_control_on_the_classic_engine_raises_unsupported_feature(classic: Underpaint) -> None:
    with pytest.raises(RequestError) as caught:
        classic.fill(IMAGES[0], MASK, controls=[Control("canny", strength=0.8)])
    assert caught.value.code == ErrorCode.UNSUPPORTED_FEATURE


def test_sent_control_and_reference_images_are_pinned_in_the_recipe(admitting: Underpaint) -> None:
    edges, look = textured_rgba(H, W, seed=8), textured_rgba(16, 12, seed=9)
    result = admitting.fill(IMAGES[0], MASK, controls=[Control("canny", edges, strength=0.5), Control("tile")],
                            references=[Reference(look, weight=0.3, focus="style")])
    controls, [reference] = result.recipe.params.controls, result.recipe.params.references
    assert [(c.kind, c.image, c.strength, c.image_sha256) for c in controls] == [
        ("canny", "sent", 0.5, pixels_sha256(edges)), ("tile", "source", 1.0, None)]
    assert (reference.weight, reference.focus, reference.image_sha256) == (0.3, "style", pixels_sha256(look))


def test_a_control_image_that_does_not_cover_the_image_raises_control_size_mismatch(admitting: Underpaint) -> None:
    with pytest.raises(RequestError) as caught:
        admitting.fill(IMAGES[0], MASK, controls=[Control("scribble", textured_rgba(H, W + 1))])
    assert caught.value.code == ErrorCode.CONTROL_SIZE_MISMATCH


@pytest.mark.parametrize(("make", "code"), [
    (lambda: Control("canny", strength=3), ErrorCode.WEIGHT_OUT_OF_RANGE),
    (lambda: Control("canny", start=0.7, end=0.3), ErrorCode.BAD_STEP_RANGE),
    (lambda: Control("banana"), ErrorCode.UNKNOWN_CONTROL_KIND),
    (lambda: Control("scribble"), ErrorCode.CONTROL_NEEDS_IMAGE),
    (lambda: Reference(IMAGES[0], weight=-1), ErrorCode.WEIGHT_OUT_OF_RANGE),
])
def test_a_bad_control_or_reference_raises_a_value_error_with_its_code(make: Callable[[], object],
                                                                      code: ErrorCode) -> None:
    with pytest.raises(ParamError) as caught:
        make()
    assert caught.value.code == code and isinstance(caught.value, ValueError)


def test_too_many_controls_raise_too_many_controls(admitting: Underpaint) -> None:
    with pytest.raises(ParamError) as caught:
        admitting.fill(IMAGES[0], MASK, controls=[Control("canny")] * 5)
    assert caught.value.code == ErrorCode.TOO_MANY_CONTROLS


def test_a_set_runs_each_image_with_the_same_recipe_under_one_set_id(classic: Underpaint) -> None:
    results = classic.run_set(Mode.FILL, IMAGES, MASK, seed=12, variants=2)
    recipes = [result.recipe for result in results]
    assert len({recipe.set_id for recipe in recipes}) == 1 and str(recipes[0].set_id).startswith("set-")
    assert all(recipe.params == recipes[0].params and recipe.seeds == [12, 13] for recipe in recipes)
    assert [recipe.image_sha256 for recipe in recipes] == [pixels_sha256(image) for image in IMAGES]


def test_a_set_with_one_bad_target_runs_none_of_its_jobs(classic: Underpaint) -> None:
    progress: list[int] = []
    masks = [MASK, MASK, MASK[:, :-1]]
    with pytest.raises(RequestError) as caught:
        classic.run_set(Mode.FILL, IMAGES, masks, progress=lambda variant, step, steps, preview=None: progress.append(
            step))
    assert caught.value.code == ErrorCode.SIZE_MISMATCH and progress == []


def test_a_job_joins_the_set_it_names(classic: Underpaint) -> None:
    result = classic.fill(IMAGES[0], MASK, set_id="spring-2027")
    assert result.recipe.set_id == "spring-2027"


def test_a_set_id_outside_the_protocols_pattern_raises_bad_set(classic: Underpaint) -> None:
    with pytest.raises(ParamError) as caught:
        classic.fill(IMAGES[0], MASK, set_id="../spring")
    assert caught.value.code == ErrorCode.BAD_SET


def test_a_style_fills_only_the_fields_a_call_leaves_unset(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    StyleBook(settings.styles_dir).add(make_style({"name": "brand", "prompt": "{prompt}, in ink", "steps": 7,
                                                   "guidance": 3.5}))
    result = Underpaint(settings, {"classic": ClassicEngine()}).fill(IMAGES[0], MASK, style="brand", prompt="a kite",
                                                                     guidance=9)
    params = result.recipe.params
    assert (result.recipe.style, params.prompt, params.steps, params.guidance) == ("brand", "a kite, in ink", 7, 9.0)


def test_a_brief_at_several_sizes_is_a_set_of_new_images_on_a_diffusion_model(tmp_path: Path, engine: Engine) -> None:
    underpaint = Underpaint(make_settings(tmp_path), {"diffusers": engine})
    results = underpaint.run_set(Mode.GENERATE, sizes=[(64, 64), (64, 48)], prompt="a lighthouse", steps=2, seed=4)
    assert [result.layers[0].pixels.shape[:2] for result in results] == [(64, 64), (48, 64)]
    assert len({result.recipe.set_id for result in results}) == 1
    assert results[0].recipe.params == results[1].recipe.params
