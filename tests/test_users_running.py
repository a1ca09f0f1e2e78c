"""A user's `max_running` holds on an agent that runs several jobs at once: with two lanes free, the queue
hands the second to another user's job rather than to a user already running their limit."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from conftest import GatedEngine, make_settings
from underpaint.core import JobSpec
from underpaint.engines.base import Engine
from underpaint.server.app import MANAGER
from underpaint.server.serve import start_agent
from underpaint.wire.messages import ClusterInfo
from users_support import add_users, connect, submit

T = TypeVar("T")


class TwoLanes:
    """Two local lanes, each running a job's engine step on its own thread: a studio of two workers without
    Ray, as jobs/lanes.py's `Lanes` asks."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = engines
        self.busy = 0
        self.changed = asyncio.Event()
        self.threads = ThreadPoolExecutor(2, thread_name_prefix="test-lane")

    async def start(self) -> None:
        return None

    async def free(self) -> None:
        while self.busy >= 2:
            self.changed.clear()
            await self.changed.wait()

    def acquire(self, spec: JobSpec, engine: str, avoid: frozenset[str] = frozenset()) -> TwoLanesLease:
        del spec, avoid
        self.busy += 1
        return TwoLanesLease(self, self.engines[engine])

    def info(self, queued: int) -> ClusterInfo | None:
        del queued
        return None

    async def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)


class TwoLanesLease:
    def __init__(self, lanes: TwoLanes, engine: Engine) -> None:
        self.lanes = lanes
        self.engine = engine
        self.worker: str | None = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.lanes.threads, work, *args)

    def release(self, lost: bool = False) -> None:
        del lost
        self.lanes.busy -= 1
        self.lanes.changed.set()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_user_at_max_running_waits_while_another_users_job_takes_the_free_lane(
        tmp_path: Path, gated: GatedEngine) -> None:
    settings = make_settings(tmp_path)
    tokens = add_users(settings, "ann", max_running=1) | add_users(settings, "ben")
    engines: dict[str, Engine] = {"classic": gated}
    agent = await start_agent(settings, engines, TwoLanes(engines))
    try:
        jobs = agent.runner.app[MANAGER].jobs
        async with await connect(agent, tokens["ann"]) as ann, await connect(agent, tokens["ben"]) as ben:
            for client, job_id in ((ann, "a1"), (ann, "a2"), (ben, "b1")):
                await submit(client, job_id)
                await until(partial(operator.contains, jobs, job_id))  # queued in this order
            await until(lambda: jobs["a1"].state == jobs["b1"].state == "running")
            assert jobs["a2"].state == "queued"
            gated.open_fully()
            await asyncio.gather(ann.follow_all(["a1", "a2"]), ben.follow("b1"))
    finally:
        gated.open_fully()
        await agent.stop()
