"""Trainings as jobs: queued in the agent's one queue, reported through the same events, yielding to fills.

A training waits its turn in the manager's fair queue like any job. When the worker reaches it, the
training starts on its own thread and the worker moves on, so the queue keeps flowing; the device is
shared through a `DeviceTurn`: the engine thread holds it for each interactive job, the trainer takes
it per step only while no interactive job waits. A designer's fill therefore waits at most one
training step.

Each training lives in `root/JOB_ID/`: a copy of its usable dataset, `request.json`, checkpoints,
samples, then the LoRA and its report. A training whose agent stopped (closed or killed) has no
`ended` marker there; the next agent resubmits it under the same id, and it resumes from its newest
checkpoint with the steps still to go.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.spec import LoraRef
from underpaint.engines.base import JobCancelled
from underpaint.jobs.runner import preview_blob
from underpaint.results.recipe import ModelRef, Recipe
from underpaint.styles import StyleBook
from underpaint.styles.style import PLACEHOLDER, Style
from underpaint.training.dataset import CAPTION_SUFFIX, MASK_SUFFIX
from underpaint.training.recipe import TrainingRecipe
from underpaint.wire.messages import Cancelled, Done, Preview, Progress, TrainedInfo

if TYPE_CHECKING:
    from underpaint.engines.diffusers.registry import ModelRegistry
    from underpaint.jobs.manager import Job, JobManager
    from underpaint.training.run import Checked, TrainedLora
    from underpaint.training.trainer import StepReport

log = logging.getLogger(__name__)
T = TypeVar("T")
REQUEST_FILE, ENDED_FILE = "request.json", "ended"
TRAINING_ENGINE = "training"
TRAINING_MODE = "train"
"""A training's mode in the history and in `jobs` (it has no Mode: it makes no image of its own)."""


class DeviceTurn:
    """Who uses the device next: an interactive job waiting goes before the next training step."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._waiting = 0

    def interactive(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` (an interactive job, on the engine thread) once the current step is done."""
        with self._changed:
            self._waiting += 1
            while self._busy:
                self._changed.wait()
            self._waiting -= 1
            self._busy = True
        try:
            return work(*args)
        finally:
            self._release()

    @contextmanager
    def training_step(self) -> Iterator[None]:
        """Held for one training step; waits while an interactive job runs or waits."""
        with self._changed:
            while self._busy or self._waiting:
                self._changed.wait()
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._changed:
            self._busy = False
            self._changed.notify_all()


