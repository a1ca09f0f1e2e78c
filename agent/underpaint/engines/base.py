"""The Engine interface: capabilities, and run(work item) -> images at working size.

Engines know nothing of documents, selections or files: the planner hands
them a WorkItem at working size and the composer takes their images back.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from underpaint.core import RETRYABLE, ErrorCode, Mode, Params, RequestError
from underpaint.core.capabilities import EngineCapabilities


class JobCancelled(Exception):
    """Raised inside an engine when its job's cancel token is set."""


class EngineError(Exception):
    """An engine could not do the work: a stable error code and a sentence for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


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


@dataclass(frozen=True, eq=False)
class WorkItem:
    """One job's work at working size.

    `image` is RGB8 (height, width, 3) or None for Generate; `mask` is Gray8
    (height, width), 255 where the engine must create pixels.
    `control_images` holds one RGB8 control map at working size per control
    in `params.controls` (already preprocessed); `reference_images` one RGB8
    image (any size) per reference in `params.references`.
    """

    mode: Mode
    width: int
    height: int
    params: Params
    seeds: list[int]
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    control_images: tuple[np.ndarray, ...] = ()
    reference_images: tuple[np.ndarray, ...] = ()


class Engine(Protocol):
    """All an engine offers. Engines that load models answer per model; `model` None means the
    engine's default model (engines without models ignore it)."""

    @property
    def capabilities(self) -> EngineCapabilities:
        """Capabilities for jobs that name no model."""
        ...

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        """Capabilities for jobs naming `model`: its native sizes, the modes it can do."""
        ...

    def model_identity(self, model: str | None) -> tuple[str, str | None] | None:
        """(name, content sha256) of the model a job naming `model` runs on, for its recipe;
        None for engines without models."""
        ...

    def pin(self, params: Params) -> Params:
        """`params` with every add-on it names (LoRAs, ControlNets, IP-Adapters) checked against the model
        the job runs on and pinned: each one's registered name and content sha256 filled in (what the
        recipe records). Raises RequestError with the add-on's own code (unknown_lora, incompatible_lora,
        lora_changed, unknown_controlnet, ..., unsupported_feature)."""
        ...

    def preload(self) -> None:
        """Make the first job fast (load the default model in the background); may do nothing."""
        ...

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        """Yield one RGB8 (height, width, 3) image per seed, in seed order, as each is ready."""
        ...


class ModellessEngine(ABC):
    """The per-model half of `Engine` for engines that load no models: one set of
    capabilities whatever the job names, no model identity, no LoRAs, nothing to preload."""

    @property
    @abstractmethod
    def capabilities(self) -> EngineCapabilities: ...

    @abstractmethod
    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]: ...

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        del model
        return self.capabilities

    def model_identity(self, model: str | None) -> tuple[str, str | None] | None:
        del model
        return None

    def pin(self, params: Params) -> Params:
        asked = [what for what, items in (("LoRAs", params.loras), ("controls (ControlNet)", params.controls),
                                          ("reference images (IP-Adapter)", params.references)) if items]
        if asked:
            raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                               f"The {self.capabilities.name} engine cannot apply {' or '.join(asked)}: it runs no "
                               "model weights. Remove them, or use an engine that loads models (diffusers).")
        return params

    def preload(self) -> None:
        return None
