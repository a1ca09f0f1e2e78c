"""The gateway's engine for a job leased to a worker: the gateway's own engine, except that run() runs
on the worker.

Capabilities, the model's identity and the pinning of add-ons read the registry, which the gateway
sees at the same path as its workers: they stay here and load nothing. run() starts the engine step
on the worker's actor and hands on, as they arrive, the progress and previews and each image it
streams back; a cancel of the job reaches the worker between two of its steps.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayActorError

from underpaint.core import ErrorCode, Params, RequestError
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, EngineError, JobCancelled, ProgressSink, WorkItem
from underpaint.jobs.lanes import WorkerLost

_POLL_SECONDS = 0.05
"""How often a step waiting on its worker looks at its cancel token."""


class RemoteEngine:
    def __init__(self, local: Engine, name: str, actor: Any, worker: str, device: str) -> None:
        self.local = local
        self.name = name
        self.actor = actor
        self.worker = worker
        self.device = device

    @property
    def capabilities(self) -> EngineCapabilities:
        return dataclasses.replace(self.local.capabilities, device=self.device)

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        return dataclasses.replace(self.local.capabilities_for(model), device=self.device)

    def model_identity(self, model: str | None) -> tuple[str, str | None] | None:
        return self.local.model_identity(model)

    def pin(self, params: Params) -> Params:
        return self.local.pin(params)

    def preload(self) -> None:
        return None  # each worker preloads its own engines when it starts

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        run_id = uuid.uuid4().hex
        stream = self.actor.run.options(num_returns="streaming").remote(run_id, self.name, work)
        cancel_sent = ended = started = False
        try:
            while True:
                if cancel.cancelled and not cancel_sent:
                    self.actor.cancel.remote(run_id)
                    cancel_sent = True
                try:
                    ready, _ = ray.wait([stream], timeout=_POLL_SECONDS)
                    if not ready:
                        continue
                    try:
                        reference = next(stream)
                    except StopIteration:
                        ended = True
                        return
                    item = ray.get(reference)
                except RayActorError as exc:
                    ended = True
                    raise WorkerLost(f"worker {self.worker} stopped: {exc.__class__.__name__}", started) from exc
                started = True
                kind = item[0]
                if kind == "progress":
                    progress(*item[1:])
                elif kind == "image":
                    yield item[1]
                else:
                    ended = True
                    raise _ending(item)
        finally:
            if not ended and not cancel_sent:
                # Abandoned mid-way (the pipeline refused an image, the agent is closing): the worker stops too.
                self.actor.cancel.remote(run_id)


def _ending(item: tuple[Any, ...]) -> Exception:
    """The exception the worker's step ended with, raised here as a local engine would raise it."""
    kind = item[0]
    if kind == "cancelled":
        return JobCancelled()
    if kind == "engine_error":
        return EngineError(ErrorCode(item[1]), item[2])
    if kind == "request_error":
        return RequestError(ErrorCode(item[1]), item[2])
    if kind == "memory":
        return MemoryError()
    return RuntimeError(f"the worker's engine step failed: {item[1:]}")
