"""Studio mode's lanes (jobs/lanes.py): one Ray actor per GPU, or per CPU-only machine, each a lane.

The gateway owns its actors (they are not detached): when the gateway's process ends, however it
ends, Ray ends them with it, so a gateway that went down leaves no work behind on the workers. An
actor whose process dies is started again by Ray (`max_restarts`), cold; its lane waits for it,
and the job it was running is retried by the job runner elsewhere. Machines that join the Ray
cluster later (`underpaint worker`) get their actors at the next look at the cluster.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import ray
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from underpaint.cluster.placement import Candidate, pick
from underpaint.cluster.remote import RemoteEngine
from underpaint.cluster.worker import EngineFactory, EngineWorker
from underpaint.config import Settings, SettingsError
from underpaint.core import JobSpec
from underpaint.engines.base import Engine
from underpaint.jobs.lanes import Lease, NoWorkers
from underpaint.jobs.runtime import build_engines
from underpaint.wire.messages import ClusterInfo, WorkerInfo

log = logging.getLogger(__name__)
T = TypeVar("T")
State = Literal["idle", "busy", "starting", "lost"]
_CALLS_AT_ONCE = 4
"""An actor takes a job's step, its cancel and a look at its state at the same time."""
_RESTART_POLL_SECONDS = 0.2


class WorkerLane:
    def __init__(self, name: str, actor: Any, node: str) -> None:
        self.name = name
        self.actor = actor
        self.node = node
        self.device = "unknown"
        self.pid = 0
        self.state: State = "starting"
        self.loaded_models: tuple[str, ...] = ()
        self.recent_loras: frozenset[str] = frozenset()
        self.running_job: str | None = None
        self.jobs_run = 0

    def learn(self, facts: dict[str, Any]) -> None:
        self.pid, self.node, self.device = facts["pid"], facts["node"], facts["device"]
        self.loaded_models = tuple(facts["loaded_models"])

    def info(self) -> WorkerInfo:
        return WorkerInfo(name=self.name, node=self.node, device=self.device, state=self.state, pid=self.pid,
                          loaded_models=list(self.loaded_models), running_job=self.running_job, jobs_run=self.jobs_run)


class ClusterLease:
    def __init__(self, lanes: ClusterLanes, lane: WorkerLane, engine: Engine) -> None:
        self._lanes = lanes
        self.lane = lane
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def worker(self) -> str | None:
        return self.lane.name

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._lanes.pool, work, *args)

    def release(self, lost: bool = False) -> None:
        self._lanes.released(self.lane, lost)