class Trainings:
    """The agent's trainings, over its JobManager: submit, run, finish (register, style), resume."""

    def __init__(self, manager: JobManager, registry_path: Path, styles: StyleBook, root: Path, device: str,
                 default_base: str | None = None) -> None:
        self.manager, self.registry_path, self.styles, self.root = manager, registry_path, styles, root
        self.device, self.default_base = device, default_base
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="underpaint-training")
        self._checked: dict[str, Checked] = {}

    @property
    def registry(self) -> ModelRegistry:
        from underpaint.engines.diffusers.registry import ModelRegistry

        return ModelRegistry(self.registry_path)

    def submit(self, job_id: str, recipe: TrainingRecipe, dataset: Path, client: str, source: str,
               previews: bool = True, owner: str | None = None) -> Job:
        """Check the training (RequestError when it cannot run), keep its dataset and request, queue it."""
        from underpaint.training.run import check_training

        if not self.manager.is_free(job_id):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT, f"Job id '{job_id}' is already taken.", job_id)
        checked = check_training(recipe, dataset, self.registry, self.default_base)
        folder = self.root / job_id
        folder.mkdir(parents=True, exist_ok=True)
        if dataset.resolve() != (folder / "dataset").resolve():
            shutil.rmtree(folder, ignore_errors=True)
            _copy_dataset(dataset, folder / "dataset", [image.name for image in checked.dataset.images])
            checked = check_training(recipe, folder / "dataset", self.registry, self.default_base)
        request = {"recipe": checked.recipe.model_dump(mode="json"), "client": client, "source": source,
                   "previews": previews}
        (folder / REQUEST_FILE).write_text(json.dumps(request, indent=2) + "\n", encoding="utf-8")
        spec = JobSpec(job_id, Mode.GENERATE, _sample_params(checked.recipe, None), _side(checked),
                       Rect(x=0, y=0, width=_side(checked).width, height=_side(checked).height), source=source,
                       client=client)
        self._checked[job_id] = checked
        return self.manager.submit(spec, TRAINING_ENGINE, owner or client, checked.dataset.sha256,
                                   {"train": request}, "png", previews, work=self._run)

    def resume_interrupted(self) -> list[str]:
        """Resubmit every training a stopped agent left unfinished (after `manager.start()`); their ids."""
        resumed = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if not (folder / REQUEST_FILE).is_file() or (folder / ENDED_FILE).exists():
                continue
            try:
                request = json.loads((folder / REQUEST_FILE).read_text(encoding="utf-8"))
                self.submit(folder.name, TrainingRecipe.model_validate(request["recipe"]), folder / "dataset",
                            request["client"], request["source"], bool(request.get("previews", True)))
                resumed.append(folder.name)
            except (RequestError, ValueError, KeyError, OSError) as exc:
                log.error("the training %s cannot resume: %s", folder.name, exc)
                (folder / ENDED_FILE).write_text(f"cannot resume: {exc}\n", encoding="utf-8")
        return resumed

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)

    async def _run(self, job: Job) -> None:
        from underpaint.training.run import run_training

        manager, loop = self.manager, asyncio.get_running_loop()
        checked = self._checked.pop(job.job_id)
        folder = self.root / job.job_id
        job.state = "running"
        manager.history.mark_running(job.job_id)
        events = _JobEvents(manager, job, loop)
        try:
            trained = await loop.run_in_executor(self._thread, run_training, checked, self.registry, folder,
                                                 self.device, events, job.cancel, manager.turn.training_step)
            style = self._style(trained, checked)
        except JobCancelled:
            if manager.closing:
                return  # the agent is stopping: the next one resumes this training
            (folder / ENDED_FILE).write_text("cancelled\n", encoding="utf-8")
            manager.end_job(job, "cancelled", lambda seq: Cancelled(job_id=job.job_id, seq=seq))
            return
        except RequestError as exc:
            (folder / ENDED_FILE).write_text(f"{exc.code}\n", encoding="utf-8")
            manager.fail_job(job, exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("training %s failed", job.job_id)
            (folder / ENDED_FILE).write_text("failed\n", encoding="utf-8")
            manager.fail_job(job, ErrorCode.ENGINE_FAILED, f"The training failed: {exc}.")
            return
        (folder / ENDED_FILE).write_text("done\n", encoding="utf-8")
        recipe = _sample_recipe(checked, trained)
        info = TrainedInfo(lora=trained.entry.name, style=style.name, file=str(trained.trained.path),
                           report={key: str(path) for key, path in trained.report.items()},
                           steps=trained.trained.steps, seconds=trained.trained.seconds, device=trained.device,
                           last_loss=trained.trained.losses[-1], resumed_from=trained.trained.resumed_from)
        manager.end_job(job, "done", lambda seq: Done(job_id=job.job_id, seq=seq, recipe=recipe, downloads=None,
                                                      trained=info),
                        recipe=recipe, files={"lora": info.file, **info.report})

    def _style(self, trained: TrainedLora, checked: Checked) -> Style:
        """The style of the new LoRA: its trigger word leads the prompt, the LoRA at weight 1, on its base."""
        recipe = checked.recipe
        style = Style(name=recipe.name, description=f"Trained by Underpaint on {len(checked.dataset.images)} "
                                                    f"images ({recipe.steps} steps on {checked.base.name}).",
                      prompt=f"{recipe.trigger}, {PLACEHOLDER}", engine="diffusers", model=checked.base.name,
                      loras=(LoraRef(name=trained.entry.name, weight=1.0, sha256=trained.entry.sha256),))
        self.styles.add(style, replace=True)
        return style


class _JobEvents:
    """The trainer's progress and samples as the job's events, handed to the event loop."""

    def __init__(self, manager: JobManager, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self.manager, self.job, self.loop = manager, job, loop

    def progress(self, report: StepReport) -> None:
        job = self.job

        def emit() -> None:
            job.log.append(lambda seq: Progress(job_id=job.job_id, seq=seq, variant=0, step=report.step,
                                                steps=report.steps, fraction=report.step / report.steps,
                                                loss=report.loss, eta_seconds=report.eta_seconds))

        self.loop.call_soon_threadsafe(emit)

    def samples(self, step: int, images: list[np.ndarray]) -> None:
        job = self.job
        if not job.previews:
            return
        for index, image in enumerate(images):
            blob, frames = preview_blob(job.job_id, index, image, self.manager.chunk_bytes)

            def emit(index: int = index, blob: Any = blob, frames: tuple[bytes, ...] = frames) -> None:
                job.log.append(lambda seq: Preview(job_id=job.job_id, seq=seq, variant=index, step=step,
                                                   image=blob), frames)

            self.loop.call_soon_threadsafe(emit)


def _copy_dataset(source: Path, target: Path, images: list[str]) -> None:
    """The usable images with their captions and masks: the training's own copy, which outlives the source."""
    target.mkdir(parents=True, exist_ok=True)
    for name in images:
        stem = Path(name).stem
        for file in (source / name, source / (stem + CAPTION_SUFFIX), source / (stem + MASK_SUFFIX)):
            if file.is_file():
                shutil.copyfile(file, target / file.name)


def _side(checked: Checked) -> Size:
    width, height = checked.dataset.images[0].bucket
    return Size(width=width, height=height)


def _sample_params(recipe: TrainingRecipe, lora: LoraRef | None) -> Params:
    return Params(engine="diffusers", model=recipe.base, prompt=recipe.trigger, variants=len(recipe.sample_seeds),
                  seed=recipe.sample_seeds[0], steps=recipe.sample_steps, loras=(lora,) if lora else ())


def _sample_recipe(checked: Checked, trained: TrainedLora) -> Recipe:
    """A generate recipe on the new LoRA: what the next job made with it would carry."""
    side = _side(checked)
    lora = LoraRef(name=trained.entry.name, weight=1.0, sha256=trained.entry.sha256)
    return Recipe(engine="diffusers", model=ModelRef(name=checked.base.name, sha256=checked.base.sha256),
                  mode=Mode.GENERATE, params=_sample_params(checked.recipe, lora),
                  seeds=list(checked.recipe.sample_seeds), document=side,
                  region=Rect(x=0, y=0, width=side.width, height=side.height), style=checked.recipe.name)
