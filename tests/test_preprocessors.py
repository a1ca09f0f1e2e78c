"""Preprocessor models: depth and segmentation maps made by a registered transformers model.

Tiny random-weight DPT and SegFormer folders (tests/tiny_preprocessors.py), saved with save_pretrained as the
hub ships them, registered as `underpaint models add` does and loaded through transformers' Auto classes.
A depth ControlNet is a tiny one registered with --kind depth (the kind is what the user says). Jobs go
through the intake and the one job path, as every front door's do.
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
from tiny_controlnets import make_controlnet, save_controlnet
from tiny_pipelines import _checkpoint_pipeline
from tiny_preprocessors import build_tiny_depth, build_tiny_segmentation
from underpaint.api import Control, Underpaint
from underpaint.cli import main
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.conditioning import ControlKind
from underpaint.engines.base import CancelToken, EngineError
from underpaint.engines.diffusers.ade20k_palette import ADE20K_PALETTE
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.preprocessors import Preprocessors
from underpaint.engines.diffusers.registry import ModelRegistry, RegistryError, make_entry
from underpaint.jobs.intake import Intake, JobRequest
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult
from underpaint.results.store import ResultStore

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=7), soft_ellipse(H, W, (16, 10, 30, 26))
JOB = {"prompt": "a red cat", "steps": 2, "seed": 5}
DEPTH = {"kind": "depth", "image": "source"}


@pytest.fixture(scope="session")
def folders(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("preprocessors")
    unet = _checkpoint_pipeline(registry_path.parent / "sd15").unet
    return {"depth": build_tiny_depth(root / "dpt-hybrid-midas"), "segmentation": build_tiny_segmentation(
        root / "segformer-ade"), "controlnet": save_controlnet(make_controlnet(unet, seed=6), root, "cn")["folder"]}


@pytest.fixture(scope="session")
def registry(registry_path: Path, folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> ModelRegistry:
    registry = ModelRegistry(tmp_path_factory.mktemp("preprocessor-registry") / "models.json")
    registry.put(ModelRegistry(registry_path).get("sd15"))
    for kind in (ControlKind.DEPTH, ControlKind.SEGMENTATION):
        registry.put(make_entry(f"{kind}-net", folders["controlnet"], control_kind=kind))
        registry.put(make_entry(f"{kind}-model", folders[kind]))
    return registry


@pytest.fixture(scope="session")
def depth_engine(registry: ModelRegistry) -> DiffusersEngine:
    """This module's own engine, so what it loads stays out of the session's warm models."""
    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu")))


@pytest.fixture(scope="session")
def bare_engine(registry: ModelRegistry, tmp_path_factory: pytest.TempPathFactory) -> DiffusersEngine:
    """An engine with the depth ControlNet but no preprocessor model registered."""
    bare = ModelRegistry(tmp_path_factory.mktemp("bare-registry") / "models.json")
    for name in ("sd15", "depth-net"):
        bare.put(registry.get(name))
    return DiffusersEngine(bare, "sd15", LoadOptions(placement("cpu")))


def request(controls: list[dict[str, Any]], sent: list[np.ndarray | None] | None = None
            ) -> tuple[JobRequest, list[np.ndarray | None]]:
    images = sent if sent is not None else [None] * len(controls)
    size = Size(width=W, height=H)
    job = JobRequest("j", Mode.FILL, Params.model_validate(JOB | {"controls": controls}), size,
                     Rect(x=0, y=0, width=W, height=H), size, size,
                     tuple(None if a is None else Size(width=a.shape[1], height=a.shape[0]) for a in images))
    return job, images


def run(engine: DiffusersEngine, controls: list[dict[str, Any]], sent: list[np.ndarray | None] | None = None
        ) -> LayeredResult:
    job, images = request(controls, sent)
    spec = Intake({"diffusers": engine}, "diffusers", 10**8, 16).spec(job, IMAGE, MASK, "api", "python",
                                                                        control_images=images)
    return run_pipeline(spec, engine, lambda *args, **kwargs: None, CancelToken())


def refusal(engine: DiffusersEngine, controls: list[dict[str, Any]]) -> RequestError:
    job, _ = request(controls)
    with pytest.raises(RequestError) as caught:
        Intake({"diffusers": engine}, "diffusers", 10**8, 16).check(job)
    return caught.value


def pixels(result: LayeredResult) -> np.ndarray:
    return result.layers[0].pixels


def test_models_add_detects_a_depth_model_from_its_config(folders: dict[str, Path], tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    misleading = shutil.copytree(folders["depth"], tmp_path / "segformer-ade")  # the name lies
    for name, extra in (("depth-dpt", ["--kind", "depth"]), ("unnamed-kind", [])):
        added = CliRunner().invoke(main, ["models", "add", name, str(misleading), *extra], env=env)
        assert added.exit_code == 0 and "depth preprocessor" in added.output, added.output
    listed = json.loads(CliRunner().invoke(main, ["models", "list", "--json"], env=env).output)
    assert {(m["role"], m["architecture"], m["control_kind"]) for m in listed} == {
        ("preprocessor", "DPTForDepthEstimation", "depth")}


def test_a_segmentation_model_registers_for_segmentation(folders: dict[str, Path]) -> None:
    entry = make_entry("seg", folders["segmentation"])
    assert (entry.role, entry.control_kind, entry.architecture) == (
        "preprocessor", ControlKind.SEGMENTATION, "SegformerForSemanticSegmentation")


def test_a_depth_model_given_another_kind_is_refused_naming_its_own(folders: dict[str, Path]) -> None:
    with pytest.raises(ModelFileError, match="makes depth maps, not segmentation"):
        make_entry("seg", folders["depth"], control_kind=ControlKind.SEGMENTATION)


@pytest.mark.parametrize("kind", [ControlKind.POSE, ControlKind.LINEART, ControlKind.SOFTEDGE])
def test_a_pose_lineart_or_softedge_preprocessor_is_refused_saying_they_take_a_ready_map(
        folders: dict[str, Path], kind: ControlKind) -> None:
    for path in (folders["depth"], folders["depth"] / "config.json"):
        with pytest.raises((ModelFileError, RegistryError), match=f"{kind} controls take a ready map"):
            make_entry("p", path, control_kind=kind)


def test_a_depth_control_from_the_source_changes_a_fill(depth_engine: DiffusersEngine) -> None:
    assert not np.array_equal(pixels(run(depth_engine, [DEPTH])), pixels(run(depth_engine, [])))


def test_the_depth_map_is_deterministic_grey_and_spans_the_full_range(registry: ModelRegistry) -> None:
    image = np.ascontiguousarray(IMAGE[..., :3])
    first, second = (Preprocessors(placement("cpu")).make_map(registry.get("depth-model"), image) for _ in range(2))
    assert np.array_equal(first, second) and first.shape == (H, W, 3)
    assert (first[..., 0] == first[..., 2]).all() and (first.min(), first.max()) == (0, 255)


def test_a_segmentation_map_is_coloured_with_the_ade20k_palette(registry: ModelRegistry) -> None:
    seg = Preprocessors(placement("cpu")).make_map(registry.get("segmentation-model"),
                                                   np.ascontiguousarray(IMAGE[..., :3]))
    assert seg.shape == (H, W, 3) and {tuple(c) for c in seg.reshape(-1, 3).tolist()} <= set(ADE20K_PALETTE)


def test_the_recipe_pins_the_preprocessor_and_replays_bit_identically_from_the_psd(
        depth_engine: DiffusersEngine, registry: ModelRegistry, tmp_path: Path) -> None:
    underpaint = Underpaint(make_settings(tmp_path), {"diffusers": depth_engine})
    first = underpaint.fill(IMAGE, MASK, controls=[Control("depth")], **JOB)
    control = first.recipe.params.controls[0]
    assert (control.preprocessor, control.preprocessor_sha256) == ("depth-model", registry.get("depth-model").sha256)
    saved = ResultStore(tmp_path / "results", 30, 1000).save(first, "job-1")
    assert np.array_equal(pixels(underpaint.replay(saved.psd)), pixels(first))


def test_a_sent_photo_with_preprocess_gets_its_depth_map_made(depth_engine: DiffusersEngine) -> None:
    photo = textured_rgba(H, W, seed=9)
    made = run(depth_engine, [{"kind": "depth"}], sent=[photo])
    assert made.recipe.params.controls[0].preprocessor == "depth-model"
    assert not np.array_equal(pixels(made), pixels(run(depth_engine, [{"kind": "depth", "preprocess": False}],
                                                       sent=[photo])))


def test_a_sent_image_with_no_preprocessor_registered_is_the_map_and_pinned_so(bare_engine: DiffusersEngine) -> None:
    pinned = bare_engine.pin(Params.model_validate({"controls": [{"kind": "depth"}]})).controls[0]
    assert (pinned.preprocess, pinned.preprocessor) == (False, None)


def test_a_depth_control_from_the_source_without_a_preprocessor_says_how_to_add_one(
        bare_engine: DiffusersEngine) -> None:
    refused = refusal(bare_engine, [DEPTH])
    assert refused.code is ErrorCode.NO_PREPROCESSOR and "--kind depth" in refused.message


def test_a_pose_control_from_the_source_is_refused_saying_pose_takes_a_ready_map(
        depth_engine: DiffusersEngine) -> None:
    refused = refusal(depth_engine, [{"kind": "pose", "image": "source"}])
    assert refused.code is ErrorCode.NO_PREPROCESSOR and "take a ready map" in refused.message


def test_a_preprocessor_whose_files_changed_since_the_recipe_is_refused(
        depth_engine: DiffusersEngine, registry: ModelRegistry, folders: dict[str, Path], tmp_path: Path) -> None:
    folder = shutil.copytree(folders["depth"], tmp_path / "depth")
    registry.put(make_entry("changing", folder))
    pinned = depth_engine.pin(Params.model_validate({"controls": [DEPTH | {"preprocessor": "changing"}]}))
    build_tiny_depth(folder, seed=1)  # other weights, registered again under the same name
    registry.put(make_entry("changing", folder))
    try:
        refused = refusal(depth_engine, [pinned.controls[0].model_dump()])
    finally:
        registry.remove("changing")
    assert refused.code is ErrorCode.PREPROCESSOR_CHANGED and "'changing'" in refused.message


def test_a_corrupt_preprocessor_fails_its_job_naming_the_file_and_the_next_job_runs(
        depth_engine: DiffusersEngine, registry: ModelRegistry, tmp_path: Path) -> None:
    broken = build_tiny_depth(tmp_path / "broken", seed=2)
    registry.put(make_entry("broken", broken))
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])  # cut short after it was registered
    try:
        with pytest.raises(EngineError) as caught:
            run(depth_engine, [DEPTH | {"preprocessor": "broken"}])
    finally:
        registry.remove("broken")
    assert caught.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "'broken'" in caught.value.message and str(weights) in caught.value.message
    assert run(depth_engine, [DEPTH]).layers


def test_capabilities_list_the_kinds_with_a_registered_preprocessor(depth_engine: DiffusersEngine) -> None:
    assert depth_engine.capabilities.preprocessors == {ControlKind.CANNY, ControlKind.TILE, ControlKind.INPAINT,
                                                       ControlKind.DEPTH, ControlKind.SEGMENTATION}
