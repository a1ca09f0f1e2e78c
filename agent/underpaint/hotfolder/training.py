"""Hot-folder trainings: a folder dropped into in/ holding `train.json` trains a LoRA from its images.

`train.json` holds the training recipe's fields (`name` defaults to the folder's name), e.g.
`{"trigger": "acmestyle", "steps": 1500}`. The folder is claimed into processing/<job id>/ and
queued through the agent's trainings (source `hotfolder`, so it shows in `underpaint jobs`). When it
is done, out/<name>/ receives the LoRA, its report (loss curve, sample grid, numbers) and the
originals go to done/<name>/; a refused or failed training moves them to failed/<name>/ with
<name>.error.json saying why. A training still running when the agent stops resumes with the agent
(jobs/training.py); the next start follows it again from processing/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from underpaint.core import ErrorCode, RequestError
from underpaint.core.errors import request_error_from
from underpaint.jobs.events import Event
from underpaint.jobs.manager import JobManager
from underpaint.training.recipe import TrainingRecipe
from underpaint.wire.messages import Cancelled, Done, Error

from .layout import Group, Layout, new_id
from .outputs import move_originals, reserve_out_dir, write_error

log = logging.getLogger(__name__)
TRAIN_FILE = "train.json"
PREFIX = "train-"
OWNER = "hotfolder"
MAX_TRAIN_FILE = 64 * 1024


def is_training(layout: Layout, group: Group) -> bool:
    return group.kind == "folder" and (layout.inbox / group.name / TRAIN_FILE).is_file()


class HotTrainings:
    """Claims training folders, queues them, and files what they made."""

    def __init__(self, layout: Layout, manager: JobManager,
                 spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.layout, self.manager, self.spawn = layout, manager, spawn

    def claim(self, group: Group) -> str:
        """Move the folder into processing/ and queue its training (or fail it, saying why)."""
        job_id = new_id(group.name, PREFIX)
        folder = self.layout.processing / job_id
        self.layout.processing.mkdir(parents=True, exist_ok=True)
        os.rename(self.layout.inbox / group.name, folder)
        try:
            recipe = self._recipe(folder, group.name)
            if self.manager.trainings is None:
                raise RequestError(ErrorCode.UNSUPPORTED_FEATURE, "This agent does not train.")
            self.manager.trainings.submit(job_id, recipe, folder, OWNER, "hotfolder")
        except RequestError as exc:
            self._failed(job_id, exc.code, exc.message)
            return job_id
        self._follow(job_id)
        return job_id

    def recover(self) -> set[str]:
        """Follow again the trainings a stopped agent left in processing/ (the agent resumed them); their
        folders' names."""
        found = set()
        for folder in sorted(self.layout.processing.glob(f"{PREFIX}*")):
            if folder.is_dir() and (folder / TRAIN_FILE).is_file():
                found.add(folder.name)
                if folder.name in self.manager.jobs:
                    self._follow(folder.name)
                else:
                    self._failed(folder.name, ErrorCode.AGENT_RESTARTED, "The agent could not resume this "
                                 "training; drop the folder again.")
        return found

    def _recipe(self, folder: Path, name: str) -> TrainingRecipe:
        path = folder / TRAIN_FILE
        if path.stat().st_size > MAX_TRAIN_FILE:
            raise RequestError(ErrorCode.BAD_TRAINING, f"{TRAIN_FILE} is larger than {MAX_TRAIN_FILE} bytes.")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(ErrorCode.BAD_TRAINING, f"{TRAIN_FILE} is not JSON: {exc}.") from None
        if not isinstance(values, dict):
            raise RequestError(ErrorCode.BAD_TRAINING, f"{TRAIN_FILE} must hold a JSON object of training fields.")
        try:
            return TrainingRecipe.model_validate({"name": name} | values)
        except ValidationError as exc:
            error = request_error_from(exc, None, TRAIN_FILE)
            code = ErrorCode.BAD_TRAINING if error.code == ErrorCode.INVALID_MESSAGE else error.code
            raise RequestError(code, error.message) from None

    def _follow(self, job_id: str) -> None:
        def subscriber(event: Event) -> None:
            message = event.message
            if isinstance(message, Done) and message.trained is not None:
                self.spawn(asyncio.to_thread(self._file_done, job_id, message))
            elif isinstance(message, Error | Cancelled):
                code = message.code if isinstance(message, Error) else "cancelled"
                text = message.message if isinstance(message, Error) else "The training was cancelled."
                self.spawn(asyncio.to_thread(self._failed, job_id, code, text))

        self.manager.attach(job_id, 0, subscriber)

    def _file_done(self, job_id: str, done: Done) -> None:
        assert done.trained is not None
        out = reserve_out_dir(self.layout.out, done.trained.lora)
        for path in (done.trained.file, *done.trained.report.values()):
            shutil.copyfile(path, out / Path(path).name)
        move_originals(self.layout.processing / job_id, self.layout.done / done.trained.lora, done.trained.lora)
        shutil.rmtree(self.layout.processing / job_id, ignore_errors=True)

    def _failed(self, job_id: str, code: str, message: str) -> None:
        source = self.layout.processing / job_id
        name = job_id.removeprefix(PREFIX).rsplit("-", 1)[0] or job_id
        files = sorted(p.name for p in source.iterdir()) if source.is_dir() else []
        target = self.layout.failed / name
        stem = move_originals(source, target, name)
        write_error(target, stem, code, message, job_id, files)
        shutil.rmtree(source, ignore_errors=True)
        log.warning("hot-folder training %s failed: %s", job_id, message)
