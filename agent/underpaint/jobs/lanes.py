"""Where a job's engine step runs: a lane is one device's turn at the work.

The job runner (jobs/runner.py) asks its `Lanes` for a lease on a free lane, runs the pipeline with
the lease's engine, and gives the lease back. The single-process agent has one local lane over its
own engines (the engine thread, shared with trainings through the DeviceTurn); studio mode's gateway
has one lane per Ray worker (cluster/), whose engine runs the engine step remotely. Everything before
and after the engine step (planner, composer, files, events, history) runs in this process either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from underpaint.core import JobSpec
from underpaint.engines.base import Engine
from underpaint.wire.messages import ClusterInfo

if TYPE_CHECKING:
    from underpaint.jobs.training import DeviceTurn

T = TypeVar("T")


class WorkerLost(Exception):
    """The worker running a job's engine step went away mid-job (its process or machine died).
    `started`: whether the step had begun there (it had reported something): a worker found dead
    before that was not the job's doing."""

    def __init__(self, message: str, started: bool) -> None:
        super().__init__(message)
        self.started = started


class NoWorkers(Exception):
    """No worker exists to run a job on."""


class Lease(Protocol):
    """One lane, held for one attempt at a job."""

    @property
    def engine(self) -> Engine:
        """The engine the job's pipeline calls; its run() may raise WorkerLost."""
        ...

    @property
    def worker(self) -> str | None:
        """The worker's name, for the history; None for this process."""
        ...

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` off the event loop, where this lane's engine steps may block."""
        ...

    def release(self, lost: bool = False) -> None:
        """Gives the lane back; `lost` when its worker died under the job."""
        ...


class Lanes(Protocol):
    async def start(self) -> None: ...

    async def free(self) -> None:
        """Returns once `acquire` can give a lease at once: a lane is free, or none exists at all."""
        ...

    def acquire(self, spec: JobSpec, engine: str, avoid: frozenset[str] = frozenset()) -> Lease:
        """A free lane for `spec` on the engine named `engine`, after `free()` returned with no await
        between; `avoid` names workers the job should not go back to while another is free.
        Raises NoWorkers when no lane exists."""
        ...

    def info(self, queued: int) -> ClusterInfo | None:
        """The workers, for the handshake and /health; None for the single-process agent."""
        ...

    async def close(self) -> None: ...


class LocalLease:
    def __init__(self, lanes: LocalLanes, engine: Engine) -> None:
        self._lanes = lanes
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def worker(self) -> str | None:
        return None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        lanes = self._lanes
        return await asyncio.get_running_loop().run_in_executor(lanes.thread, lanes.turn.interactive, work, *args)

    def release(self, lost: bool = False) -> None:
        del lost
        self._lanes.idle.set()


class LocalLanes:
    """The single-process agent's one lane: its own engines on one engine thread (a device runs one job
    at a time anyway), taking turns with trainings through `turn`."""

    def __init__(self, engines: Mapping[str, Engine], turn: DeviceTurn) -> None:
        self.engines = engines
        self.turn = turn
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="underpaint-engine")
        self.idle = asyncio.Event()
        self.idle.set()

    async def start(self) -> None:
        return None

    async def free(self) -> None:
        await self.idle.wait()

    def acquire(self, spec: JobSpec, engine: str, avoid: frozenset[str] = frozenset()) -> Lease:
        del spec, avoid
        self.idle.clear()
        return LocalLease(self, self.engines[engine])

    def info(self, queued: int) -> ClusterInfo | None:
        del queued
        return None

    async def close(self) -> None:
        self.thread.shutdown(wait=True, cancel_futures=True)
