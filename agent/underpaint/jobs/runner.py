"""Runs one job's pipeline on a lane (jobs/lanes.py) and turns what it yields into the job's events.

Progress, previews and each variant's result go into the job's event log as they happen, from
whichever thread the lane runs the pipeline on. A studio worker lost mid-job costs the job one
retry on another worker: the retry makes the same variants again (same seeds), and a variant whose
result already went out is neither sent again nor reported again, so a client sees every event once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from underpaint.core import ErrorCode, RequestError
from underpaint.engines.base import EngineError, JobCancelled
from underpaint.imaging.codec import encode_png, raw_bytes
from underpaint.jobs.lanes import Lease, NoWorkers, WorkerLost
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import VariantLayer
from underpaint.wire.frames import chunk_frames
from underpaint.wire.messages import Blob, Cancelled, LayerInfo, Preview, Progress, Result

if TYPE_CHECKING:
    from underpaint.jobs.manager import Job, JobManager

log = logging.getLogger(__name__)
_PREVIEW_SIDE = 256
LOSSES_ALLOWED = 2
"""Workers a job may lose under it before it is the job's fault: the first costs a retry, the second ends it."""
TRIES = 8
"""Most lanes a job is tried on, counting workers found already dead (a machine lost takes all its GPUs'
workers at once; the gateway learns it from the next job that goes there)."""


class JobRunner:
    def __init__(self, manager: JobManager) -> None:
        self.manager = manager

    def start(self, job: Job) -> None:
        """The job leaves the queue: running from now on (a cancel reaches it), waiting for its lane."""
        job.state = "running"
        self.manager.history.mark_running(job.job_id)
        self._emit_progress(job, 0, 0, 1, 0.0, None, ())

    async def run(self, job: Job, lease: Lease) -> None:
        """Runs `job` on `lease`, and again on another lane if its worker is lost; ends the job."""
        sent: set[int] = set()
        lost: list[str] = []
        broken: list[str] = []
        while True:
            try:
                await self._attempt(job, lease, sent)
                return
            except WorkerLost as exc:
                lost.append(lease.worker or "this process")
                if exc.started:
                    broken.append(lost[-1])
            if len(broken) >= LOSSES_ALLOWED or len(lost) >= TRIES:
                log.error("job %s lost workers %s; not retried again", job.job_id, lost)
                self.manager.fail_job(job, ErrorCode.PROBLEM_JOB,
                                      f"The workers that ran this job stopped under it ({', '.join(broken or lost)}): "
                                      "the job itself seems to break them, so it is not retried. Check its inputs "
                                      "and model.")
                return
            log.warning("worker %s was lost running job %s; retrying it elsewhere", lost[-1], job.job_id)
            await self.manager.lanes.free()
            try:
                lease = self.manager.lanes.acquire(job.spec, job.engine, frozenset(lost))
            except NoWorkers:
                self.no_workers(job)
                return

    def no_workers(self, job: Job) -> None:
        self.manager.fail_job(job, ErrorCode.NO_WORKERS, "No worker is connected to run this job; start one "
                              "(`underpaint worker --cluster HOST:6379`) and submit it again.")

    async def _attempt(self, job: Job, lease: Lease, sent: set[int]) -> None:
        loop = asyncio.get_running_loop()
        manager = self.manager
        variants = job.spec.params.variants

        def progress(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            if variant in sent:
                return
            fraction = min(1.0, (variant * steps + step) / (variants * steps)) if steps else 0.0
            frames: tuple[bytes, ...] = ()
            blob = None
            if preview is not None and job.previews:
                blob, frames = preview_blob(job.job_id, variant, preview, manager.chunk_bytes)
            loop.call_soon_threadsafe(self._emit_progress, job, variant, step, steps, fraction, blob, frames)

        def on_layer(layer: VariantLayer) -> None:
            if layer.index in sent:
                return
            sent.add(layer.index)
            message, frames = result_frames(job.job_id, layer, job.result_format, manager.chunk_bytes)
            loop.call_soon_threadsafe(lambda: job.log.append(message, frames))

        started = time.monotonic()
        lost = False
        try:
            try:
                result = await lease.run(run_pipeline, job.spec, lease.engine, progress, job.cancel, on_layer,
                                         manager.intake.upscalers)
            except WorkerLost:
                lost = True
                raise
            except JobCancelled:
                manager.end_job(job, "cancelled", lambda seq: Cancelled(job_id=job.job_id, seq=seq))
            except RequestError as exc:
                manager.fail_job(job, exc.code, exc.message)
            except EngineError as exc:
                manager.fail_job(job, exc.code, exc.message)
            except MemoryError:
                manager.fail_job(job, ErrorCode.ENGINE_FAILED, "The engine ran out of memory; try a smaller selection.")
            else:
                manager.finish_job(job, result)
        finally:
            lease.release(lost)
        # What the job cost, the files not counted, and where it ran (a lost worker's attempt and an agent
        # shutting down record nothing).
        manager.history.record_engine(job.job_id, time.monotonic() - started,
                                      lease.engine.capabilities_for(job.spec.params.model).device, lease.worker)

    def _emit_progress(self, job: Job, variant: int, step: int, steps: int, fraction: float,
                       preview: Blob | None, frames: tuple[bytes, ...]) -> None:
        if job.state != "running":
            return
        job.log.append(lambda seq: Progress(job_id=job.job_id, seq=seq, variant=variant, step=step,
                                            steps=steps, fraction=fraction))
        if preview is not None:
            job.log.append(lambda seq: Preview(job_id=job.job_id, seq=seq, variant=variant, step=step,
                                               image=preview), frames)


# encoding, on the lane's thread


def result_frames(job_id: str, layer: VariantLayer, result_format: Literal["raw", "png"], chunk_bytes: int
                  ) -> tuple[Any, tuple[bytes, ...]]:
    pixels, pixels_frames = _blob(f"{job_id}/{layer.index}/pixels", layer.pixels, "rgba8", result_format,
                                  chunk_bytes)
    mask, mask_frames = _blob(f"{job_id}/{layer.index}/mask", layer.mask, "gray8", result_format, chunk_bytes)

    def make(seq: int) -> Result:
        return Result(job_id=job_id, seq=seq, variant=layer.index, seed=layer.seed,
                      layer=LayerInfo(name=layer.name, bounds=layer.bounds, visible=layer.visible),
                      pixels=pixels, mask=mask)

    return make, pixels_frames + mask_frames


def _blob(stream: str, array: np.ndarray, raw_format: Literal["rgba8", "gray8"],
          result_format: Literal["raw", "png"], chunk_bytes: int) -> tuple[Blob, tuple[bytes, ...]]:
    data = encode_png(array) if result_format == "png" else raw_bytes(array)
    blob = Blob(stream=stream, format="png" if result_format == "png" else raw_format,
                width=array.shape[1], height=array.shape[0], bytes=len(data))
    return blob, tuple(chunk_frames(stream, data, chunk_bytes))


def preview_blob(job_id: str, variant: int, preview: np.ndarray, chunk_bytes: int) -> tuple[Blob, tuple[bytes, ...]]:
    image = Image.fromarray(preview)
    image.thumbnail((_PREVIEW_SIDE, _PREVIEW_SIDE))
    data = encode_png(np.asarray(image))
    stream = f"{job_id}/{variant}/preview"
    blob = Blob(stream=stream, format="png", width=image.width, height=image.height, bytes=len(data))
    return blob, tuple(chunk_frames(stream, data, chunk_bytes))
