"""Controls (ControlNet): registered like models, checked at submit, run beside warm pipelines, pinned in recipes.

Tiny random-weight ControlNets (tests/tiny_controlnets.py) made from the tiny SD 1.5 and SDXL UNets, saved as
diffusers folders and single .safetensors in the diffusers and the original layout, registered as
`underpaint models add --kind` does and loaded through diffusers' own loaders. Jobs go through the intake and
the one job path (jobs/pipeline.py), as every front door's do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_settings, soft_ellipse, textured_rgba
from tiny_controlnets import build_tiny_controlnets
from underpaint.api import Control, Underpaint
from underpaint.cli import main
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.conditioning import ControlKind
from underpaint.engines.base import CancelToken, EngineError
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import TensorInfo
from underpaint.engines.diffusers.controlnet_files import detect_controlnet
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry, RegistryError, make_entry
from underpaint.jobs.intake import Intake, JobRequest, output_area
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult
from underpaint.results.store import ResultStore

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=4), soft_ellipse(H, W, (16, 10, 30, 26))
JOB = {"prompt": "a red cat", "steps": 2, "seed": 5}
CANNY = {"kind": "canny", "image": "source"}
KINDS = {"canny": ControlKind.CANNY, "scribble": ControlKind.SCRIBBLE, "tile": ControlKind.TILE,
         "xl-canny": ControlKind.CANNY}


@pytest.fixture(scope="session")
def controlnets(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    return build_tiny_controlnets(registry_path.parent, tmp_path_factory.mktemp("controlnets"))


@pytest.fixture(scope="session")
def registry(registry_path: Path, controlnets: dict[str, dict[str, Path]],
             tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    """The tiny models and ControlNets in one registry; the single files with their folder as --config, as a
    user without a network would register them."""
    registry = ModelRegistry(tmp_path_factory.mktemp("control-registry") / "models.json")
    for name in ("sd15", "sd15-inpaint", "sdxl"):
        registry.put(ModelRegistry(registry_path).get(name))
    for name, layouts in controlnets.items():
        registry.put(make_entry(name, layouts["folder"], control_kind=KINDS[name]))
    # The kind is what the user says: the tile weights registered again as an inpaint ControlNet.
    registry.put(make_entry("inpaint", controlnets["tile"]["folder"], control_kind=ControlKind.INPAINT))
    for layout in ("diffusers", "original"):
        registry.put(make_entry(f"canny-{layout}", controlnets["canny"][layout], control_kind=ControlKind.CANNY,
                                config=str(controlnets["canny"]["folder"])))
    return registry


def new_engine(registry: ModelRegistry) -> DiffusersEngine:
    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu")), max_models=3)


@pytest.fixture(scope="session")
def control_engine(registry: ModelRegistry) -> DiffusersEngine:
    """This module's own engine, so the ControlNets it loads stay out of the session's warm models."""
    return new_engine(registry)


def request(mode: Mode, controls: list[dict[str, Any]], sent: list[np.ndarray | None] | None = None,
            **params: Any) -> tuple[JobRequest, list[np.ndarray | None]]:
    """A job on IMAGE (MASK for fill) with `controls`, each derived from the source unless `sent` gives its image."""
    images = sent if sent is not None else [None] * len(controls)
    checked = Params.model_validate(JOB | {"controls": controls} | params)
    mask = MASK if mode in (Mode.FILL, Mode.REMOVE) else None
    size = Size(width=W, height=H)
    job = JobRequest("j", mode, checked, size, Rect(x=0, y=0, width=W, height=H),
                     None if mode is Mode.GENERATE else size, None if mask is None else size,
                     tuple(None if a is None else Size(width=a.shape[1], height=a.shape[0]) for a in images))
    return job, images


def run(engine: DiffusersEngine, mode: Mode, controls: list[dict[str, Any]],
        sent: list[np.ndarray | None] | None = None, **params: Any) -> LayeredResult:
    job, images = request(mode, controls, sent, **params)
    intake = Intake({"diffusers": engine}, "diffusers", 10**8, 16)
    spec = intake.spec(job, None if mode is Mode.GENERATE else IMAGE,
                       MASK if mode in (Mode.FILL, Mode.REMOVE) else None, "api", "python", control_images=images)
    return run_pipeline(spec, engine, lambda *args, **kwargs: None, CancelToken())


def pixels(result: LayeredResult) -> np.ndarray:
    return result.layers[0].pixels


def refusal(engine: DiffusersEngine, controls: list[dict[str, Any]], **params: Any) -> RequestError:
    """What the intake answers a fill with `controls`, from the request alone (before any upload)."""
    job, _ = request(Mode.FILL, controls, **params)
    with pytest.raises(RequestError) as caught:
        Intake({"diffusers": engine}, "diffusers", 10**8, 16).check(job)
    return caught.value


def edges_drawing(height: int = H, width: int = W) -> np.ndarray:
    """RGBA8 of the given size: a dark square outline on white paper, as a user's sketch."""
    drawing = np.full((height, width, 4), 255, np.uint8)
    drawing[12:36, 20:44, :3] = 0
    drawing[15:33, 23:41, :3] = 255
    return drawing


