"""guidance_skip: the last fraction of steps without classifier-free guidance, off by default, in the recipe.

The tiny pipelines at 64x64, 2 steps, guidance 7: with guidance every step gives the UNet a batch of two
rows (unconditional and conditional); each skipped step gives it one. Rows are counted with a forward
pre-hook on the UNet. Jobs that need the intake go through it and the one job path, as every front door's do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from conftest import soft_ellipse, textured_rgba
from tiny_controlnets import make_controlnet, save_controlnet
from tiny_pipelines import _checkpoint_pipeline
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.conditioning import ControlKind
from underpaint.engines.base import CancelToken, Engine, EngineError, WorkItem
from underpaint.engines.diffusers.calls import unguided_steps
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadedModel, LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.jobs.intake import Intake, JobRequest
from underpaint.jobs.pipeline import run_pipeline

SIZE = 64
SOURCE = textured_rgba(SIZE, SIZE, seed=5)[..., :3].copy()
HOLE = soft_ellipse(SIZE, SIZE, (16, 16, 32, 32))


def work(mode: Mode, model: str, skip: float = 0.0, control_maps: tuple[np.ndarray, ...] = (),
         **params: Any) -> WorkItem:
    checked = Params.model_validate({"model": model, "prompt": "a red cat", "negative_prompt": "the sky",
                                     "steps": 2, "guidance": 7.0, "guidance_skip": skip} | params)
    image = None if mode is Mode.GENERATE else SOURCE
    return WorkItem(mode, SIZE, SIZE, checked, [21], image=image, mask=HOLE if mode is Mode.FILL else None,
                    control_images=control_maps)


def first(engine: Engine, item: WorkItem) -> np.ndarray:
    return next(iter(engine.run(item, lambda *_: None, CancelToken())))


def warm(engine: Engine, name: str) -> LoadedModel:
    assert isinstance(engine, DiffusersEngine)
    return engine.cache.get(engine.entry(name))


@contextmanager
def unet_rows(unet: Any) -> Iterator[list[int]]:
    """The batch rows the UNet is given, summed over its calls."""
    rows = [0]

    def count(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        sample = args[0] if args else kwargs["sample"]
        rows[0] += int(sample.shape[0])

    handle = unet.register_forward_pre_hook(count, with_kwargs=True)
    try:
        yield rows
    finally:
        handle.remove()


@pytest.mark.parametrize(("mode", "model"), [
    (Mode.GENERATE, "sd15"), (Mode.REFINE, "sd15"), (Mode.FILL, "sd15"), (Mode.FILL, "sd15-inpaint"),
    (Mode.GENERATE, "sdxl"), (Mode.FILL, "sdxl")])
def test_skipping_the_last_half_runs_the_second_step_on_one_unet_row_instead_of_two(
        engine: Engine, mode: Mode, model: str) -> None:
    with unet_rows(warm(engine, model).base.unet) as rows:
        image = first(engine, work(mode, model, skip=0.5))
    assert rows[0] == 2 + 1
    assert image.shape == (SIZE, SIZE, 3)


def test_without_guidance_skip_every_step_runs_both_rows(engine: Engine) -> None:
    with unet_rows(warm(engine, "sd15").base.unet) as rows:
        first(engine, work(Mode.GENERATE, "sd15"))
    assert rows[0] == 2 + 2


def test_the_default_is_bit_identical_to_a_plain_diffusers_call(engine: Engine) -> None:
    ours = first(engine, work(Mode.GENERATE, "sd15"))
    pipe = warm(engine, "sd15").pipeline("txt2img")  # with the scheduler the job just set
    plain = pipe(prompt="a red cat", negative_prompt="the sky", num_inference_steps=2, guidance_scale=7.0,
                 width=SIZE, height=SIZE, generator=torch.Generator("cpu").manual_seed(21), output_type="np")
    assert np.array_equal(ours, (np.asarray(plain.images[0]) * 255).round().clip(0, 255).astype(np.uint8))


def test_a_skipped_step_changes_the_image(engine: Engine) -> None:
    assert not np.array_equal(first(engine, work(Mode.FILL, "sd15-inpaint", skip=0.5)),
                              first(engine, work(Mode.FILL, "sd15-inpaint")))


def test_a_fraction_skips_that_share_of_the_steps_rounded_down_and_never_the_first() -> None:
    assert [unguided_steps(0.3, 4), unguided_steps(0.3, 10), unguided_steps(0.5, 2), unguided_steps(0.9, 1)] == [
        1, 3, 1, 0]


def request(mode: Mode, **params: Any) -> JobRequest:
    checked = Params.model_validate({"prompt": "a red cat", "steps": 2, "seed": 4} | params)
    size = Size(width=SIZE, height=SIZE)
    return JobRequest("j", mode, checked, size, Rect(x=0, y=0, width=SIZE, height=SIZE), size,
                      size if mode is Mode.FILL else None,
                      tuple(None for _ in checked.controls), tuple(size for _ in checked.references))


def test_the_recipe_carries_guidance_skip(engine: Engine) -> None:
    intake = Intake({"diffusers": engine}, "diffusers", 10**8, 16)
    spec = intake.spec(request(Mode.FILL, guidance_skip=0.3), textured_rgba(SIZE, SIZE, seed=5), HOLE, "api",
                       "python")
    result = run_pipeline(spec, engine, lambda *args, **kwargs: None, CancelToken())
    assert result.recipe.params.guidance_skip == 0.3


def refusal(engine: Engine, job: JobRequest) -> RequestError:
    with pytest.raises(RequestError) as caught:
        Intake({"diffusers": engine}, "diffusers", 10**8, 16).check(job)
    return caught.value


def test_guidance_skip_with_a_reference_is_refused_at_submit_saying_why(engine: Engine) -> None:
    error = refusal(engine, request(Mode.FILL, guidance_skip=0.3, references=[{"weight": 0.5}]))
    assert error.code is ErrorCode.UNSUPPORTED_FEATURE
    assert "IP-Adapter" in error.message


def test_guidance_skip_with_a_control_on_an_inpainting_model_is_refused_at_submit(engine: Engine) -> None:
    error = refusal(engine, request(Mode.FILL, model="sd15-inpaint", guidance_skip=0.3,
                                    controls=[{"kind": "canny", "image": "source"}]))
    assert error.code is ErrorCode.UNSUPPORTED_FEATURE
    assert "inpainting model" in error.message


@pytest.fixture(scope="module")
def control_engine(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DiffusersEngine:
    """The tiny SD 1.5 model with one canny ControlNet, in an engine of this module's own."""
    root = tmp_path_factory.mktemp("skip-controls")
    net = save_controlnet(make_controlnet(_checkpoint_pipeline(registry_path.parent / "sd15").unet, seed=1), root,
                          "canny")["folder"]
    registry = ModelRegistry(root / "models.json")
    registry.put(ModelRegistry(registry_path).get("sd15"))
    registry.put(make_entry("canny", net, control_kind=ControlKind.CANNY))
    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu")), max_models=1)


def controlled(mode: Mode, skip: float) -> WorkItem:
    edges = np.zeros((SIZE, SIZE, 3), np.uint8)
    edges[16:48, 20] = 255
    return work(mode, "sd15", skip, (edges,), controls=[{"kind": "canny", "image": "sent", "model": "canny"}])


def test_a_controlnet_generate_runs_its_skipped_step_on_one_unet_row(control_engine: DiffusersEngine) -> None:
    model = warm(control_engine, "sd15")
    item = controlled(Mode.GENERATE, 0.5)
    with unet_rows(model.base.unet) as rows:
        first(control_engine, item)
    assert rows[0] == 2 + 1


def test_a_controlnet_fill_with_guidance_skip_fails_with_unsupported_feature(control_engine: DiffusersEngine) -> None:
    with pytest.raises(EngineError) as caught:
        first(control_engine, controlled(Mode.FILL, 0.5))
    assert caught.value.code is ErrorCode.UNSUPPORTED_FEATURE
