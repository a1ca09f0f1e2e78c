"""The upscale mode on the one job path: a region made larger, a layer in the upscaled document, its recipe, and
each bad input refused with its own code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from psd_tools import PSDImage

from conftest import make_settings, textured_rgba
from test_memory_bounds import reset_peak, status_kib
from tiny_upscalers import compact, save_pth, save_safetensors
from underpaint.api import ParamError, Underpaint
from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.upscale import UpscaleParams
from underpaint.engines.base import CancelToken
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.checkpoint import content_sha256
from underpaint.engines.diffusers.registry import ModelEntry, ModelRegistry, make_entry
from underpaint.imaging.resample import blocks, enlarge
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.runtime import upscalers_for
from underpaint.results.psd import write_psd

IMAGE = textured_rgba(30, 40, seed=4)


def agent(tmp_path: Path, **settings: object) -> Underpaint:
    return Underpaint(make_settings(tmp_path, **settings), {"classic": ClassicEngine()})


def registered(tmp_path: Path, name: str, path: Path) -> Underpaint:
    """An in-process agent whose registry holds the upscaler at `path` as `name`."""
    up = agent(tmp_path)
    ModelRegistry(make_settings(tmp_path).models_path).put(make_entry(name, path, upscaler=True))
    return up


def refused(call: object) -> ErrorCode:
    with pytest.raises((RequestError, ParamError)) as caught:
        assert callable(call)
        call()
    return caught.value.code


def test_the_weightless_default_enlarges_with_lanczos_into_one_layer_over_the_whole_upscaled_document(
        tmp_path: Path) -> None:
    result = agent(tmp_path).upscale(IMAGE, factor=2)
    layer, = result.layers
    assert (result.recipe.document, result.region) == (Size(width=80, height=60), Rect(x=0, y=0, width=80, height=60))
    assert layer.bounds == result.region and bool((layer.mask == 255).all())
    assert np.array_equal(layer.pixels, enlarge(IMAGE, Size(width=80, height=60)))
    assert result.recipe.mode is Mode.UPSCALE and result.recipe.params.upscale == UpscaleParams(factor=2)


def test_the_background_is_the_source_in_blocks_that_give_it_back_exactly(tmp_path: Path) -> None:
    result = agent(tmp_path).upscale(IMAGE, factor=1.5)
    assert result.source is not None and result.source.shape == (45, 60, 4)
    rows = (np.arange(30) * 1.5 + 0.75).astype(int)
    columns = (np.arange(40) * 1.5 + 0.75).astype(int)
    assert np.array_equal(result.source[rows][:, columns], IMAGE)
    assert np.array_equal(blocks(IMAGE, Size(width=40, height=30)), IMAGE)


def test_a_target_size_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    result = agent(tmp_path).upscale(IMAGE, size=(100, 75))
    assert result.layers[0].pixels.shape == (75, 100, 4)


def test_a_target_size_that_would_stretch_is_invalid(tmp_path: Path) -> None:
    assert refused(lambda: agent(tmp_path).upscale(IMAGE, size=(100, 40))) is ErrorCode.INVALID_MESSAGE


def test_both_a_factor_and_a_size_is_invalid(tmp_path: Path) -> None:
    assert refused(lambda: agent(tmp_path).upscale(IMAGE, factor=2, size=(80, 60))) is ErrorCode.INVALID_MESSAGE


def test_an_upscale_beyond_the_agents_pixel_limit_is_too_large(tmp_path: Path) -> None:
    small = agent(tmp_path, max_pixels=40 * 30 * 3)
    assert refused(lambda: small.upscale(IMAGE, factor=2)) is ErrorCode.UPSCALE_TOO_LARGE


def test_an_unknown_upscaler_is_named_as_such(tmp_path: Path) -> None:
    assert refused(lambda: agent(tmp_path).upscale(IMAGE, factor=2, upscaler="nope")) is ErrorCode.UNKNOWN_UPSCALER


def test_refine_on_an_engine_without_img2img_is_refused_with_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(RequestError) as caught:
        agent(tmp_path).upscale(IMAGE, factor=2, refine=0.3)
    assert caught.value.code is ErrorCode.UNSUPPORTED_FEATURE and "refine" in caught.value.message


def test_a_registered_upscaler_runs_and_the_recipe_pins_its_hash(tmp_path: Path) -> None:
    up = registered(tmp_path, "x2", save_safetensors(compact(scale=2), tmp_path / "x2.safetensors"))
    result = up.upscale(IMAGE, factor=2, upscaler="x2")
    expected = upscalers_for(make_settings(tmp_path)).load("x2").enlarge(IMAGE[..., :3], lambda *_: None,
                                                                         CancelToken())
    assert np.array_equal(result.layers[0].pixels[..., :3], expected)
    assert result.recipe.params.upscale is not None
    assert result.recipe.params.upscale.upscaler_sha256 == ModelRegistry(up.intake.upscalers.registry.path).get(
        "x2").sha256  # type: ignore[union-attr]


def test_a_factor_beyond_the_models_scale_runs_it_again_and_lands_on_the_size(tmp_path: Path) -> None:
    up = registered(tmp_path, "x2", save_pth(compact(scale=2), tmp_path / "x2.pth"))
    steps: list[tuple[int, int]] = []
    result = up.upscale(IMAGE, factor=3, upscaler="x2", progress=lambda v, step, steps_, p=None: steps.append(
        (step, steps_)))
    assert result.layers[0].pixels.shape == (90, 120, 4)
    assert steps[-1][0] == steps[-1][1] > 1  # both passes' tiles, counted as one run


def test_a_pinned_hash_the_registered_file_no_longer_has_is_upscaler_changed(tmp_path: Path) -> None:
    up = registered(tmp_path, "x2", save_pth(compact(scale=2), tmp_path / "x2.pth"))
    pinned = {"factor": 2, "upscaler": "x2", "upscaler_sha256": "0" * 64}
    assert refused(lambda: up.run(Mode.UPSCALE, IMAGE, upscale=pinned)) is ErrorCode.UPSCALER_CHANGED


def test_an_upscaler_file_changed_since_it_was_registered_is_upscaler_changed(tmp_path: Path) -> None:
    path = save_pth(compact(scale=2), tmp_path / "x2.pth")
    up = registered(tmp_path, "x2", path)
    save_pth(compact(scale=2, seed=9), path)
    assert refused(lambda: up.upscale(IMAGE, factor=2, upscaler="x2")) is ErrorCode.UPSCALER_CHANGED


def test_a_registered_file_spandrel_cannot_read_is_an_unsupported_model_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a model")
    up = agent(tmp_path)
    entry = make_entry("x2", save_pth(compact(scale=2), tmp_path / "x2.pth"), upscaler=True)
    # As a registry shared between machines can hold it: an entry whose file is readable, but not by spandrel.
    up.intake.upscalers.registry.put(ModelEntry.model_validate(  # type: ignore[union-attr]
        entry.model_dump() | {"path": str(broken), "sha256": content_sha256(broken), "fingerprint": ""}))
    assert refused(lambda: up.upscale(IMAGE, factor=2, upscaler="x2")) is ErrorCode.UNSUPPORTED_MODEL_FILE


def test_a_selections_region_is_upscaled_in_place_in_the_upscaled_document(tmp_path: Path) -> None:
    spec = JobSpec(job_id="u", mode=Mode.UPSCALE, params=Params(upscale=UpscaleParams(factor=2)),
                   document=Size(width=100, height=80), region=Rect(x=10, y=20, width=40, height=30), image=IMAGE)
    result = run_pipeline(spec, ClassicEngine(), lambda *_: None, CancelToken())
    assert result.recipe.document == Size(width=200, height=160)
    assert result.layers[0].bounds == result.region == Rect(x=20, y=40, width=80, height=60)
    write_psd(result, tmp_path / "up.psd")
    psd = PSDImage.open(tmp_path / "up.psd")
    assert psd.size == (80, 60) and list(psd)[1][0].size == (80, 60)


def test_variants_without_refine_are_one_result_said_plainly(tmp_path: Path) -> None:
    result = agent(tmp_path).upscale(IMAGE, factor=2, variants=3)
    assert len(result.layers) == 1 and result.recipe.seeds == [0]
    assert any("one result" in warning for warning in result.warnings)


def test_the_psd_holds_the_recipe_with_the_pinned_upscaler(tmp_path: Path) -> None:
    up = registered(tmp_path, "x2", save_pth(compact(scale=2), tmp_path / "x2.pth"))
    result = up.upscale(IMAGE, factor=2, upscaler="x2")
    write_psd(result, tmp_path / "up.psd")
    from underpaint.results.psd import read_psd_recipe

    recipe = read_psd_recipe(tmp_path / "up.psd")
    assert json.loads(recipe.to_json())["params"]["upscale"]["upscaler_sha256"] == result.recipe.params.upscale \
        .upscaler_sha256  # type: ignore[union-attr]



def test_a_6000x4000_upscale_holds_a_few_bytes_per_output_pixel_at_its_peak() -> None:
    image = np.empty((4000, 6000, 4), np.uint8)
    image[...] = np.arange(6000, dtype=np.uint8)[None, :, None] ^ np.arange(4000, dtype=np.uint8)[:, None, None]
    image[..., 3] = 255
    spec = JobSpec(job_id="big", mode=Mode.UPSCALE, params=Params(upscale=UpscaleParams(factor=1.1)),
                   document=Size(width=6000, height=4000), region=Rect(x=0, y=0, width=6000, height=4000), image=image)
    start = reset_peak()
    result = run_pipeline(spec, ClassicEngine(), lambda *_: None, CancelToken())
    peak = status_kib("VmHWM") * 1024 - start
    assert result.layers[0].pixels.shape == (4400, 6600, 4)
    # The layer, the Background and the mask stay (9 bytes a pixel); Lanczos and the unsharp mask pass through
    # a few 8-bit copies. One float32 copy of the output alone would be 16 bytes a pixel.
    assert peak < 20 * 6600 * 4400