def test_a_canny_control_changes_a_fill(control_engine: DiffusersEngine) -> None:
    assert not np.array_equal(pixels(run(control_engine, Mode.FILL, [CANNY])),
                              pixels(run(control_engine, Mode.FILL, [])))


def test_strength_zero_gives_exactly_the_job_without_it(control_engine: DiffusersEngine) -> None:
    assert np.array_equal(pixels(run(control_engine, Mode.FILL, [CANNY | {"strength": 0}])),
                          pixels(run(control_engine, Mode.FILL, [])))


def test_a_fixed_seed_gives_bit_identical_results_twice(control_engine: DiffusersEngine) -> None:
    assert np.array_equal(pixels(run(control_engine, Mode.FILL, [CANNY])),
                          pixels(run(control_engine, Mode.FILL, [CANNY])))


def test_two_controls_at_once_each_steer(control_engine: DiffusersEngine) -> None:
    scribble = {"kind": "scribble", "strength": 0.8, "start": 0.0, "end": 0.5}
    both = pixels(run(control_engine, Mode.FILL, [CANNY, scribble], sent=[None, edges_drawing()]))
    assert not np.array_equal(both, pixels(run(control_engine, Mode.FILL, [CANNY])))
    assert not np.array_equal(both, pixels(run(control_engine, Mode.FILL, [scribble], sent=[edges_drawing()])))


def test_an_inpaint_control_sees_the_selection_marked_in_its_source(control_engine: DiffusersEngine) -> None:
    marked = pixels(run(control_engine, Mode.FILL, [{"kind": "inpaint", "image": "source"}]))
    assert not np.array_equal(marked, pixels(run(control_engine, Mode.FILL, [{"kind": "tile", "image": "source"}]))), \
        "the same weights on the same source: only the marking differs"


@pytest.mark.parametrize("layout", ["diffusers", "original"])
def test_a_single_file_in_either_layout_runs_as_its_folder_does(control_engine: DiffusersEngine, layout: str) -> None:
    assert np.array_equal(pixels(run(control_engine, Mode.FILL, [CANNY | {"model": f"canny-{layout}"}])),
                          pixels(run(control_engine, Mode.FILL, [CANNY | {"model": "canny"}])))


@pytest.mark.parametrize(("mode", "model", "control"), [
    (Mode.GENERATE, "sd15", {"kind": "scribble"}),
    (Mode.REFINE, "sd15", {"kind": "tile", "image": "source"}),
    (Mode.FILL, "sd15", CANNY),
    (Mode.REMOVE, "sd15-inpaint", CANNY),
    (Mode.FILL, "sd15-inpaint", CANNY),
    (Mode.FILL, "sdxl", CANNY),
    (Mode.REFINE, "sdxl", CANNY),
    (Mode.EXPAND, "sd15", {"kind": "scribble"}),
], ids=["generate", "refine", "fill", "remove-9-channel", "fill-9-channel", "fill-sdxl", "refine-sdxl", "expand"])
def test_a_control_steers_every_mode_on_regular_inpainting_and_sdxl_models(
        control_engine: DiffusersEngine, mode: Mode, model: str, control: dict[str, Any]) -> None:
    params: dict[str, Any] = {"model": model, "strength": 0.6 if mode is Mode.REFINE else 1.0}
    if mode is Mode.EXPAND:
        params = {"model": model, "expand": {"left": 0, "top": 0, "right": 16, "bottom": 0}}
    area = output_area(mode, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                       Params.model_validate(params).expand)
    sent = None if control.get("image") == "source" else [edges_drawing(area.height, area.width)]
    with_control = run(control_engine, mode, [control], sent, **params)
    assert not np.array_equal(pixels(with_control), pixels(run(control_engine, mode, [], **params)))


