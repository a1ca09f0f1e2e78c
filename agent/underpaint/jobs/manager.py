"""The job manager: one fair queue feeding as many jobs at once as it has lanes, events per job.

Everything here runs on the event loop thread except the pipeline (on its lane's thread, see
jobs/lanes.py and jobs/runner.py) and the file sinks, which run in their own single-thread
executor and hand events back with `call_soon_threadsafe`, and the reading of saved results for
a replay after a restart. The single-process agent has one lane (a GPU runs one job at a time
anyway); a studio gateway one per worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from underpaint.core import RETRYABLE, ErrorCode, JobSpec, RequestError
from underpaint.engines.base import CancelToken
from underpaint.imaging.codec import encode_png, raw_bytes
from underpaint.jobs.events import Event, EventArchive, EventLog, Subscriber
from underpaint.jobs.history import HistoryStore
from underpaint.jobs.intake import Intake
from underpaint.jobs.lanes import Lanes, Lease, LocalLanes, NoWorkers
from underpaint.jobs.queue import FairQueue, OwnerFull, QueueFull, UserFull
from underpaint.jobs.runner import JobRunner
from underpaint.jobs.training import TRAINING_MODE, DeviceTurn, Trainings
from underpaint.results.layered import LayeredResult
from underpaint.results.recipe import Recipe
from underpaint.results.store import PSD_MANIFEST_NAME, ResultStore, SavedResult
from underpaint.wire.frames import chunk_frames
from underpaint.wire.messages import (
    Accepted,
    Blob,
    Cancelled,
    Done,
    Downloads,
    Error,
    JobEvent,
    JobSummary,
    Result,
)

log = logging.getLogger(__name__)
ResultFormat = Literal["raw", "png"]
# Finished jobs stay resumable in full while their result frames fit `resume_bytes`
# (the newest always does), then without their pixels for a while, then only from the history.
_KEEP_JOBS = 256
# The hot folder's jobs belong to a shared folder, whose outputs anyone can open: every client sees them.
_SHARED_SOURCE = "hotfolder"


@dataclass(eq=False)
class Job:
    spec: JobSpec
    engine: str
    owner: str
    digest: str
    result_format: ResultFormat
    previews: bool
    log: EventLog = field(default_factory=EventLog)
    cancel: CancelToken = field(default_factory=CancelToken)
    state: str = "queued"
    saved: SavedResult | None = None
    files_ready: asyncio.Event = field(default_factory=asyncio.Event)
    work: Callable[[Job], Coroutine[Any, Any, None]] | None = None
    """Work other than the pipeline (a training, jobs/training.py): the worker starts it and moves on."""
    user: str | None = None
    """The named user who submitted it (None: the pairing token, the hot folder, the agent's own doors)."""

    @property
    def job_id(self) -> str:
        return self.spec.job_id


def known_code(code: str | None, fallback: ErrorCode) -> ErrorCode:
    try:
        return ErrorCode(code or fallback)
    except ValueError:
        return fallback


def downloads(job_id: str, variants: int, manifest: bool) -> Downloads:
    return Downloads(
        psd=f"/v1/jobs/{job_id}/result.psd",
        variants=[f"/v1/jobs/{job_id}/variant-{i + 1}.png" for i in range(variants)],
        manifest=f"/v1/jobs/{job_id}/{PSD_MANIFEST_NAME}" if manifest else None,
    )


class JobManager:
    def __init__(
        self,
        intake: Intake,
        store: ResultStore,
        history: HistoryStore,
        queue_size: int,
        chunk_bytes: int,
        resume_bytes: int = 256 * 1024 * 1024,
        lanes: Lanes | None = None,
    ) -> None:
        """`lanes`: where jobs' engine steps run; None runs them here, on `intake`'s engines."""
        self.intake = intake
        self.resume_bytes = resume_bytes
        self.engines = intake.engines
        self.store = store
        self.history = history
        self.chunk_bytes = chunk_bytes
        self.queue: FairQueue[Job] = FairQueue(queue_size)
        self.jobs: dict[str, Job] = {}
        self.running: dict[str, Job] = {}
        self.turn = DeviceTurn()
        self.lanes: Lanes = lanes or LocalLanes(self.engines, self.turn)
        self.runner = JobRunner(self)
        self.closing = False
        self.trainings: Trainings | None = None
        """Set by the agent's wiring (jobs/runtime.py) where trainings can run."""
        self._finished: deque[Job] = deque()
        self._sink_thread = ThreadPoolExecutor(1, thread_name_prefix="underpaint-sinks")
        self._worker: asyncio.Task[None] | None = None
        self._running_tasks: set[asyncio.Task[None]] = set()
        # Writing a job's files and replaying an earlier run's job: close() lets them finish.
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        interrupted = self.history.fail_interrupted(
            ErrorCode.AGENT_RESTARTED, "The agent stopped while this job was queued or running; submit it again.")
        if interrupted:
            log.warning("marked %d interrupted job(s) as failed: %s", len(interrupted), interrupted)
        await asyncio.get_running_loop().run_in_executor(self._sink_thread, self._tidy_store, interrupted)
        await self.lanes.start()
        self._worker = asyncio.create_task(self._work(), name="underpaint-worker")

    def _tidy_store(self, interrupted: list[str]) -> None:
        """On the sink thread, before any job runs: what a killed agent left half-written goes (a job
        cut short keeps none of its files, as a failed one), then the user's age/size policy."""
        for job_id in interrupted:
            self.store.discard(job_id)
        removed = self.store.remove_unfinished_writes()
        if removed:
            log.warning("removed %d temporary file(s) of writes cut short", removed)
        self.store.cleanup()

    async def close(self) -> None:
        self.closing = True
        for job in self.jobs.values():
            if job.state == "running":
                job.cancel.cancel()
        # As a killed agent would leave them: the next start reports running jobs as interrupted.
        for task in [*self._running_tasks, *([self._worker] if self._worker else [])]:
            task.cancel()
        await asyncio.gather(*self._running_tasks, *([self._worker] if self._worker else []), return_exceptions=True)
        # A job whose files are being written still ends (done or failed) in the history.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.lanes.close()
        self._sink_thread.shutdown(wait=True)

    # front-door API

    def submit(self, spec: JobSpec, engine: str, owner: str, digest: str, request: dict[str, Any],
               result_format: ResultFormat = "raw", previews: bool = False, owner_limit: int | None = None,
               work: Callable[[Job], Coroutine[Any, Any, None]] | None = None) -> Job:
        """Queue a new job under a free id (see `claim`); a retry replaces its id's failed run.
        `owner_limit` caps the owner's waiting jobs; None (the agent's own front doors) leaves it open."""
        if not self.is_free(spec.job_id):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT, f"Job id '{spec.job_id}' is already taken.", spec.job_id)
        job = Job(spec, engine, owner, digest, result_format, previews, work=work, user=self.queue.user_of(owner))
        try:
            self.queue.put(owner, job.job_id, job, owner_limit)
        except UserFull as exc:
            raise RequestError(
                ErrorCode.USER_QUEUE_FULL,
                f"You already have {exc.args[0]} jobs waiting, as many as your user may; "
                "submit more when some have started.", spec.job_id,
            ) from None
        except OwnerFull:
            raise RequestError(
                ErrorCode.CLIENT_QUEUE_FULL,
                f"This connection already holds its share of the queue ({owner_limit} waiting); "
                "submit more when some have started.", spec.job_id,
            ) from None
        except QueueFull:
            raise RequestError(
                ErrorCode.QUEUE_FULL,
                f"The queue is full ({self.queue.max_size} jobs waiting); try again when some have finished.",
                spec.job_id,
            ) from None
        self._forget_failed_run(spec.job_id)
        self.jobs[job.job_id] = job
        self.history.add(job.job_id, TRAINING_MODE if work else spec.mode, spec.params.prompt,
                         spec.params.variants, spec.client, spec.source, request, digest, spec.set_id, job.user)
        position = self.queue.position(job.job_id) or 0
        job.log.append(lambda seq: Accepted(job_id=job.job_id, seq=seq, queue_position=position))
        self._archive(job)
        return job

    def known_digest(self, job_id: str) -> str | None:
        if job_id in self.jobs:
            return self.jobs[job_id].digest
        row = self.history.get(job_id)
        return None if row is None else str(row["request_digest"])

    def claim(self, job_id: str, client: str | None = None, user: str | None = None) -> str | None:
        """What a submit of `job_id` from `client` (or `user`) must match to be a duplicate: None when the
        id is free (never used, or its run failed in a way a retry can fix). Another client's id is taken."""
        digest = self.known_digest(job_id)
        if digest is None:
            return None
        if not self.visible(job_id, client, user):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT,
                               f"Job id '{job_id}' is already taken; choose a new id.", job_id)
        return None if self.is_free(job_id) else digest

    def visible(self, job_id: str, client: str | None, user: str | None = None) -> bool:
        """Whether a client may see a job: the hot folder's, and its own. A named `user` owns every job
        they submitted, from any connection or plugin; without one, a client owns the jobs of no user
        under its client name (so a plugin that reconnects keeps its jobs). `client` and `user` None is
        an admin or the agent's own front doors, which see every job."""
        job = self.jobs.get(job_id)
        if job is not None:
            owner, source, job_user = job.spec.client, job.spec.source, job.user
        elif (row := self.history.get(job_id)) is not None:
            owner, source, job_user = row["client"], row["source"], row["user"]
        else:
            return False
        if source == _SHARED_SOURCE:
            return True
        if user is not None:
            return bool(job_user == user)
        return client is None or (job_user is None and owner == client)

    def is_free(self, job_id: str) -> bool:
        """Whether a new run may take `job_id`: never used, or its last run ended in a retryable error."""
        row = self.history.get(job_id)
        return row is None or bool(row["state"] == "error" and row["error_code"] in RETRYABLE)

    def _forget_failed_run(self, job_id: str) -> None:
        """A retry reuses the id: the failed run's job, events and history row go."""
        old = self.jobs.pop(job_id, None)
        if old is not None and old in self._finished:
            self._finished.remove(old)
        self.history.forget(job_id)

    def attach(self, job_id: str, after_seq: int, subscriber: Subscriber, client: str | None = None,
               user: str | None = None) -> None:
        """Replay events after `after_seq` and follow the job live; finished jobs from an
        earlier run of the agent replay their final message from the history. A job `client`
        (or `user`) may not see is unknown to it."""
        if not self.visible(job_id, client, user):
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' is known to this agent.", job_id)
        job = self.jobs.get(job_id)
        if job is not None:
            job.log.replay_and_subscribe(after_seq, subscriber)
            return
        row = self.history.get(job_id)
        if row is None:
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' is known to this agent.", job_id)
        self._spawn(self._replay_from_history(row, after_seq, subscriber))

    def detach(self, job_id: str, subscriber: Subscriber) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.log.unsubscribe(subscriber)

    def cancel(self, job_id: str, client: str | None = None, user: str | None = None) -> None:
        if not self.visible(job_id, client, user):
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' is known to this agent.", job_id)
        job = self.jobs.get(job_id)
        if job is None:
            return
        if job.state == "queued" and self.queue.remove(job_id) is not None:
            self.end_job(job, "cancelled", lambda seq: Cancelled(job_id=job_id, seq=seq))
        elif job.state == "running":
            job.cancel.cancel()

    def recent(self, limit: int, client: str | None = None, set_id: str | None = None,
               user: str | None = None) -> list[JobSummary]:
        """The newest jobs `client` (or `user`) may see (see `visible`), only those of `set_id` when given."""
        return self.history.recent(limit, client, _SHARED_SOURCE, set_id, user)

    async def wait_for_files(self, job_id: str) -> None:
        """Returns once a job whose files are being written has them (at once for other jobs)."""
        job = self.jobs.get(job_id)
        if job is not None and job.state == "saving":
            await job.files_ready.wait()

    # running jobs, as many at once as there are lanes

    async def _work(self) -> None:
        while True:
            await self.lanes.free()
            job = await self.queue.get()
            if job.work is not None:
                self._spawn(job.work(job))
                continue
            self.runner.start(job)
            # A job retried after losing its worker may have taken the free lane meanwhile.
            await self.lanes.free()
            try:
                lease = self.lanes.acquire(job.spec, job.engine)
            except NoWorkers:
                self.runner.no_workers(job)
                continue
            self.running[job.job_id] = job
            task = asyncio.get_running_loop().create_task(self._run(job, lease))
            self._running_tasks.add(task)
            task.add_done_callback(self._running_tasks.discard)

    async def _run(self, job: Job, lease: Lease) -> None:
        try:
            await self.runner.run(job, lease)
        except Exception:
            log.exception("job %s failed outside the pipeline", job.job_id)
            self.fail_job(job, ErrorCode.INTERNAL, "The agent hit an internal error; see its log.")
        finally:
            self.running.pop(job.job_id, None)

    def finish_job(self, job: Job, result: LayeredResult) -> None:
        """The runner's word that `job` made `result`: its files are written, then it ends `done`."""
        # `done` links the job's files, so it waits until they are on disk. The results went out
        # one by one already, and the worker starts the next job while these files are written.
        job.state = "saving"
        self._spawn(self._files_written(job, result))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _save(self, result: LayeredResult, job_id: str) -> SavedResult:
        """On the sink thread: the files, then the user's age/size policy (this job is kept)."""
        saved = self.store.save(result, job_id)
        removed = self.store.cleanup(keep={job_id})
        if removed:
            log.info("removed result files of %d old job(s)", len(removed))
        return saved

    async def _files_written(self, job: Job, result: LayeredResult) -> None:
        """Writes the job's files, then ends it: `done`, or an error when they could not be written."""
        try:
            saved = await asyncio.get_running_loop().run_in_executor(
                self._sink_thread, self._save, result, job.job_id)
        except OSError as exc:
            log.error("writing the files of job %s failed", job.job_id, exc_info=exc)
            self.fail_job(job, ErrorCode.RESULT_NOT_SAVED, f"The agent could not write this job's files "
                       f"({exc.strerror or exc}); make room on its disk and submit the job again.")
            return
        except Exception:
            log.exception("writing the files of job %s failed", job.job_id)
            self.fail_job(job, ErrorCode.INTERNAL, "The agent hit an internal error writing the files; see its log.")
            return
        job.saved = saved
        links = downloads(job.job_id, len(result.layers), saved.manifest is not None)
        self.end_job(job, "done", lambda seq: Done(job_id=job.job_id, seq=seq, recipe=result.recipe,
                                                downloads=links, warnings=result.warnings),
                  recipe=result.recipe, files={"psd": str(saved.psd), "variants": [str(p) for p in saved.variants],
                                               "recipe": str(saved.recipe)})

    def fail_job(self, job: Job, code: ErrorCode, message: str) -> None:
        """Ends `job` with an `error` of `code` (retryable as the code is)."""
        retry = code in RETRYABLE
        self.end_job(job, "error", lambda seq: Error(job_id=job.job_id, seq=seq, code=code, message=message,
                                                  retryable=retry),
                  error=(code, message))

    def end_job(self, job: Job, state: str, make: Any, recipe: Recipe | None = None,
                error: tuple[str, str] | None = None, files: dict[str, Any] | None = None) -> None:
        """Ends `job` in `state` with the message `make(seq)` makes, in its log and the history."""
        job.state = state
        # Whatever ran it, an ended job no longer counts against its user's concurrent jobs.
        self.queue.release(job.job_id)
        job.log.append(make)
        self.history.finish(job.job_id, state, job.log.last_seq,
                            recipe_json=recipe.model_dump_json() if recipe else None, files=files,
                            error_code=error[0] if error else None, error_message=error[1] if error else None)
        job.files_ready.set()
        job.spec = replace(job.spec, image=None, mask=None, control_images=(), reference_images=())
        self._finished.append(job)
        kept = 0
        for index, old in enumerate(reversed(self._finished)):
            kept += sum(len(frame) for event in old.log.events for frame in event.frames)
            if index and kept > self.resume_bytes:
                old.log.drop_pixels()
        while len(self._finished) > _KEEP_JOBS:
            self.jobs.pop(self._finished.popleft().job_id, None)

    def _archive(self, job: Job) -> None:
        """From now on the history keeps the job's events, those so far included."""
        job.log.replay_and_subscribe(0, EventArchive(self.history.save_events))

    async def _replay_from_history(self, row: Any, after_seq: int, subscriber: Subscriber) -> None:
        """A job of an earlier run of the agent: its kept events after `after_seq`, then its final
        message, numbered after whatever the client saw (a killed agent may have sent events it
        had not kept yet). The history's row, not a kept event, says how the job ended: an agent
        killed between the two writes leaves a kept `done` of a job the row calls interrupted."""
        kept = self.history.events(row["job_id"])
        earlier = [m for m in kept if (m.seq or 0) > after_seq and not isinstance(m, Done | Error | Cancelled)]
        seq = max(row["last_seq"], after_seq + 1)
        ending = next((m for m in kept if m.seq == row["last_seq"] and isinstance(m, Done | Error | Cancelled)), None)
        final = self._final_message_from_history(row, seq) if ending is None else ending.model_copy(update={"seq": seq})
        events = await asyncio.get_running_loop().run_in_executor(
            None, self._with_pixels, row["job_id"], [*earlier, final])
        for event in events:
            subscriber(event)

    def _with_pixels(self, job_id: str, messages: list[JobEvent]) -> list[Event]:
        """Off the event loop: kept messages as events, results with frames made again from the
        job's PSD. Results whose files are gone (pruned, or never all written) are left out."""
        layers: list[tuple[np.ndarray, np.ndarray]] = []
        if any(isinstance(m, Result) for m in messages):
            try:
                layers = self.store.saved_layers(job_id) or []
            except Exception:
                log.exception("the saved layers of job %s are unreadable; its results are not replayed", job_id)
        events = []
        for message in messages:
            if not isinstance(message, Result):
                events.append(Event(message.seq or 0, message))
            elif message.variant < len(layers):
                events.append(self._result_again(message, *layers[message.variant]))
        return events

    def _result_again(self, message: Result, pixels: np.ndarray, mask: np.ndarray) -> Event:
        """A kept result message and its frames, encoded as first sent, from the saved layer."""
        blobs: list[Blob] = []
        frames: list[bytes] = []
        for blob, array in ((message.pixels, pixels), (message.mask, mask)):
            data = encode_png(array) if blob.format == "png" else raw_bytes(array)
            blobs.append(blob.model_copy(update={"bytes": len(data)}))
            frames.extend(chunk_frames(blob.stream, data, self.chunk_bytes))
        again = message.model_copy(update={"pixels": blobs[0], "mask": blobs[1]})
        return Event(message.seq, again, tuple(frames))

    def _final_message_from_history(self, row: Any, seq: int) -> Done | Error | Cancelled:
        job_id = row["job_id"]
        if row["state"] == "done":
            recipe = Recipe.model_validate_json(row["recipe_json"])
            return Done(job_id=job_id, seq=seq, recipe=recipe, downloads=downloads(job_id, len(recipe.seeds),
                                                  self.store.find(job_id, PSD_MANIFEST_NAME) is not None))
        if row["state"] == "cancelled":
            return Cancelled(job_id=job_id, seq=seq)
        code = known_code(row["error_code"], ErrorCode.INTERNAL)
        return Error(job_id=job_id, seq=seq, code=code, message=row["error_message"] or "",
                     retryable=code in RETRYABLE)
