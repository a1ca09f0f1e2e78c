"""Replay from the result file alone: every mode, from a PSD, a variant PNG or a recipe.json with its inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.api import Underpaint
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.engines.base import CancelToken, Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.intake import JobRequest
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult
from underpaint.results.png import SELECTION_CHUNK, SOURCE_CHUNK, encode_png, read_png_replay, read_private_chunks
from underpaint.results.replay import load_replay
from underpaint.results.store import ResultStore, SavedResult

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=5), soft_ellipse(H, W, (18, 12, 26, 20))
MARGINS = (0, 8, 16, 0)
SOURCES = ("psd", "png", "recipe.json")


def make(underpaint: Underpaint, mode: Mode, **params: object) -> LayeredResult:
    if mode is Mode.EXPAND:
        return underpaint.expand(IMAGE, MARGINS, **params)
    if mode is Mode.GENERATE:
        return underpaint.generate((W, H), **params)
    if mode is Mode.REFINE:
        return underpaint.refine(IMAGE, **params)  # no mask: the whole image is refined
    if mode is Mode.UPSCALE:  # refined, so the engine's pixels are in it too
        return underpaint.upscale(IMAGE, factor=1.5, refine=0.5, **params)
    return underpaint.run(mode, IMAGE, MASK, **params)


def save(result: LayeredResult, tmp_path: Path) -> SavedResult:
    return ResultStore(tmp_path / "results", 30, 1000).save(result, "job-1")


def replay_from(underpaint: Underpaint, saved: SavedResult, source: str, result: LayeredResult) -> LayeredResult:
    """Replay from one of the result's files; a recipe.json gets the inputs as they were sent."""
    if source == "psd":
        return underpaint.replay(saved.psd)
    if source == "png":
        return underpaint.replay(saved.variants[-1])
    recipe = result.recipe
    image = IMAGE if recipe.image_sha256 else None
    mask = MASK if recipe.mask_sha256 else None
    return underpaint.replay(saved.recipe, image, mask)


def assert_same_pixels(first: LayeredResult, second: LayeredResult) -> None:
    assert [layer.seed for layer in second.layers] == [layer.seed for layer in first.layers]
    for a, b in zip(first.layers, second.layers, strict=True):
        assert a.bounds == b.bounds
        assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.mask, b.mask)
    assert (second.recipe.document, second.recipe.region) == (first.recipe.document, first.recipe.region)


@pytest.fixture
def classic(tmp_path: Path) -> Underpaint:
    return Underpaint(make_settings(tmp_path), {"classic": ClassicEngine()})


@pytest.fixture(scope="module")
def diffusers(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Underpaint:
    return Underpaint(make_settings(tmp_path_factory.mktemp("api")), {"diffusers": engine})


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", [Mode.FILL, Mode.REMOVE, Mode.EXPAND])
def test_a_classic_result_replays_bit_identically_from_its_own_file(
        classic: Underpaint, tmp_path: Path, mode: Mode, source: str) -> None:
    first = make(classic, mode, variants=2, seed=11)
    again = replay_from(classic, save(first, tmp_path), source, first)
    assert_same_pixels(first, again)


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory, family_engine: Engine) -> Underpaint:
    return Underpaint(make_settings(tmp_path_factory.mktemp("families")), {"diffusers": family_engine})


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", list(Mode))
def test_a_diffusers_result_replays_bit_identically_from_its_own_file(
        request: pytest.FixtureRequest, tmp_path: Path, mode: Mode, source: str) -> None:
    # An edit runs on an instruction-edit model (FLUX.1 Kontext); every other mode on SD 1.5.
    underpaint: Underpaint = request.getfixturevalue("families" if mode is Mode.EDIT else "diffusers")
    model = {"model": "flux-kontext"} if mode is Mode.EDIT else {}
    strength = {"strength": 0.7 if mode is Mode.REFINE else 1.0} if mode is not Mode.UPSCALE else {}
    first = make(underpaint, mode, variants=2, seed=11, steps=2, prompt="a red cat", **model, **strength)
    again = replay_from(underpaint, save(first, tmp_path), source, first)
    assert_same_pixels(first, again)