def test_a_guided_fill_replays_bit_identically_from_the_psd_alone(control_engine: DiffusersEngine,
                                                                  tmp_path: Path) -> None:
    underpaint = Underpaint(make_settings(tmp_path), {"diffusers": control_engine})
    first = underpaint.fill(IMAGE, MASK, controls=[Control("canny"), Control("scribble", edges_drawing())], **JOB)
    saved = ResultStore(tmp_path / "results", 30, 1000).save(first, "job-1")
    assert np.array_equal(pixels(underpaint.replay(saved.psd)), pixels(first))


def test_the_job_after_a_control_job_equals_the_same_job_before_any(registry: ModelRegistry) -> None:
    fresh = new_engine(registry)
    before = pixels(run(fresh, Mode.FILL, []))
    run(fresh, Mode.FILL, [CANNY])
    assert np.array_equal(pixels(run(fresh, Mode.FILL, [])), before)


def test_the_recipe_pins_each_controls_controlnet_and_content_hash(control_engine: DiffusersEngine,
                                                                  registry: ModelRegistry) -> None:
    recipe = run(control_engine, Mode.FILL, [CANNY, CANNY | {"model": "canny-original", "strength": 0.5}]).recipe
    assert [(c.model, c.sha256) for c in recipe.params.controls] == [
        ("canny", registry.get("canny").sha256), ("canny-original", registry.get("canny-original").sha256)]


def test_an_sdxl_controlnet_on_an_sd15_job_is_refused_at_submit_naming_both(control_engine: DiffusersEngine) -> None:
    refused = refusal(control_engine, [CANNY | {"model": "xl-canny"}], model="sd15")
    assert refused.code is ErrorCode.INCOMPATIBLE_CONTROLNET and refused.job_id == "j"
    assert all(word in refused.message for word in ("'xl-canny'", "sdxl", "'sd15'", "sd1"))


def test_a_controlnet_of_another_kind_is_refused_at_submit(control_engine: DiffusersEngine) -> None:
    refused = refusal(control_engine, [{"kind": "tile", "image": "source", "model": "canny"}])
    assert refused.code is ErrorCode.INCOMPATIBLE_CONTROLNET and "canny" in refused.message


def test_an_unknown_controlnet_is_refused_at_submit_listing_those_there_are(control_engine: DiffusersEngine) -> None:
    refused = refusal(control_engine, [CANNY | {"model": "lineart-anime"}])
    assert refused.code is ErrorCode.UNKNOWN_CONTROLNET and "'lineart-anime'" in refused.message
    assert "canny (canny)" in refused.message and "xl-canny" not in refused.message


def test_a_kind_with_no_controlnet_for_the_models_family_is_refused_saying_how_to_add_one(
        control_engine: DiffusersEngine) -> None:
    refused = refusal(control_engine, [{"kind": "tile", "image": "source"}], model="sdxl")
    assert refused.code is ErrorCode.UNKNOWN_CONTROLNET and "--kind tile" in refused.message


def test_a_depth_control_from_the_source_needs_a_preprocessor(control_engine: DiffusersEngine) -> None:
    assert refusal(control_engine, [{"kind": "depth", "image": "source"}]).code is ErrorCode.NO_PREPROCESSOR


def test_a_control_pinned_to_other_weights_is_refused(control_engine: DiffusersEngine) -> None:
    refused = refusal(control_engine, [CANNY | {"model": "canny", "sha256": "0" * 64}])
    assert refused.code is ErrorCode.CONTROLNET_CHANGED and "'canny'" in refused.message


