"""The Ray actor that runs jobs' engine steps on one device, keeping its models warm between jobs.

The gateway (gateway.py) makes one per GPU, or one per CPU-only machine with the CPUs it is given.
It builds its engines once, from the same settings as the gateway: models are found by the same
registry path, so every worker must see the models folder at that path (a shared mount). A job's
engine step streams back as it happens (`run` is a Ray streaming generator): each progress step
with its preview, then each image as it is ready, then one item saying how the step ended when it
did not simply finish. `cancel` runs beside `run` (the actor takes more than one call at a time),
so a cancel reaches the step between two of its engine steps.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import ray

from underpaint.core import RequestError
from underpaint.engines.base import CancelToken, Engine, EngineError, JobCancelled, WorkItem

log = logging.getLogger(__name__)
EngineFactory = Callable[[], Mapping[str, Engine]]
Item = tuple[Any, ...]
"""What `run` yields: ("progress", variant, step, steps, preview), ("image", rgb), or how it ended:
("cancelled",), ("engine_error" | "request_error", code, message), ("memory",), ("failed", text)."""
_ENDINGS = frozenset({"cancelled", "engine_error", "request_error", "memory", "failed"})


class EngineWorker:
    def __init__(self, build: EngineFactory) -> None:
        self.engines = dict(build())
        for engine in self.engines.values():
            engine.preload()
        self._cancels: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        """Where it runs and what it holds: the gateway's picture of this worker (placement, `underpaint cluster`)."""
        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "device": ", ".join(sorted({engine.capabilities.device for engine in self.engines.values()})),
            "loaded_models": loaded_models(self.engines),
        }

    def run(self, run_id: str, engine: str, work: WorkItem) -> Iterator[Item]:
        """One job's engine step on the engine named `engine` (a streaming generator: see Item)."""
        token = CancelToken()
        with self._lock:
            self._cancels[run_id] = token
        items: queue.Queue[Item | None] = queue.Queue()

        def progress(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
            items.put(("progress", variant, step, steps, preview))

        # The engine reports progress from inside its own iteration: it runs on a thread of its own, and
        # this generator hands on what it reports, as it reports it.
        producer = threading.Thread(target=self._produce, args=(self.engines[engine], work, progress, token, items),
                                    name=f"underpaint-step-{run_id}", daemon=True)
        producer.start()
        try:
            while (item := items.get()) is not None:
                yield item
                if item[0] in _ENDINGS:
                    return
        finally:
            # The gateway stopped listening (it went away, or gave up on the job): stop between steps.
            token.cancel()
            producer.join()
            with self._lock:
                self._cancels.pop(run_id, None)

    def cancel(self, run_id: str) -> None:
        with self._lock:
            token = self._cancels.get(run_id)
        if token is not None:
            token.cancel()

    @staticmethod
    def _produce(engine: Engine, work: WorkItem, progress: Callable[..., None], token: CancelToken,
                 items: queue.Queue[Item | None]) -> None:
        try:
            for image in engine.run(work, progress, token):
                items.put(("image", image))
        except JobCancelled:
            items.put(("cancelled",))
        except EngineError as exc:
            items.put(("engine_error", str(exc.code), exc.message))
        except RequestError as exc:
            items.put(("request_error", str(exc.code), exc.message))
        except MemoryError:
            items.put(("memory",))
        except Exception as exc:
            log.exception("the engine step failed")
            items.put(("failed", f"{type(exc).__name__}: {exc}"))
        finally:
            items.put(None)


def loaded_models(engines: Mapping[str, Engine]) -> list[str]:
    """The models the engines hold in memory now: the diffusers engine's model cache (engines without
    models have no cache)."""
    names: list[str] = []
    for engine in engines.values():
        cache = getattr(engine, "cache", None)
        if cache is not None:
            names += cache.loaded
    return names
