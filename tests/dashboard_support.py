"""For the agent's page tests: a signed-in HTTP session against a live agent, and small real jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from conftest import TOKEN, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient, JobOutcome
from underpaint.core import Mode, Params, Rect, Size
from underpaint.server.serve import RunningAgent

SIDE = 48
API = "/dashboard/api"


def page_session(agent: RunningAgent, **options: Any) -> aiohttp.ClientSession:
    """A browser-like session: cookies kept, and the agent's own Origin on every request, as the page sends."""
    headers = {"Origin": agent.http_url} | options.pop("headers", {})
    # unsafe: the jar keeps cookies of IP-address hosts such as 127.0.0.1.
    options.setdefault("cookie_jar", aiohttp.CookieJar(unsafe=True))
    return aiohttp.ClientSession(agent.http_url, headers=headers, **options)


async def signed_in(agent: RunningAgent) -> aiohttp.ClientSession:
    session = page_session(agent)
    async with session.post(f"{API}/session", json={"token": TOKEN}) as response:
        assert response.status == 200, await response.text()
    return session


async def run_fill(agent: RunningAgent, job_id: str, prompt: str = "a kite", variants: int = 2, seed: int = 7,
                   set_id: str | None = None, client_name: str = "pytest-plugin") -> JobOutcome:
    """A real classic fill of a small textured image through the websocket, followed to its end."""
    params = Params(prompt=prompt, variants=variants, seed=seed)
    async with await AgentClient.connect(agent.ws_url, TOKEN, client_name=client_name) as client:
        await client.submit(job_id, Mode.FILL, Size(width=SIDE, height=SIDE), Rect(x=0, y=0, width=SIDE, height=SIDE),
                            params, textured_rgba(SIDE, SIDE), soft_ellipse(SIDE, SIDE, (12, 12, 24, 24)),
                            set_id=set_id)
        return await client.follow(job_id)


async def get_json(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(API + path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post_json(session: aiohttp.ClientSession, path: str, body: Any) -> tuple[int, Any]:
    async with session.post(API + path, json=body) as response:
        return response.status, await response.json()


async def ended(session: aiohttp.ClientSession, job_id: str, timeout: float = 30.0) -> Any:
    """The page's view of a job once it has ended (done, error or cancelled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with session.get(f"{API}/jobs/{job_id}") as response:
            if response.status == 200 and (job := await response.json())["state"] not in ("queued", "running"):
                return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")
