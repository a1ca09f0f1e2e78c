"""Training a brand LoRA on the tiny SD 1.5 through the agent's job room: one 20-step training, then what it made.

The training runs once for the module (64 px, rank 4, two sample seeds): the tests read its events, its
files, the registry and the style book, and load the file with diffusers' own loader.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from conftest import soft_ellipse, textured_rgba
from tiny_datasets import brand_set, follow, one_thread, training_settings  # noqa: F401 (one_thread: a fixture)
from underpaint.api import Underpaint
from underpaint.config import Settings
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry
from underpaint.jobs.runtime import running_jobs
from underpaint.styles import StyleBook
from underpaint.training.checkpoints import latest_checkpoint
from underpaint.training.dataset import load_dataset
from underpaint.training.lora import load_adapter_state
from underpaint.training.recipe import TrainingRecipe
from underpaint.training.trainer import Trainer
from underpaint.wire.messages import Done, JobEvent, Preview, Progress

STEPS = 20
RECIPE = TrainingRecipe(name="brandx", base="sd15", steps=STEPS, rank=4, learning_rate=2e-3, resolution=64,
                        checkpoint_every=10, sample_steps=1)
pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass
class Outcome:
    settings: Settings
    events: list[JobEvent]
    dataset: Path

    @property
    def done(self) -> Done:
        last = self.events[-1]
        assert isinstance(last, Done), last
        return last


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, registry_path: Path) -> Outcome:
    root = tmp_path_factory.mktemp("training")
    settings = training_settings(root, registry_path)
    dataset = brand_set(root / "brand", 4)

    async def train() -> list[JobEvent]:
        async with running_jobs(settings, {"classic": ClassicEngine()}) as manager:
            assert manager.trainings is not None
            manager.trainings.submit("train-1", RECIPE, dataset, "tests", "api")
            return await follow(manager, "train-1")

    return Outcome(settings, asyncio.run(train()), dataset)


def _pipe(path: Path) -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(pipe: StableDiffusionPipeline) -> np.ndarray:
    out = pipe("brandx, a blue mark on orange", num_inference_steps=2, height=64, width=64,
               generator=torch.Generator().manual_seed(3), output_type="np")
    return np.asarray(out.images[0])


def test_a_20_step_training_runs_to_done_with_progress_and_previews(trained: Outcome) -> None:
    progress = [e for e in trained.events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, STEPS + 1))
    assert all(p.loss is not None and p.eta_seconds is not None for p in progress)
    assert progress[-1].eta_seconds == 0 and progress[-1].fraction == 1
    # Samples at step 0 (the base), then at each checkpoint, one per fixed seed.
    assert sorted({(e.step, e.variant) for e in trained.events if isinstance(e, Preview)}) == [
        (step, seed) for step in (0, 10, 20) for seed in (0, 1)]
    assert trained.done.trained is not None and trained.done.trained.steps == STEPS


def test_the_loss_on_the_training_images_goes_down(trained: Outcome, registry_path: Path) -> None:
    folder = Path(trained.done.trained.file).parent  # type: ignore[union-attr]
    pipe = _pipe(registry_path.parent / "sd15")
    dataset = load_dataset(folder / "dataset", "brandx", 64)
    trainer = Trainer(pipe, Family.SD1, dataset, RECIPE, folder / "probe")
    fixed = [(trainer.batch(step), trainer._generator(1000 + step)) for step in range(1, 9)]

    def mean_loss() -> float:
        with torch.no_grad():
            return float(np.mean([trainer.loss(batch, generator).item() for batch, generator in fixed]))

    before = mean_loss()  # fresh adapters start at zero: the base model's loss
    checkpoint = latest_checkpoint(folder / "checkpoints")
    assert checkpoint is not None and checkpoint.step == STEPS
    load_adapter_state(pipe, False, checkpoint.adapters)
    fixed = [(batch, trainer._generator(1000 + step)) for step, (batch, _) in enumerate(fixed, start=1)]
    assert mean_loss() < 0.95 * before


def test_the_file_loads_in_diffusers_and_changes_the_output_and_weight_0_restores_the_base(
        trained: Outcome, registry_path: Path) -> None:
    pipe = _pipe(registry_path.parent / "sd15")
    base = _generate(pipe)
    pipe.load_lora_weights(trained.done.trained.file, adapter_name="brandx")  # type: ignore[union-attr]
    assert np.abs(_generate(pipe) - base).max() > 0.02
    pipe.set_adapters(["brandx"], adapter_weights=[0.0])
    np.testing.assert_allclose(_generate(pipe), base, atol=1e-5)


def test_the_file_has_kohya_keys_with_the_trained_alpha(trained: Outcome) -> None:
    from safetensors import safe_open

    with safe_open(trained.done.trained.file, "pt") as handle:  # type: ignore[union-attr]
        keys = list(handle.keys())
        alphas = {float(handle.get_tensor(key)) for key in keys if key.endswith(".alpha")}
        assert json.loads(handle.metadata()["underpaint_training"])["rank"] == 4
    assert keys and all(key.startswith("lora_unet_") for key in keys)
    assert any(key.endswith(".lora_down.weight") for key in keys)
    assert alphas == {RECIPE.lora_alpha}


def test_the_report_beside_the_file_has_the_curve_the_grid_time_and_device(trained: Outcome) -> None:
    report = trained.done.trained.report  # type: ignore[union-attr]
    numbers = json.loads(Path(report["report"]).read_text())
    assert numbers["steps"] == STEPS and numbers["device"].startswith("cpu") and numbers["seconds"] > 0
    assert numbers["sample_rows"] == 3 and numbers["images"] == 4
    with Image.open(report["loss_curve"]) as curve:
        assert curve.format == "PNG" and curve.width > 300
    with Image.open(Path(report["samples"]).parent / "samples" / "step-000000-seed-1.png") as sample:
        cell = sample.size
    with Image.open(report["samples"]) as grid:
        assert grid.size == (2 * cell[0], 3 * (cell[1] + 18))  # rows: steps 0, 10, 20; columns: seeds


def test_the_lora_is_registered_with_its_base_dataset_and_recipe(trained: Outcome, registry_path: Path) -> None:
    entry = ModelRegistry(trained.settings.models_path).get("brandx")
    base = ModelRegistry(registry_path).get("sd15")
    assert entry.role == "lora" and entry.architecture == "sd1" and entry.trained is not None
    assert entry.trained.base_sha256 == base.sha256
    assert entry.trained.dataset_sha256 == load_dataset(trained.dataset, "brandx", 64).sha256
    assert entry.trained.recipe["steps"] == STEPS and entry.trained.recipe["trigger"] == "brandx"


def test_a_style_carries_the_trigger_and_the_lora_and_a_fill_with_it_runs(trained: Outcome) -> None:
    style = StyleBook(trained.settings.styles_dir).get("brandx")
    assert style.prompt == "brandx, {prompt}" and style.model == "sd15"
    assert [(lora.name, lora.weight) for lora in style.loras] == [("brandx", 1.0)]
    engine = DiffusersEngine(ModelRegistry(trained.settings.models_path), "sd15", LoadOptions(placement("cpu")))
    api = Underpaint(trained.settings, {"classic": ClassicEngine(), "diffusers": engine})
    result = api.fill(textured_rgba(64, 64)[..., :3], soft_ellipse(64, 64, (16, 16, 32, 32)), style="brandx",
                      prompt="a kite", steps=2, seed=1)
    assert result.recipe.params.prompt == "brandx, a kite"
    assert [lora.name for lora in result.recipe.params.loras] == ["brandx"]


def test_an_sdxl_base_trains_text_encoders_too_and_its_file_loads_in_diffusers(
        tmp_path: Path, registry_path: Path) -> None:
    from diffusers import StableDiffusionXLPipeline

    from underpaint.engines.base import CancelToken
    from underpaint.engines.diffusers.checkpoint import read_safetensors_header
    from underpaint.engines.diffusers.loader import load_model
    from underpaint.engines.diffusers.lora_files import detect_lora

    class Quiet:
        def progress(self, report: object) -> None: ...

        def samples(self, step: int, images: list[np.ndarray]) -> None: ...

    loaded = load_model(ModelRegistry(registry_path).get("sdxl"), LoadOptions(placement("cpu")))
    recipe = RECIPE.model_copy(update={"name": "xl-brand", "steps": 2, "checkpoint_every": 2, "text_encoder": True})
    dataset = load_dataset(brand_set(tmp_path / "brand"), "brandx", 64)
    trained = Trainer(loaded.base, Family.SDXL, dataset, recipe, tmp_path / "run").run(Quiet(), CancelToken())
    assert detect_lora(read_safetensors_header(trained.path), trained.path) == Family.SDXL
    pipe = StableDiffusionXLPipeline.from_pretrained(registry_path.parent / "sdxl")
    pipe.set_progress_bar_config(disable=True)
    base = _generate(pipe)
    pipe.load_lora_weights(str(trained.path), adapter_name="xl")
    assert np.abs(_generate(pipe) - base).max() > 0.01
    pipe.set_adapters(["xl"], adapter_weights=[0.0])
    np.testing.assert_allclose(_generate(pipe), base, atol=1e-5)
