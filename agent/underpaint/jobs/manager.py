"""The job manager: one fair queue feeding one engine worker, events per job.

Everything here runs on the event loop thread except the pipeline and the
file sinks, which run in their own single-thread executors and hand events
back with `call_soon_threadsafe` (a GPU runs one job at a time anyway), and
the reading of saved results for a replay after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from PIL import Image

from underpaint.core import RETRYABLE, ErrorCode, JobSpec, RequestError
from underpaint.engines.base import CancelToken, EngineError, JobCancelled
from underpaint.imaging.codec import encode_png, raw_bytes
from underpaint.jobs.events import Event, EventArchive, EventLog, Subscriber
from underpaint.jobs.history import HistoryStore
from underpaint.jobs.intake import Intake
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.queue import FairQueue, OwnerFull, QueueFull
from underpaint.jobs.training import TRAINING_MODE, DeviceTurn, Trainings
from underpaint.results.layered import LayeredResult, VariantLayer
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
    LayerInfo,
    Preview,
    Progress,
    Result,
)

log = logging.getLogger(__name__)
ResultFormat = Literal["raw", "png"]
# Finished jobs stay resumable in full while their result frames fit `resume_bytes`
# (the newest always does), then without their pixels for a while, then only from the history.
_KEEP_JOBS = 256
# The hot folder's jobs belong to a shared folder, whose outputs anyone can open: every client sees them.
_SHARED_SOURCE = "hotfolder"
_PREVIEW_SIDE = 256


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
    ) -> None:
        self.intake = intake
        self.resume_bytes = resume_bytes
        self.engines = intake.engines
        self.store = store
        self.history = history
        self.chunk_bytes = chunk_bytes
        self.queue: FairQueue[Job] = FairQueue(queue_size)
        self.jobs: dict[str, Job] = {}
        self.running: Job | None = None
        self.turn = DeviceTurn()
        self.closing = False
        self.trainings: Trainings | None = None
        """Set by the agent's wiring (jobs/runtime.py) where trainings can run."""
        self._finished: deque[Job] = deque()
        self._engine_thread = ThreadPoolExecutor(1, thread_name_prefix="underpaint-engine")
        self._sink_thread = ThreadPoolExecutor(1, thread_name_prefix="underpaint-sinks")
        self._worker: asyncio.Task[None] | None = None
        # Writing a job's files and replaying an earlier run's job: close() lets them finish.
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        interrupted = self.history.fail_interrupted(
            ErrorCode.AGENT_RESTARTED, "The agent stopped while this job was queued or running; submit it again.")
        if interrupted:
            log.warning("marked %d interrupted job(s) as failed: %s", len(interrupted), interrupted)
        await asyncio.get_running_loop().run_in_executor(self._sink_thread, self._tidy_store, interrupted)
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
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        # A job whose files are being written still ends (done or failed) in the history.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._engine_thread.shutdown(wait=True, cancel_futures=True)
        self._sink_thread.shutdown(wait=True)

    # front-door API

    def submit(self, spec: JobSpec, engine: str, owner: str, digest: str, request: dict[str, Any],
               result_format: ResultFormat = "raw", previews: bool = False, owner_limit: int | None = None,
               work: Callable[[Job], Coroutine[Any, Any, None]] | None = None) -> Job:
        """Queue a new job under a free id (see `claim`); a retry replaces its id's failed run.
        `owner_limit` caps the owner's waiting jobs; None (the agent's own front doors) leaves it open."""
        if not self.is_free(spec.job_id):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT, f"Job id '{spec.job_id}' is already taken.", spec.job_id)
        job = Job(spec, engine, owner, digest, result_format, previews, work=work)
        try:
            self.queue.put(owner, job.job_id, job, owner_limit)
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
                         spec.params.variants, spec.client, spec.source, request, digest, spec.set_id)
        position = self.queue.position(job.job_id) or 0
        job.log.append(lambda seq: Accepted(job_id=job.job_id, seq=seq, queue_position=position))
        self._archive(job)
        return job

    def known_digest(self, job_id: str) -> str | None:
        if job_id in self.jobs:
            return self.jobs[job_id].digest
        row = self.history.get(job_id)
        return None if row is None else str(row["request_digest"])

    def claim(self, job_id: str, client: str | None = None) -> str | None:
        """What a submit of `job_id` from `client` must match to be a duplicate: None when the id is
        free (never used, or its run failed in a way a retry can fix). Another client's id is taken."""
        digest = self.known_digest(job_id)
        if digest is None:
            return None
        if not self.visible(job_id, client):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT,
                               f"Job id '{job_id}' is already taken; choose a new id.", job_id)
        return None if self.is_free(job_id) else digest

    def visible(self, job_id: str, client: str | None) -> bool:
        """Whether a client may see a job: its own (by client name, so a plugin that reconnects keeps its
        jobs) and the hot folder's. `client` None is the agent's own front doors, which see every job."""
        job = self.jobs.get(job_id)
        if job is not None:
            owner, source = job.spec.client, job.spec.source
        elif (row := self.history.get(job_id)) is not None:
            owner, source = row["client"], row["source"]
        else:
            return False
        return client is None or source == _SHARED_SOURCE or owner == client

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

    def attach(self, job_id: str, after_seq: int, subscriber: Subscriber, client: str | None = None) -> None:
        """Replay events after `after_seq` and follow the job live; finished jobs from an
        earlier run of the agent replay their final message from the history. A job `client`
        may not see is unknown to it."""
        if not self.visible(job_id, client):
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

    def cancel(self, job_id: str, client: str | None = None) -> None:
        if not self.visible(job_id, client):
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' is known to this agent.", job_id)
        job = self.jobs.get(job_id)
        if job is None:
            return
        if job.state == "queued" and self.queue.remove(job_id) is not None:
            self._end(job, "cancelled", lambda seq: Cancelled(job_id=job_id, seq=seq))
        elif job.state == "running":
            job.cancel.cancel()

    def recent(self, limit: int, client: str | None = None, set_id: str | None = None) -> list[JobSummary]:
        """The newest jobs `client` may see (see `visible`), only those of `set_id` when given."""
        return self.history.recent(limit, client, _SHARED_SOURCE, set_id)

    async def wait_for_files(self, job_id: str) -> None:
        """Returns once a job whose files are being written has them (at once for other jobs)."""
        job = self.jobs.get(job_id)
        if job is not None and job.state == "saving":
            await job.files_ready.wait()

    # the worker

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            if job.work is not None:
                self._spawn(job.work(job))
                continue
            self.running = job
            try:
                await self._run(job)
            except Exception:
                log.exception("job %s failed outside the pipeline", job.job_id)
                self._fail(job, ErrorCode.INTERNAL, "The agent hit an internal error; see its log.")
            finally:
                self.running = None

    async def _run(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        job.state = "running"
        self.history.mark_running(job.job_id)
        variants = job.spec.params.variants

        def progress(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            fraction = min(1.0, (variant * steps + step) / (variants * steps)) if steps else 0.0
            frames: tuple[bytes, ...] = ()
            blob = None
            if preview is not None and job.previews:
                blob, frames = self._preview_blob(job, variant, preview)
            loop.call_soon_threadsafe(self._emit_progress, job, variant, step, steps, fraction, blob, frames)

        def on_layer(layer: VariantLayer) -> None:
            message, frames = self._result_frames(job, layer)
            loop.call_soon_threadsafe(lambda: job.log.append(message, frames))

        engine = self.engines[job.engine]
        loop.call_soon(self._emit_progress, job, 0, 0, 1, 0.0, None, ())
        started = time.monotonic()
        try:
            result = await loop.run_in_executor(
                self._engine_thread, self.turn.interactive, run_pipeline, job.spec, engine, progress, job.cancel,
                on_layer,
                self.intake.upscalers,
            )
        except JobCancelled:
            self._end(job, "cancelled", lambda seq: Cancelled(job_id=job.job_id, seq=seq))
        except RequestError as exc:
            self._fail(job, exc.code, exc.message)
        except EngineError as exc:
            self._fail(job, exc.code, exc.message)
        except MemoryError:
            self._fail(job, ErrorCode.ENGINE_FAILED, "The engine ran out of memory; try a smaller selection.")
        else:
            self._finish(job, result)
        # What the job cost, the files not counted (an agent shutting down records nothing).
        self.history.record_engine(job.job_id, time.monotonic() - started,
                                   engine.capabilities_for(job.spec.params.model).device)

    def _emit_progress(self, job: Job, variant: int, step: int, steps: int, fraction: float,
                       preview: Blob | None, frames: tuple[bytes, ...]) -> None:
        if job.state != "running":
            return
        job.log.append(lambda seq: Progress(job_id=job.job_id, seq=seq, variant=variant, step=step,
                                            steps=steps, fraction=fraction))
        if preview is not None:
            job.log.append(lambda seq: Preview(job_id=job.job_id, seq=seq, variant=variant, step=step,
                                               image=preview), frames)

    def _finish(self, job: Job, result: LayeredResult) -> None:
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
            self._fail(job, ErrorCode.RESULT_NOT_SAVED, f"The agent could not write this job's files "
                       f"({exc.strerror or exc}); make room on its disk and submit the job again.")
            return
        except Exception:
            log.exception("writing the files of job %s failed", job.job_id)
            self._fail(job, ErrorCode.INTERNAL, "The agent hit an internal error writing the files; see its log.")
            return
        job.saved = saved
        links = downloads(job.job_id, len(result.layers), saved.manifest is not None)
        self._end(job, "done", lambda seq: Done(job_id=job.job_id, seq=seq, recipe=result.recipe,
                                                downloads=links, warnings=result.warnings),
                  recipe=result.recipe, files={"psd": str(saved.psd), "variants": [str(p) for p in saved.variants],
                                               "recipe": str(saved.recipe)})

    def _fail(self, job: Job, code: ErrorCode, message: str) -> None:
        retry = code in RETRYABLE
        self._end(job, "error", lambda seq: Error(job_id=job.job_id, seq=seq, code=code, message=message,
                                                  retryable=retry),
                  error=(code, message))

    def _end(self, job: Job, state: str, make: Any, recipe: Recipe | None = None,
             error: tuple[str, str] | None = None, files: dict[str, Any] | None = None) -> None:
        job.state = state
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

    # encoding, on the engine thread

    def _result_frames(self, job: Job, layer: VariantLayer) -> tuple[Any, tuple[bytes, ...]]:
        pixels, pixels_frames = self._blob(job, f"{job.job_id}/{layer.index}/pixels", layer.pixels, "rgba8")
        mask, mask_frames = self._blob(job, f"{job.job_id}/{layer.index}/mask", layer.mask, "gray8")

        def make(seq: int) -> Result:
            return Result(job_id=job.job_id, seq=seq, variant=layer.index, seed=layer.seed,
                          layer=LayerInfo(name=layer.name, bounds=layer.bounds, visible=layer.visible),
                          pixels=pixels, mask=mask)

        return make, pixels_frames + mask_frames

    def _blob(self, job: Job, stream: str, array: np.ndarray, raw_format: Literal["rgba8", "gray8"]
              ) -> tuple[Blob, tuple[bytes, ...]]:
        data = encode_png(array) if job.result_format == "png" else raw_bytes(array)
        blob = Blob(stream=stream, format="png" if job.result_format == "png" else raw_format,
                    width=array.shape[1], height=array.shape[0], bytes=len(data))
        return blob, tuple(chunk_frames(stream, data, self.chunk_bytes))

    def _preview_blob(self, job: Job, variant: int, preview: np.ndarray) -> tuple[Blob, tuple[bytes, ...]]:
        image = Image.fromarray(preview)
        image.thumbnail((_PREVIEW_SIDE, _PREVIEW_SIDE))
        data = encode_png(np.asarray(image))
        stream = f"{job.job_id}/{variant}/preview"
        blob = Blob(stream=stream, format="png", width=image.width, height=image.height, bytes=len(data))
        return blob, tuple(chunk_frames(stream, data, self.chunk_bytes))
