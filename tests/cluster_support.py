"""What the studio-mode tests share: a local Ray cluster whose workers can build the tests' engines
(tests/ is on their PYTHONPATH: see cluster_engines.py), jobs and a look at the gateway's workers."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from conftest import TOKEN, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.server.serve import RunningAgent

TESTS = Path(__file__).resolve().parent
W, H = 96, 64
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (30, 16, 36, 32))


def start_ray(cpus: int) -> None:
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}})


async def fill(client: AgentClient, job_id: str, variants: int = 2, model: str | None = None,
               engine: str | None = None) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(variants=variants, seed=5, model=model, engine=engine, steps=2), IMAGE, MASK)


async def health(agent: RunningAgent, token: str = TOKEN) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(
            agent.http_url + "/health", headers={"Authorization": f"Bearer {token}"}) as response:
        body: dict[str, Any] = await response.json()
    return body


async def worker_of(agent: RunningAgent, job_id: str) -> dict[str, Any]:
    """The worker running `job_id` now, as /health shows it to an admin."""
    workers = (await health(agent))["cluster"]["workers"]
    return next(worker for worker in workers if worker["running_job"] == job_id)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
