"""The hot folder service: watch in/, claim ready jobs, feed the agent's one queue, file the results.

It holds no generation logic: each job becomes a JobSpec (hotfolder.intake ->
jobs.intake) submitted to the shared JobManager as owner "hotfolder", so it
shows in `underpaint jobs` and the history beside websocket jobs. At most
`MAX_IN_FLIGHT` hot-folder jobs sit in the agent's queue at once; the rest
wait in in/ (or processing/ after a restart), so a drop of hundreds of files
never fills the queue that plugins share. A folder holding set.json is a set
(hotfolder.sets): its images become member jobs like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from underpaint.config import Settings
from underpaint.core import ErrorCode, RequestError
from underpaint.jobs.events import Event
from underpaint.jobs.manager import JobManager
from underpaint.results.delivery.library import PresetLibrary
from underpaint.results.delivery.preset import Preset
from underpaint.wire.messages import Cancelled, Done, Error, Progress

from .intake import BuiltJob, HotFolderError, RecipeFile, build_job, find_files
from .journal import Journal, JournalRow
from .layout import Group, Layout, Tracker, classify, new_id
from .lock import FolderLock
from .outputs import (
    move_in,
    move_originals,
    output_stem,
    reserve_out_dir,
    write_delivery,
    write_error,
    write_outputs,
)
from .sets import Sets
from .training import HotTrainings, is_training

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 4
MAX_ATTEMPTS = 3
"""A job that was running when the agent died this many times is failed, not re-queued again."""
OWNER = "hotfolder"
_CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed"})


class HotFolder:
    def __init__(self, root: Path, manager: JobManager, settings: Settings) -> None:
        self.layout = Layout(root.resolve())
        self.manager = manager
        self.settings = settings
        self.poll = settings.hot_folder_poll
        self.tracker = Tracker(self.layout.inbox, settings.hot_folder_stable_seconds,
                               settings.hot_folder_max_wait_seconds, trust_mtime=self.poll is None)
        self.journal: Journal | None = None
        self.sets: Sets | None = None
        self._lock = FolderLock(self.layout.root)
        self._wake = asyncio.Event()
        self._pending: deque[str] = deque()
        self._in_flight: set[str] = set()
        self._started: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._observer: BaseObserver | None = None
        self._stopping = False
        self.trainings = HotTrainings(self.layout, manager, self._spawn)

    # lifecycle

    async def start(self) -> None:
        self.layout.create()
        self._lock.acquire()
        self.journal = Journal(self.settings.history_path, self.layout.root)
        self.sets = Sets(self.layout, self.journal)
        self._recover()
        loop = asyncio.get_running_loop()
        observer = PollingObserver(timeout=self.poll) if self.poll else Observer()
        observer.schedule(_Waker(loop, self._wake), str(self.layout.inbox), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._pump = asyncio.create_task(self._run(), name="underpaint-hotfolder")
        log.info("watching hot folder %s (%s)", self.layout.root,
                 f"polling every {self.poll} s" if self.poll else "native events")

    async def stop(self) -> None:
        """Stop watching; jobs not finished stay in processing/ and are re-queued at the next start."""
        self._stopping = True
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join, 5)
        tasks = [t for t in (self._pump, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        # Python 3.11's wait_for can swallow a cancel that races its timeout; the loop also
        # checks _stopping, and shutdown never waits on a task forever.
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        if self.journal is not None:
            self.journal.close()
        self._lock.release()

    # the loop

    async def _run(self) -> None:
        tick = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=tick)
            self._wake.clear()
            try:
                tick = await self._step()
            except Exception:
                log.exception("hot folder step failed; retrying")
                tick = 1.0

    async def _step(self) -> float:
        """One pass: submit what waits, claim what is ready; returns how long to sleep."""
        while self._pending and self._has_room():
            if not await self._submit(self._pending.popleft()):
                break
        verdict = await asyncio.to_thread(self.tracker.scan)
        for group in verdict.growing:
            await self._claim_and_fail(group, "still_growing", "This file kept changing for "
                                       f"{self.settings.hot_folder_max_wait_seconds:g} s, so it was never complete.")
        for group in verdict.orphans:
            await self._claim_and_fail(group, "missing_image", "This mask or recipe has no image with the same "
                                       "name; drop the image beside it (or put all files in one folder).")
        claimed_all = True
        for group in verdict.ready:
            if not self._has_room() or self._pending:
                claimed_all = False
                break
            if is_training(self.layout, group):
                self.tracker.forget(group.members)
                self.trainings.claim(group)
                continue
            if self._sets().is_set(group):
                self.tracker.forget(group.members)
                self._pending.extend(self._sets().claim(group))
                continue
            job_id = self._claim(group)
            if job_id is not None and not await self._submit(job_id):
                claimed_all = False
                break
        busy = verdict.waiting or verdict.growing or not claimed_all
        if busy and self._has_room():
            return max(0.05, min(0.25, self.settings.hot_folder_stable_seconds / 4))
        return self.settings.hot_folder_rescan_seconds

    def _has_room(self) -> bool:
        return len(self._in_flight) < MAX_IN_FLIGHT

    # claiming: an atomic rename of each file into processing/<job id>/

    def _claim(self, group: Group) -> str | None:
        journal = self._journal()
        members = list(group.members)
        for name in members:
            try:
                if (self.layout.inbox / name).is_file():
                    with (self.layout.inbox / name).open("rb"):
                        pass
            except OSError:
                return None  # still locked by its writer (Windows shares): try again later
        job_id = new_id(group.name, "hf-")
        journal.add(job_id, group.name, members)
        job_dir = self.layout.processing / job_id
        job_dir.mkdir(parents=True)
        moved = move_in(members, self.layout.inbox, job_dir, "claiming")
        self.tracker.forget(group.members)
        if not moved:
            shutil.rmtree(job_dir, ignore_errors=True)
            journal.set_state(job_id, "failed")
            return None
        journal.set_state(job_id, "claimed")
        return job_id

    def _origin(self, row: JournalRow) -> Path:
        """Where a job's files were claimed from: in/, or its set's folder."""
        return self.layout.inbox if row.set_id is None else self._sets().folder(row.set_id)

    async def _claim_and_fail(self, group: Group, code: str, message: str) -> None:
        job_id = self._claim(group)
        if job_id is not None:
            await self._fail(job_id, code, message)

    # submitting to the agent's queue

    async def _submit(self, job_id: str) -> bool:
        """False when the agent's queue is full (the job stays pending)."""
        row = self._journal().get(job_id)
        assert row is not None
        agent_id = self._agent_job_id(job_id)
        try:
            built = await asyncio.to_thread(self._build, row, agent_id)
        except HotFolderError as exc:
            await self._fail(job_id, exc.code, exc.message)
            return True
        except Exception as exc:
            log.exception("building hot folder job %s failed", job_id)
            await self._fail(job_id, ErrorCode.INTERNAL, f"The agent hit an internal error reading this job ({exc}).")
            return True
        try:
            self.manager.submit(built.spec, built.engine, OWNER, built.digest, built.request)
        except RequestError as exc:
            if exc.code == ErrorCode.QUEUE_FULL:
                self._pending.appendleft(job_id)
                return False
            await self._fail(job_id, exc.code, exc.message)
            return True
        self._journal().submitted(job_id, agent_id)
        self._in_flight.add(job_id)
        self.manager.attach(agent_id, 0, lambda event: self._on_event(job_id, agent_id, event))
        return True

    def _agent_job_id(self, job_id: str) -> str:
        """The job id in the agent's queue: the hot folder id, then `<id>.2`, ... for re-queued runs."""
        candidate, attempt = job_id, 1
        while self.manager.known_digest(candidate) is not None:
            attempt += 1
            candidate = f"{job_id}.{attempt}"
        return candidate

    def _build(self, row: JournalRow, agent_id: str) -> BuiltJob:
        job_dir = self.layout.processing / row.job_id
        members = sorted(p.name for p in job_dir.iterdir())
        for member in members:
            if (job_dir / member).is_symlink() and (job_dir / member).is_dir():
                # Refused before anything looks inside: the error file must not list another folder's files.
                raise HotFolderError("linked_folder", f"{member} is a link to a folder, and links to folders are "
                                     "not followed; drop the folder itself.")
        kind = "folder" if len(members) == 1 and (job_dir / members[0]).is_dir() else "files"
        files = find_files(job_dir, members, kind, self._origin(row))
        below = [RecipeFile(self.layout.defaults, (self.layout.root,))]
        if row.set_id is not None:
            below.append(self._sets().recipe(row.set_id))
        return build_job(agent_id, row.name, files, self.layout.root, below, self.manager.intake, row.set_id,
                         PresetLibrary(self.settings.presets_dir))

    def _on_event(self, job_id: str, agent_id: str, event: Event) -> None:
        if self._stopping:
            return
        message = event.message
        if isinstance(message, Progress) and job_id not in self._started:
            self._started.add(job_id)
            self._journal().started(job_id)
        elif isinstance(message, Done):
            self._spawn(self._finish(job_id, agent_id, message))
        elif isinstance(message, Error):
            self._spawn(self._fail(job_id, message.code, message.message))
        elif isinstance(message, Cancelled):
            self._spawn(self._fail(job_id, "cancelled", "The job was cancelled before it finished."))

    # endings

    async def _finish(self, job_id: str, agent_id: str, done: Done) -> None:
        journal = self._journal()
        await self.manager.wait_for_files(agent_id)
        job = self.manager.jobs.get(agent_id)
        if job is None or job.saved is None:
            await self._fail(job_id, ErrorCode.INTERNAL, "The agent could not write this job's result files.")
            return
        row = journal.get(job_id)
        assert row is not None
        stem = output_stem(row.name, len(job.saved.variants))
        warnings = list(done.warnings)
        if stem != row.name:
            warnings.append(f"The name {row.name} is too long for these file names, so the outputs are named {stem}.")
        try:
            out_dir = Path(row.out_dir) if row.out_dir else reserve_out_dir(self._sets().destinations(row)[0], stem)
            journal.set_out_dir(job_id, out_dir)
            presets = self._delivery(agent_id)
            if presets:
                warnings += await asyncio.to_thread(write_delivery, job.saved, out_dir, stem, presets,
                                                    self.manager.store.credentials)
            await asyncio.to_thread(write_outputs, job.saved, done.recipe, out_dir, stem, warnings,
                                    self.manager.store.credentials)
        except RequestError as exc:  # a delivery preset edited since intake, or a target size out of reach
            await self._fail(job_id, exc.code, exc.message)
            return
        except OSError as exc:
            await self._fail(job_id, "write_failed", f"The agent could not write this job's outputs ({_why(exc)}); "
                             "once out/ can take them, move the originals back into in/ to try again.")
            return
        journal.set_state(job_id, "finishing")
        await self._file_done(row)

    def _delivery(self, agent_id: str) -> list[Preset]:
        """The delivery presets the job's recipe listed (`delivery`, kept with its request)."""
        row = self.manager.history.get(agent_id)
        names = json.loads(row["request_json"]).get("delivery", []) if row is not None else []
        library = PresetLibrary(self.settings.presets_dir)
        return [library.get(name) for name in names]

    async def _file_done(self, row: JournalRow) -> None:
        try:
            await asyncio.to_thread(move_originals, self.layout.processing / row.job_id,
                                    self._sets().destinations(row)[1], row.name)
        except OSError as exc:
            await self._fail(row.job_id, "move_failed", f"The originals could not be moved to done/ ({_why(exc)}), "
                             "so the outputs were removed; once done/ can take them, move the originals back "
                             "into in/ to try again.")
            return
        self._journal().set_state(row.job_id, "done")
        self._ended(row.job_id)

    async def _fail(self, job_id: str, code: str, message: str) -> None:
        journal = self._journal()
        journal.failing(job_id, code, message)
        row = journal.get(job_id)
        assert row is not None
        try:
            failed = self._sets().destinations(row)[2]
            await asyncio.to_thread(self._file_failed, row, failed, code, message)
        except OSError:
            # Not even failed/ takes it: it stays in processing/, journalled as failing, and the next
            # start files it. Its slot is freed all the same, so later jobs go on.
            log.exception("hot folder job %s (%s) could not be filed in failed/", job_id, row.name)
        else:
            journal.set_state(job_id, "failed")
            log.info("hot folder job %s (%s) failed: %s %s", job_id, row.name, code, message)
        finally:
            self._ended(job_id)

    def _file_failed(self, row: JournalRow, failed: Path, code: str, message: str) -> None:
        """Runs in a worker thread: `failed` (hotfolder.sets knows it) comes from the loop, as the journal does."""
        stem = move_originals(self.layout.processing / row.job_id, failed, row.name)
        write_error(failed, stem, str(code), message, row.job_id, row.members)
        if row.out_dir:
            shutil.rmtree(row.out_dir, ignore_errors=True)

    def _ended(self, job_id: str) -> None:
        self._in_flight.discard(job_id)
        self._started.discard(job_id)
        self._wake.set()
        row = self._journal().get(job_id)
        if row is not None and row.set_id is not None:
            self._sets().end_if_complete(row.set_id)

    # restart

    def _recover(self) -> None:
        """Finish what a dead agent left: every unfinished journal entry is re-queued or filed exactly once."""
        journal = self._journal()
        known = set()
        for row in journal.unfinished():
            known.add(row.job_id)
            job_dir = self.layout.processing / row.job_id
            if row.state == "claiming":
                job_dir.mkdir(parents=True, exist_ok=True)
                if not move_in(row.members, self._origin(row), job_dir, "claiming"):
                    shutil.rmtree(job_dir, ignore_errors=True)
                    journal.set_state(row.job_id, "failed")
                    continue
                journal.set_state(row.job_id, "claimed")
            if row.state in ("claiming", "claimed", "submitted"):
                if row.attempts >= MAX_ATTEMPTS:
                    self._spawn(self._fail(row.job_id, "agent_crashed", f"The agent stopped during this job "
                                           f"{row.attempts} times, so it is not tried again."))
                else:
                    log.info("re-queueing hot folder job %s (%s)", row.job_id, row.name)
                    self._pending.append(row.job_id)
            elif row.state == "finishing":
                self._spawn(self._file_done(row))
            elif row.state == "failing":
                self._spawn(self._fail(row.job_id, row.error_code or ErrorCode.INTERNAL, row.error_message or ""))
        set_folders, split_off = self._sets().recover()
        known |= set_folders | set(split_off) | self.trainings.recover()
        self._pending.extend(split_off)
        for entry in sorted(self.layout.processing.iterdir()):
            if entry.name in known:
                continue
            if entry.is_dir():  # a job folder the journal does not know (e.g. copied here): adopt it
                job_id = new_id(entry.name, "hf-")
                members = sorted(p.name for p in entry.iterdir())
                name = classify(members[0])[0] if len(members) == 1 else entry.name
                journal.add(job_id, name, members)
                os.rename(entry, self.layout.processing / job_id)
                journal.set_state(job_id, "claimed")
                self._pending.append(job_id)
            elif not os.path.lexists(self.layout.inbox / entry.name):  # a loose file: back to in/
                os.rename(entry, self.layout.inbox / entry.name)

    # helpers

    def _journal(self) -> Journal:
        assert self.journal is not None, "the hot folder is not started"
        return self.journal

    def _sets(self) -> Sets:
        assert self.sets is not None, "the hot folder is not started"
        return self.sets

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hot folder task failed", exc_info=task.exception())


class _Waker(FileSystemEventHandler):
    """Any change under in/ wakes the loop; the scan, not the event, decides what to do."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> None:
        self.loop = loop
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return  # opens and read-only closes: our own scans make these
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self.wake.set)


def _why(exc: OSError) -> str:
    """`Not a directory (/path)`: the OS's reason and where, for the error file."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"

