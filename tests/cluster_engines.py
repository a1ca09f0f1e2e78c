"""The engines the studio-mode tests' Ray workers build (workers import this module, so it imports little).

`PacedEngine` is the classic engine, its pixels real, each step held a little, so that a test can reach a
job mid-way (kill its worker, cancel it) without racing its end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import numpy as np

from underpaint.config import Settings
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import ClassicEngine

STEP_SECONDS = 0.12


class PacedEngine(ModellessEngine):
    """The classic engine, each step held STEP_SECONDS (a cancel still stops it between steps)."""

    def __init__(self) -> None:
        self.inner = ClassicEngine()

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.inner.capabilities

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        def paced(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            progress(variant, step, steps, preview)
            deadline = time.monotonic() + STEP_SECONDS
            while time.monotonic() < deadline:
                cancel.raise_if_cancelled()
                time.sleep(0.01)

        return self.inner.run(work, paced, cancel)


def paced_engines() -> Mapping[str, Engine]:
    return {"classic": PacedEngine()}


def studio_engines(settings: Settings) -> Mapping[str, Engine]:
    """What a worker of an agent with `settings` builds (its diffusers engine, as in the agent), its classic
    engine paced."""
    from underpaint.jobs.runtime import build_engines

    return {**build_engines(settings), "classic": PacedEngine()}
