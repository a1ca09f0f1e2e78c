"""FLUX.1 controls (ControlNet): the same `controls` field as SD's, run through diffusers' FLUX ControlNet pipelines.

A tiny random-weight FluxControlNetModel (tests/tiny_flux_controlnets.py) made from the tiny [dev] transformer,
saved as a diffusers folder, registered as `underpaint models add --kind` does and loaded through diffusers' own
loader; jobs go through the intake and the one job path (jobs/pipeline.py), as every front door's do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

from conftest import soft_ellipse, textured_rgba
from tiny_controlnets import make_controlnet
from tiny_flux_controlnets import make_flux_controlnet, save_flux_controlnet
from underpaint.cli import main
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.conditioning import ControlKind
from underpaint.engines.base import CancelToken
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo
from underpaint.engines.diffusers.controlnet_files import detect_controlnet
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.jobs.intake import Intake, JobRequest
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=4), soft_ellipse(H, W, (16, 10, 30, 26))
JOB = {"prompt": "a red cat", "steps": 2, "seed": 5, "model": "flux-dev"}
CANNY = {"kind": "canny", "image": "source"}


@pytest.fixture(scope="session")
def flux_controlnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_flux_controlnet(tmp_path_factory.mktemp("flux-controlnets") / "flux-canny")


@pytest.fixture(scope="session")
def flux_registry(family_registry_path: Path, registry_path: Path, flux_controlnet: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    """The tiny FLUX.1, SD 3.5 and SD 1.5 models, the FLUX ControlNet and an SD 1.5 one, in one registry."""
    root = tmp_path_factory.mktemp("flux-control-registry")
    registry = ModelRegistry(root / "models.json")
    for name in ("flux-dev", "flux-schnell", "flux-fill", "flux-kontext", "sd3"):
        registry.put(ModelRegistry(family_registry_path).get(name))
    registry.put(ModelRegistry(registry_path).get("sd15"))
    registry.put(make_entry("flux-canny", flux_controlnet, control_kind=ControlKind.CANNY))
    unet = UNet2DConditionModel.from_pretrained(registry_path.parent / "sd15" / "unet")
    make_controlnet(unet, seed=1).save_pretrained(root / "sd-canny", safe_serialization=True)
    registry.put(make_entry("sd-canny", root / "sd-canny", control_kind=ControlKind.CANNY))
    return registry


@pytest.fixture(scope="session")
def flux_engine(flux_registry: ModelRegistry) -> DiffusersEngine:
    """This module's own engine, so the ControlNet it loads stays out of the session's warm models."""
    return DiffusersEngine(flux_registry, "flux-dev", LoadOptions(placement("cpu")), max_models=2)


def request(mode: Mode, controls: list[dict[str, Any]], sent: bool = False, **params: Any) -> JobRequest:
    """A job on IMAGE (MASK for fill; none for generate) with `controls`, each derived from the source unless
    `sent` (then each is sent, an edges drawing)."""
    checked = Params.model_validate(JOB | {"controls": controls} | params)
    size = Size(width=W, height=H)
    return JobRequest("j", mode, checked, size, Rect(x=0, y=0, width=W, height=H),
                      None if mode is Mode.GENERATE else size, size if mode is Mode.FILL else None,
                      tuple(size if sent else None for _ in controls))


def run(engine: DiffusersEngine, mode: Mode, controls: list[dict[str, Any]], sent: bool = False,
        **params: Any) -> LayeredResult:
    job = request(mode, controls, sent, **params)
    spec = Intake({"diffusers": engine}, "diffusers", 10**8, 16).spec(
        job, None if mode is Mode.GENERATE else IMAGE, MASK if mode is Mode.FILL else None, "api", "python",
        control_images=[edges_drawing() if sent else None for _ in controls])
    return run_pipeline(spec, engine, lambda *args, **kwargs: None, CancelToken())


def edges_drawing() -> np.ndarray:
    """RGBA8: a dark square outline on white paper, as a user's sketch."""
    drawing = np.full((H, W, 4), 255, np.uint8)
    drawing[12:36, 20:44, :3] = 0
    drawing[15:33, 23:41, :3] = 255
    return drawing


