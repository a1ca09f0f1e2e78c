"""A real engine that lets controls and references through its `pin`: what the wire's tests run jobs on.

The wire carries control and reference images whatever engine runs the job; the
engines apply them (their own tests check that). Here the
inner engine's `pin` checks everything else (LoRAs, the model), the guides pass
as asked, each pin is recorded, and the pixels are the inner engine's real work.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from underpaint.core import Params
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, ProgressSink, WorkItem


class GuidesAccepted:
    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.pinned: list[Params] = []

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.inner.capabilities

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        return self.inner.capabilities_for(model)

    def model_identity(self, model: str | None) -> tuple[str, str | None] | None:
        return self.inner.model_identity(model)

    def pin(self, params: Params) -> Params:
        self.pinned.append(params)
        guides = {"controls": params.controls, "references": params.references}
        return self.inner.pin(params.model_copy(update={"controls": (), "references": ()})).model_copy(update=guides)

    def preload(self) -> None:
        self.inner.preload()

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        return self.inner.run(work, progress, cancel)