class ClusterLanes:
    def __init__(self, engines: Mapping[str, Engine], build: EngineFactory, worker_cpus: float | None = None,
                 max_workers: int | None = None, start_seconds: float = 300.0, refresh_seconds: float = 5.0) -> None:
        """`build` makes a worker's engines, on the worker; `worker_cpus`: the CPUs of a CPU-only machine
        each worker gets (None: one worker takes them all); `max_workers`: the most workers to start (None:
        as many as the cluster holds); `start_seconds`: how long a worker may take to start (its engines
        built) before its lane counts as lost."""
        self.engines = engines
        self.build = build
        self.worker_cpus = worker_cpus
        self.max_workers = max_workers
        self.start_seconds = start_seconds
        self.refresh_seconds = refresh_seconds
        self.lanes: list[WorkerLane] = []
        self.pool = ThreadPoolExecutor(64, thread_name_prefix="underpaint-lane")
        self._nodes: set[str] = set()
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts a worker on each machine of the cluster and waits until each is up (or lost)."""
        await self._add_workers()
        await asyncio.gather(*self._tasks)
        self._refresher = asyncio.create_task(self._keep_looking(), name="underpaint-cluster-refresh")

    async def free(self) -> None:
        while not any(lane.state == "idle" for lane in self.lanes) and any(
                lane.state in ("busy", "starting") for lane in self.lanes):
            self._changed.clear()
            await self._changed.wait()

    def acquire(self, spec: JobSpec, engine: str, avoid: frozenset[str] = frozenset()) -> Lease:
        free = {lane.name: lane for lane in self.lanes if lane.state == "idle"}
        if not free:
            raise NoWorkers()
        local = self.engines[engine]
        loras = frozenset(ref.name for ref in spec.params.loras)
        chosen = pick([Candidate(lane.name, lane.loaded_models, lane.recent_loras, lane.jobs_run)
                       for lane in free.values()], _model_name(local, spec), loras, avoid)
        lane = free[chosen.name]
        lane.state, lane.running_job, lane.recent_loras = "busy", spec.job_id, loras
        return ClusterLease(self, lane, RemoteEngine(local, engine, lane.actor, lane.name, lane.device))

    def released(self, lane: WorkerLane, lost: bool) -> None:
        lane.running_job = None
        if lost:
            lane.state = "starting"
        else:
            lane.jobs_run += 1
        self._changed.set()
        # What it holds now (the job's model loaded, perhaps another unloaded); after a loss, Ray's restart.
        self._spawn(self._watch(lane))

    def info(self, queued: int) -> ClusterInfo | None:
        return ClusterInfo(workers=[lane.info() for lane in self.lanes], queued=queued)

    async def close(self) -> None:
        for task in [*self._tasks, *([self._refresher] if self._refresher else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._refresher] if self._refresher else []), return_exceptions=True)
        for lane in self.lanes:
            ray.kill(lane.actor, no_restart=True)
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def _keep_looking(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self._add_workers()
                await asyncio.gather(*(self._check(lane) for lane in self.lanes if lane.state in ("idle", "lost")))
            except Exception:
                log.exception("looking at the Ray cluster's machines and workers failed")

    async def _check(self, lane: WorkerLane) -> None:
        """An idle worker that died is waited for again (before a job finds it dead); a lost one that Ray
        could start again at last is back."""
        try:
            facts = await asyncio.wait_for(asyncio.wrap_future(lane.actor.describe.remote().future()),
                                           self.refresh_seconds)
        except (RayActorError, TimeoutError):
            if lane.state == "idle":
                lane.state = "starting"
                self._spawn(self._watch(lane))
            return
        if lane.state == "lost":
            lane.learn(facts)
            lane.state = "idle"
            self._changed.set()

    async def _add_workers(self) -> None:
        """A worker per GPU, or per CPU-only machine, for each machine not seen before."""
        nodes = await asyncio.get_running_loop().run_in_executor(None, ray.nodes)
        worker_class = ray.remote(EngineWorker)
        for node in nodes:
            node_id = node["NodeID"]
            if not node["Alive"] or node_id in self._nodes:
                continue
            self._nodes.add(node_id)
            for resources in self._plan(node["Resources"]):
                if self.max_workers is not None and len(self.lanes) >= self.max_workers:
                    return
                strategy = NodeAffinitySchedulingStrategy(node_id, soft=True)
                actor = worker_class.options(**resources, max_restarts=-1, max_task_retries=0,
                                             max_concurrency=_CALLS_AT_ONCE,
                                             scheduling_strategy=strategy).remote(self.build)
                lane = WorkerLane(f"worker-{len(self.lanes) + 1}", actor, node_id)
                self.lanes.append(lane)
                log.info("starting %s on node %s (%s)", lane.name, node_id, resources)
                self._spawn(self._watch(lane))

    def _plan(self, resources: Mapping[str, float]) -> list[dict[str, float]]:
        gpus = int(resources.get("GPU", 0))
        if gpus:
            return [{"num_gpus": 1, "num_cpus": 1}] * gpus
        cpus = resources.get("CPU", 0)
        if cpus < 1:
            return []  # a machine given no CPUs (a head node kept for the gateway) runs no worker
        if self.worker_cpus is None:
            return [{"num_cpus": cpus}]
        return [{"num_cpus": self.worker_cpus}] * int(cpus // self.worker_cpus)

    async def _watch(self, lane: WorkerLane) -> None:
        """Asks the worker what it holds; idle once it answers, lost if it does not in time (or for good)."""
        try:
            facts = await asyncio.wait_for(self._describe(lane), self.start_seconds)
        except (RayActorError, TimeoutError) as exc:
            log.error("%s did not come up: %s", lane.name, exc)
            lane.state = "lost"
        else:
            lane.learn(facts)
            lane.state = "idle"
        self._changed.set()

    @staticmethod
    async def _describe(lane: WorkerLane) -> dict[str, Any]:
        while True:
            try:
                facts: dict[str, Any] = await asyncio.wrap_future(lane.actor.describe.remote().future())
                return facts
            except ActorUnavailableError:
                await asyncio.sleep(_RESTART_POLL_SECONDS)  # Ray is starting its process again

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _model_name(engine: Engine, spec: JobSpec) -> str | None:
    """The registered name of the model the job runs on (what workers report loaded); None for engines
    without models, and for a model that does not resolve (the job's pipeline reports that)."""
    try:
        identity = engine.model_identity(spec.params.model)
    except Exception:
        return None
    return identity[0] if identity else None


def connect(address: str) -> None:
    """Joins the Ray cluster at `address` as its driver: `auto` (a cluster started on this machine by
    `ray start`, else a new one of this machine alone), HOST:PORT (the head's GCS port, 6379) or
    ray://HOST:PORT (the Ray Client port, 10001). A Ray already started in this process is kept."""
    if ray.is_initialized():
        return
    try:
        ray.init(address=None if address == "auto" else address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise SettingsError(f"Cannot join the Ray cluster at {address} ({exc}). Is its head running (`ray "
                            "start --head`)? HOST:6379 is the head's GCS port, ray://HOST:10001 its Ray Client "
                            "port.") from None


def gateway_lanes(settings: Settings, engines: Mapping[str, Engine]) -> ClusterLanes:
    """The lanes of an agent started with `--cluster`: each worker builds the engines these settings make
    (the pairing token stays with the gateway)."""
    connect(settings.cluster or "auto")
    worker_settings = settings.model_copy(update={"token": None})
    return ClusterLanes(engines, functools.partial(build_engines, worker_settings), settings.cluster_worker_cpus,
                        settings.cluster_max_workers)
