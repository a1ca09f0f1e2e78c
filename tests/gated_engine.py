"""An engine held between steps by the test: a real engine's work, each progress call waiting to be let on."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, ModellessEngine, ProgressSink, WorkItem


class Gate(ModellessEngine):
    """Wraps an engine so each progress call waits for the test (and never checks cancel itself)."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.semaphore = threading.Semaphore(0)
        self.opened = threading.Event()

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.inner.capabilities

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        return self.inner.capabilities_for(model)

    def release(self, steps: int = 1) -> None:
        self.semaphore.release(steps)

    def open(self) -> None:
        self.opened.set()
        self.semaphore.release(1000)

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        def gated(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            progress(variant, step, steps, preview)
            while not self.opened.is_set() and not self.semaphore.acquire(timeout=0.05):
                pass

        return self.inner.run(work, gated, cancel)