def test_capabilities_list_the_controlnets_made_for_each_models_family(control_engine: DiffusersEngine) -> None:
    sd1 = {("canny", ControlKind.CANNY), ("canny-diffusers", ControlKind.CANNY), ("canny-original", ControlKind.CANNY),
           ("scribble", ControlKind.SCRIBBLE), ("tile", ControlKind.TILE), ("inpaint", ControlKind.INPAINT)}
    assert set(control_engine.capabilities_for("sd15").controlnets) == sd1
    assert set(control_engine.capabilities_for("sd15-inpaint").controlnets) == sd1
    assert control_engine.capabilities_for("sdxl").controlnets == (("xl-canny", ControlKind.CANNY),)
    assert control_engine.capabilities.preprocessors == {ControlKind.CANNY, ControlKind.TILE, ControlKind.INPAINT}
    assert set(control_engine.capabilities.models) == {"sd15", "sd15-inpaint", "sdxl"}, "ControlNets are not models"


def test_a_corrupt_controlnet_fails_its_job_naming_it_and_the_engine_serves_the_next(
        control_engine: DiffusersEngine, registry: ModelRegistry, controlnets: dict[str, dict[str, Path]],
        tmp_path: Path) -> None:
    broken = shutil.copy(controlnets["scribble"]["diffusers"], tmp_path / "broken.safetensors")
    registry.put(make_entry("broken", broken, control_kind=ControlKind.SCRIBBLE,
                            config=str(controlnets["scribble"]["folder"])))
    broken.write_bytes(broken.read_bytes()[:-1000])  # cut short after it was registered
    try:
        with pytest.raises(EngineError) as caught:
            run(control_engine, Mode.FILL, [CANNY, {"kind": "scribble", "model": "broken"}],
                sent=[None, edges_drawing()])
    finally:
        registry.remove("broken")
    assert caught.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "'broken'" in caught.value.message and "truncated" in caught.value.message
    assert run(control_engine, Mode.FILL, [CANNY]).layers


def test_models_add_reads_a_controlnets_architecture_from_its_weights_and_keeps_its_kind(
        controlnets: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    misleading = tmp_path / "sd15-canny.safetensors"  # the name lies: an SDXL ControlNet
    shutil.copy(controlnets["xl-canny"]["diffusers"], misleading)
    files = {"xl": misleading, "folder": controlnets["canny"]["folder"],
             "original": controlnets["canny"]["original"]}
    for name, path in files.items():
        added = CliRunner().invoke(main, ["models", "add", name, str(path), "--kind", "canny"], env=env)
        assert added.exit_code == 0 and "canny ControlNet" in added.output, added.output
    listed = json.loads(CliRunner().invoke(main, ["models", "list", "--json"], env=env).output)
    assert {(m["name"], m["role"], m["architecture"], m["control_kind"]) for m in listed} == {
        ("xl", "controlnet", "sdxl", "canny"), ("folder", "controlnet", "sd1", "canny"),
        ("original", "controlnet", "sd1", "canny")}


def test_a_controlnet_needs_its_kind_to_be_registered(controlnets: dict[str, dict[str, Path]]) -> None:
    with pytest.raises(RegistryError, match="--kind"):
        make_entry("canny", controlnets["canny"]["folder"])


def _header(shapes: dict[str, tuple[int, ...]]) -> dict[str, TensorInfo]:
    return {name: TensorInfo(shape, "F16") for name, shape in shapes.items()}


@pytest.mark.parametrize(("shapes", "expected"), [
    ({"down_blocks.1.attentions.0.proj_in.weight": (640, 640, 1, 1)}, Family.SD1),
    ({"control_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1)}, Family.SD1),
    ({"down_blocks.1.attentions.0.proj_in.weight": (640, 640)}, Family.SD2),
    ({"add_embedding.linear_1.weight": (1280, 2816), "down_blocks.1.attentions.0.proj_in.weight": (640, 640)},
     Family.SDXL),
    ({"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 1024)}, Family.SD2),
], ids=["sd1-diffusers", "sd1-original", "sd2", "sdxl", "sd2-context-width"])
def test_real_sized_controlnets_of_each_family_are_told_apart(shapes: dict[str, tuple[int, ...]],
                                                              expected: Family) -> None:
    assert detect_controlnet(_header(shapes), Path("x.safetensors")) is expected