def test_an_expand_with_a_mask_replays_from_its_psd(classic: Underpaint, tmp_path: Path) -> None:
    first = classic.expand(IMAGE, MARGINS, MASK, seed=2)
    assert_same_pixels(first, classic.replay(save(first, tmp_path).psd))


def test_replay_honours_the_region_of_a_selection_inside_a_larger_document(
        classic: Underpaint, tmp_path: Path) -> None:
    # What a plugin sends: only the context rectangle of a 400x300 document.
    region = Rect(x=210, y=140, width=W, height=H)
    request = JobRequest("ws-1", Mode.FILL, Params(seed=9, variants=2), Size(width=400, height=300), region,
                         Size(width=W, height=H), Size(width=W, height=H))
    spec = classic.intake.spec(request, IMAGE, MASK, "websocket", "test")
    first = run_pipeline(spec, classic.engines["classic"], lambda *_: None, CancelToken())
    again = classic.replay(save(first, tmp_path).psd)
    assert again.recipe.region == region and again.layers[0].bounds == first.layers[0].bounds
    assert_same_pixels(first, again)


def test_the_psd_keeps_the_request_inputs_for_an_expand(classic: Underpaint, tmp_path: Path) -> None:
    first = classic.expand(IMAGE, MARGINS, seed=2)
    replay = load_replay(save(first, tmp_path).psd)
    assert replay.mode is Mode.EXPAND and replay.mask is None
    assert replay.document == Size(width=W, height=H) and replay.region == Rect(x=0, y=0, width=W, height=H)
    assert np.array_equal(replay.image, IMAGE)


def test_a_variant_png_carries_its_selection_and_source(classic: Underpaint, tmp_path: Path) -> None:
    first = classic.fill(IMAGE, MASK, seed=1)
    recipe, source, selection = read_png_replay(save(first, tmp_path).variants[0])
    assert recipe == first.recipe
    assert np.array_equal(source, IMAGE) and np.array_equal(selection, MASK)


def test_a_recipe_json_alone_says_which_inputs_to_pass(classic: Underpaint, tmp_path: Path) -> None:
    saved = save(classic.fill(IMAGE, MASK, seed=1), tmp_path)
    with pytest.raises(ValueError, match="--image"):
        classic.replay(saved.recipe)
    with pytest.raises(ValueError, match="--mask"):
        classic.replay(saved.recipe, IMAGE)


def test_a_different_source_gives_the_hash_error(classic: Underpaint, tmp_path: Path) -> None:
    saved = save(classic.fill(IMAGE, MASK, seed=1), tmp_path)
    other = IMAGE.copy()
    other[0, 0, 0] ^= 1
    with pytest.raises(ValueError, match="image differs"):
        classic.replay(saved.psd, image=other)


def test_a_tampered_png_gives_the_hash_error(classic: Underpaint, tmp_path: Path) -> None:
    first = classic.fill(IMAGE, MASK, seed=1)
    saved = save(first, tmp_path)
    recipe, _, _ = read_png_replay(saved.variants[0])
    pixels = np.array(Image.open(saved.variants[0]))
    pixels[0, 0, 1] ^= 1  # one pixel edited outside the selection, the chunks kept as they were
    chunks = read_private_chunks(saved.variants[0], {SELECTION_CHUNK, SOURCE_CHUNK})
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(encode_png(pixels, recipe, chunks))
    with pytest.raises(ValueError, match="image differs"):
        classic.replay(tampered)


def test_a_job_naming_an_unknown_model_is_refused_before_it_runs(classic: Underpaint) -> None:
    with pytest.raises(RequestError) as caught:
        classic.fill(IMAGE, MASK, model="sdxl-turbo")
    assert caught.value.code is ErrorCode.UNKNOWN_MODEL and not caught.value.retryable


def test_bad_parameters_raise_a_value_error_naming_the_field(classic: Underpaint) -> None:
    with pytest.raises(ValueError, match="steps"):
        classic.fill(IMAGE, MASK, steps=0)
