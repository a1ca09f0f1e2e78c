"""The Engine interface: capabilities, and run(work item) -> images at working size.

Engines know nothing of documents, selections or files: the planner hands
them a WorkItem at working size and the composer takes their images back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from underpaint.jobs.spec import Mode, Params


class JobCancelled(Exception):
    """Raised inside an engine when its job's cancel token is set."""


class EngineError(Exception):
    """An engine could not do the work; `code` is a stable protocol error code."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class CancelToken:
    """Set from the event loop, polled by the engine between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()


class ProgressSink(Protocol):
    def __call__(self, variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None: ...


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, reported in the handshake and used by the planner.

    Working sizes are kept within [native_min, native_max] on the long side,
    in multiples of `multiple`, and below `max_pixels` in area.
    """

    name: str
    modes: frozenset[Mode]
    uses_prompt: bool
    native_min: int
    native_max: int
    multiple: int
    max_pixels: int
    models: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""


@dataclass(frozen=True, eq=False)
class WorkItem:
    """One job's work at working size.

    `image` is RGB8 (height, width, 3) or None for Generate; `mask` is Gray8
    (height, width), 255 where the engine must create pixels.
    """

    mode: Mode
    width: int
    height: int
    params: Params
    seeds: list[int]
    image: np.ndarray | None = None
    mask: np.ndarray | None = None


class Engine(Protocol):
    @property
    def capabilities(self) -> EngineCapabilities: ...

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        """Yield one RGB8 (height, width, 3) image per seed, in seed order, as each is ready."""
        ...


def capabilities_for(engine: Engine, model: str | None) -> EngineCapabilities:
    """`engine`'s capabilities for jobs naming `model`: engines that load models (diffusers) report that
    model's native sizes through an optional `capabilities_for(model)` method; others have one set."""
    method = getattr(engine, "capabilities_for", None)
    return method(model) if callable(method) else engine.capabilities


def model_identity(engine: Engine, model: str | None) -> tuple[str, str | None] | None:
    """(name, content sha256) of the model a job naming `model` runs on, for its recipe.

    Engines that load models answer through an optional `model_identity(model)` method (resolving
    the default model when `model` is None); for others this is `model` itself, unhashed, or None.
    """
    method = getattr(engine, "model_identity", None)
    if callable(method):
        return method(model)  # type: ignore[no-any-return]
    return (model, None) if model else None