def pixels(result: LayeredResult) -> np.ndarray:
    return result.layers[0].pixels


_REFERENCE_JOBS: dict[tuple[Mode, bool], LayeredResult] = {}


def reference(engine: DiffusersEngine, mode: Mode, controlled: bool) -> LayeredResult:
    """The `mode` job with a canny control (a sent drawing for generate) or without any, run once per session:
    the jobs the others are compared with."""
    if (mode, controlled) not in _REFERENCE_JOBS:
        controls = [({"kind": "canny"} if mode is Mode.GENERATE else CANNY)] if controlled else []
        _REFERENCE_JOBS[mode, controlled] = run(engine, mode, controls, sent=mode is Mode.GENERATE)
    return _REFERENCE_JOBS[mode, controlled]


def refusal(engine: DiffusersEngine, controls: list[dict[str, Any]], **params: Any) -> RequestError:
    """What the intake answers a refine with `controls`, from the request alone (before any upload)."""
    with pytest.raises(RequestError) as caught:
        Intake({"diffusers": engine}, "diffusers", 10**8, 16).check(request(Mode.REFINE, controls, **params))
    return caught.value


@pytest.mark.parametrize("mode", [Mode.GENERATE, Mode.REFINE, Mode.FILL])
def test_a_canny_control_changes_each_kind_of_flux_job(flux_engine: DiffusersEngine, mode: Mode) -> None:
    assert not np.array_equal(pixels(reference(flux_engine, mode, controlled=True)),
                              pixels(reference(flux_engine, mode, controlled=False)))


def test_a_fixed_seed_replays_a_flux_control_job_bit_identically(flux_engine: DiffusersEngine) -> None:
    assert np.array_equal(pixels(run(flux_engine, Mode.FILL, [CANNY])),
                          pixels(reference(flux_engine, Mode.FILL, controlled=True)))


@pytest.mark.parametrize("changed", [{"end": 0.5}, {"strength": 0.5}], ids=["step-range", "strength"])
def test_the_step_range_and_strength_reach_the_flux_controlnet(flux_engine: DiffusersEngine,
                                                               changed: dict[str, float]) -> None:
    assert not np.array_equal(pixels(run(flux_engine, Mode.FILL, [CANNY | changed])),
                              pixels(reference(flux_engine, Mode.FILL, controlled=True)))


def test_two_flux_controls_at_once_each_steer(flux_engine: DiffusersEngine) -> None:
    both = pixels(run(flux_engine, Mode.FILL, [CANNY, CANNY | {"strength": 0.5, "low_threshold": 20}]))
    assert not np.array_equal(both, pixels(reference(flux_engine, Mode.FILL, controlled=True)))


def test_the_recipe_pins_the_flux_controlnet_and_its_content_hash(flux_engine: DiffusersEngine,
                                                                 flux_registry: ModelRegistry) -> None:
    recipe = reference(flux_engine, Mode.FILL, controlled=True).recipe
    assert [(c.model, c.sha256) for c in recipe.params.controls] == [
        ("flux-canny", flux_registry.get("flux-canny").sha256)]


def test_a_flux_controlnet_on_an_sd_job_is_refused_at_submit_naming_both(flux_engine: DiffusersEngine) -> None:
    refused = refusal(flux_engine, [CANNY | {"model": "flux-canny"}], model="sd15")
    assert refused.code is ErrorCode.INCOMPATIBLE_CONTROLNET
    assert all(word in refused.message for word in ("'flux-canny'", "flux-dev", "'sd15'", "sd1"))


def test_an_sd_controlnet_on_a_flux_job_is_refused_at_submit_naming_both(flux_engine: DiffusersEngine) -> None:
    refused = refusal(flux_engine, [CANNY | {"model": "sd-canny"}])
    assert refused.code is ErrorCode.INCOMPATIBLE_CONTROLNET
    assert all(word in refused.message for word in ("'sd-canny'", "sd1", "'flux-dev'"))


