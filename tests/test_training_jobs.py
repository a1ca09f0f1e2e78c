"""A training as a job of the agent: it yields the device to a designer's fill, can be cancelled, and a training
whose agent was killed resumes from its last checkpoint when the agent starts again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GatedEngine, soft_ellipse, textured_rgba
from tiny_datasets import brand_set, follow, one_thread, training_settings  # noqa: F401 (one_thread: a fixture)
from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.manager import Job
from underpaint.jobs.runtime import running_jobs
from underpaint.training.recipe import TrainingRecipe
from underpaint.wire.messages import Cancelled, Done, JobEvent, Progress

RECIPE = TrainingRecipe(name="brandy", base="sd15", steps=12, rank=4, learning_rate=1e-3, resolution=64,
                        checkpoint_every=4, sample_steps=1, sample_seeds=(1,))
LONG = RECIPE.model_copy(update={"steps": 40})
"""Long enough to still run when the fill is done; cancelled then."""
_KILLABLE = """
import asyncio, sys
from pathlib import Path
import torch
from underpaint.config import Settings
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.manager import Job
from underpaint.jobs.runtime import running_jobs
from underpaint.training.recipe import TrainingRecipe

torch.set_num_threads(1)
settings = Settings.model_validate_json(sys.argv[1])

async def main():
    async with running_jobs(settings, {"classic": ClassicEngine()}) as manager:
        manager.trainings.submit("train-k", TrainingRecipe.model_validate_json(sys.argv[2]), Path(sys.argv[3]),
                                 "tests", "api")
        await asyncio.sleep(600)

asyncio.run(main())
"""
pytestmark = pytest.mark.usefixtures("one_thread")


def _fill(job_id: str) -> JobSpec:
    return JobSpec(job_id, Mode.FILL, Params(engine="classic"), Size(width=64, height=64),
                   Rect(x=0, y=0, width=64, height=64), textured_rgba(64, 64), soft_ellipse(64, 64, (16, 16, 32, 32)))


async def test_a_fill_submitted_during_a_training_runs_first_while_the_training_waits(
        tmp_path: Path, registry_path: Path, gated: GatedEngine) -> None:
    settings = training_settings(tmp_path, registry_path)
    async with running_jobs(settings, {"classic": gated}) as manager:
        assert manager.trainings is not None
        manager.trainings.submit("train-y", LONG, brand_set(tmp_path / "brand"), "tests", "api")
        training = asyncio.create_task(follow(manager, "train-y"))
        while not any(isinstance(e, Progress) for e in _messages(manager.jobs["train-y"])):
            await asyncio.sleep(0.02)
        manager.submit(_fill("fill-1"), "classic", "designer", "d", {})
        fill = asyncio.create_task(follow(manager, "fill-1"))
        await asyncio.to_thread(gated.steps_waiting.wait, 30)
        steps_before = _steps(_messages(manager.jobs["train-y"]))
        await asyncio.sleep(1.0)  # the fill holds the device: no training step may run meanwhile
        assert _steps(_messages(manager.jobs["train-y"])) == steps_before
        gated.open_fully()
        assert isinstance((await fill)[-1], Done)
        assert not training.done()
        manager.cancel("train-y")
        assert isinstance((await training)[-1], Cancelled)
        assert {job.job_id: job.mode for job in manager.recent(10)} == {"train-y": "train", "fill-1": "fill"}
    assert (settings.training_dir / "train-y" / "ended").read_text() == "cancelled\n"


def _messages(job: Job) -> list[JobEvent]:
    return [event.message for event in job.log.events]


def _steps(events: list[JobEvent]) -> int:
    return max((e.step for e in events if isinstance(e, Progress)), default=0)


async def test_a_training_killed_after_a_checkpoint_resumes_from_it_with_the_same_steps(
        tmp_path: Path, registry_path: Path) -> None:
    settings = training_settings(tmp_path, registry_path)
    dataset = brand_set(tmp_path / "brand")
    process = subprocess.Popen([sys.executable, "-c", _KILLABLE, settings.model_dump_json(),
                                RECIPE.model_dump_json(), str(dataset)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = settings.training_dir / "train-k" / "checkpoints"
    deadline = time.monotonic() + 120
    try:
        while not any(checkpoints.glob("step-*.pt")) and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert any(checkpoints.glob("step-*.pt"))
    async with running_jobs(settings, {"classic": ClassicEngine()}) as manager:
        done = (await follow(manager, "train-k"))[-1]
    assert isinstance(done, Done) and done.trained is not None
    assert done.trained.resumed_from in (4, 8)
    assert done.trained.steps == RECIPE.steps
    progress = [e.step for e in _messages(manager.jobs["train-k"]) if isinstance(e, Progress)]
    assert progress == list(range(done.trained.resumed_from + 1, RECIPE.steps + 1))


async def test_a_training_of_one_image_is_refused_before_it_is_queued(tmp_path: Path, registry_path: Path) -> None:
    settings = training_settings(tmp_path, registry_path)
    async with running_jobs(settings, {"classic": ClassicEngine()}) as manager:
        assert manager.trainings is not None
        with pytest.raises(RequestError) as caught:
            manager.trainings.submit("train-1", RECIPE, brand_set(tmp_path / "brand", 1), "tests", "api")
        assert caught.value.code == ErrorCode.TOO_FEW_IMAGES
        assert "train-1" not in manager.jobs


async def test_an_inpainting_base_is_bad_training(tmp_path: Path, registry_path: Path) -> None:
    settings = training_settings(tmp_path, registry_path)
    async with running_jobs(settings, {"classic": ClassicEngine()}) as manager:
        assert manager.trainings is not None
        with pytest.raises(RequestError) as caught:
            manager.trainings.submit("train-2", RECIPE.model_copy(update={"base": "sd15-inpaint"}),
                                     brand_set(tmp_path / "brand"), "tests", "api")
        assert caught.value.code == ErrorCode.BAD_TRAINING