@pytest.mark.parametrize("model", ["flux-fill", "flux-kontext", "sd3"])
def test_controls_on_families_without_controlnet_pipelines_are_refused_with_a_sentence(
        flux_engine: DiffusersEngine, model: str) -> None:
    refused = refusal(flux_engine, [CANNY], model=model)
    assert refused.code is ErrorCode.UNSUPPORTED_FEATURE and "controls (ControlNet)" in refused.message


def test_an_inpaint_control_on_a_flux_model_is_refused_at_submit(flux_engine: DiffusersEngine) -> None:
    refused = refusal(flux_engine, [{"kind": "inpaint", "image": "source"}])
    assert refused.code is ErrorCode.UNSUPPORTED_FEATURE and "FLUX.1 Fill" in refused.message


def test_capabilities_list_flux_controlnets_for_flux_models_only(flux_engine: DiffusersEngine) -> None:
    assert flux_engine.capabilities_for("flux-dev").controlnets == (("flux-canny", ControlKind.CANNY),)
    assert flux_engine.capabilities_for("sd15").controlnets == (("sd-canny", ControlKind.CANNY),)
    assert flux_engine.capabilities_for("flux-kontext").controlnets == ()


def test_capabilities_offer_controls_from_the_source_on_flux_models_that_run_controls(
        flux_engine: DiffusersEngine) -> None:
    assert ControlKind.CANNY in flux_engine.capabilities_for("flux-dev").preprocessors
    assert flux_engine.capabilities_for("flux-kontext").preprocessors == frozenset()


def test_models_add_reads_a_flux_controlnets_architecture_from_its_weights(flux_controlnet: Path,
                                                                          tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    misleading = tmp_path / "sd15-canny"  # the name lies: a FLUX ControlNet
    save_flux_controlnet(misleading, seed=2, guidance=False)
    for name, path in {"dev": flux_controlnet, "schnell": misleading}.items():
        added = CliRunner().invoke(main, ["models", "add", name, str(path), "--kind", "canny"], env=env)
        assert added.exit_code == 0 and "canny ControlNet" in added.output, added.output
    listed = json.loads(CliRunner().invoke(main, ["models", "list", "--json"], env=env).output)
    assert {(m["name"], m["role"], m["architecture"]) for m in listed} == {
        ("dev", "controlnet", "flux-dev"), ("schnell", "controlnet", "flux-schnell")}


def test_a_flux_controlnet_as_one_file_is_refused_pointing_at_its_folder(tmp_path: Path) -> None:
    state = {name: value.contiguous() for name, value in make_flux_controlnet(seed=0).state_dict().items()}
    save_file(state, str(tmp_path / "flux-canny.safetensors"))
    with pytest.raises(ModelFileError, match="diffusers folder"):
        make_entry("flux-canny", tmp_path / "flux-canny.safetensors", control_kind=ControlKind.CANNY)


def test_a_flux_union_controlnet_is_refused_at_registration(tmp_path: Path) -> None:
    controlnet = make_flux_controlnet(seed=0)
    controlnet.controlnet_mode_embedder = torch.nn.Embedding(7, controlnet.inner_dim)
    controlnet.register_to_config(num_mode=7)
    controlnet.save_pretrained(tmp_path / "union", safe_serialization=True)
    with pytest.raises(ModelFileError, match="union ControlNet"):
        make_entry("union", tmp_path / "union", control_kind=ControlKind.CANNY)


def test_an_sd3_controlnet_is_refused_at_registration_with_a_sentence(tmp_path: Path) -> None:
    header = {"controlnet_blocks.0.weight": TensorInfo((1536, 1536), "F16"),
              "pos_embed_input.proj.weight": TensorInfo((1536, 16, 2, 2), "F16")}
    with pytest.raises(ModelFileError, match="Stable Diffusion 3 ControlNet"):
        detect_controlnet(header, tmp_path)
