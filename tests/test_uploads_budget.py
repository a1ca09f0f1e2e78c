"""Uploads are bounded by the bytes they announce: per connection and for the whole agent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.frames import chunk_frames
from wsraw import fill_submit, open_raw, recv_json, send_fill

W, H = 400, 300
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (150, 100, 100, 80))
ANNOUNCED = IMAGE.nbytes + MASK.nbytes  # 600,000 bytes a submit announces
MIB = 1024 * 1024


@pytest.fixture
async def tight(tmp_path: Path) -> AsyncIterator[RunningAgent]:
    """Room for one upload per connection (1 MiB) and two on the agent (1.5 MiB)."""
    settings = make_settings(tmp_path, upload_memory_per_connection_mb=1.0, upload_memory_mb=1.5)
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    yield agent
    await agent.stop()


async def first_reply(ws: ClientConnection) -> dict[str, Any]:
    """What the agent says first to the messages sent so far: `jobs`, the answer to a list_jobs sent
    after them, when they got no answer. Reads up to that answer, so the next call starts afresh."""
    await ws.send(json.dumps({"type": "list_jobs"}))
    first = reply = await recv_json(ws)
    while reply["type"] != "jobs":
        reply = await recv_json(ws)
    return first


async def ending_of(ws: ClientConnection, job_id: str) -> list[str]:
    """The types of a job's messages up to its terminal one (other jobs' messages skipped)."""
    kinds = []
    while True:
        message = await recv_json(ws)
        if message.get("job_id") == job_id:
            kinds.append(message["type"])
            if message["type"] in ("done", "error", "cancelled"):
                return kinds


async def test_announcing_beyond_the_connections_budget_is_refused_with_a_retryable_code(
        tight: RunningAgent) -> None:
    ws = await open_raw(tight.ws_url)
    await ws.send(json.dumps(fill_submit("first", IMAGE, MASK)))
    await ws.send(json.dumps(fill_submit("second", IMAGE, MASK)))
    reply = await first_reply(ws)
    assert (reply["type"], reply.get("code"), reply.get("job_id")) == ("error", "upload_budget_exceeded", "second")
    assert reply["retryable"] is True and reply["message"].endswith(".")


async def test_a_connection_over_its_budget_leaves_its_earlier_upload_intact(tight: RunningAgent) -> None:
    ws = await open_raw(tight.ws_url)
    await ws.send(json.dumps(fill_submit("kept", IMAGE, MASK)))
    await ws.send(json.dumps(fill_submit("refused", IMAGE, MASK)))
    for stream, data in (("kept/image", IMAGE), ("kept/mask", MASK)):
        for frame in chunk_frames(stream, data.tobytes()):
            await ws.send(frame)
    kinds = await ending_of(ws, "kept")
    assert (kinds[0], kinds[-1]) == ("accepted", "done")


async def test_when_uploads_hold_the_agents_budget_another_connection_is_refused(tight: RunningAgent) -> None:
    holders = [await open_raw(tight.ws_url) for _ in range(2)]
    for index, holder in enumerate(holders):
        await holder.send(json.dumps(fill_submit(f"hold-{index}", IMAGE, MASK)))
        assert (await first_reply(holder))["type"] == "jobs"
    late = await open_raw(tight.ws_url)
    await late.send(json.dumps(fill_submit("late", IMAGE, MASK)))
    reply = await first_reply(late)
    assert (reply.get("code"), reply.get("retryable")) == ("upload_budget_exceeded", True)


async def test_a_finished_upload_returns_its_bytes_to_the_connections_budget(tight: RunningAgent) -> None:
    ws = await open_raw(tight.ws_url)
    for job in ("one", "two"):
        await send_fill(ws, job, IMAGE, MASK)
        assert (await ending_of(ws, job))[-1] == "done"


async def test_a_refused_upload_can_be_retried_once_the_connection_holding_the_budget_is_gone(
        tight: RunningAgent) -> None:
    leavers = [await open_raw(tight.ws_url) for _ in range(2)]
    for index, leaver in enumerate(leavers):
        await leaver.send(json.dumps(fill_submit(f"gone-{index}", IMAGE, MASK)))
        assert (await first_reply(leaver))["type"] == "jobs"
    await leavers[0].close()
    ws = await open_raw(tight.ws_url)
    # Retryable means a later try succeeds: the agent notices the closed connection on its own time.
    for _ in range(100):
        await ws.send(json.dumps(fill_submit("retry", IMAGE, MASK)))
        reply = await first_reply(ws)
        if reply["type"] == "jobs":
            break
        assert reply["code"] == "upload_budget_exceeded"
        await asyncio.sleep(0.05)
    assert reply["type"] == "jobs", "the closed connection's budget never came back"


async def test_an_upload_larger_than_a_connections_whole_budget_is_refused_as_too_large(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, upload_memory_per_connection_mb=ANNOUNCED / MIB / 2),
                              {"classic": ClassicEngine()})
    try:
        ws = await open_raw(agent.ws_url)
        await ws.send(json.dumps(fill_submit("huge", IMAGE, MASK)))
        reply = await first_reply(ws)
    finally:
        await agent.stop()
    assert (reply.get("code"), reply.get("retryable"), reply.get("job_id")) == ("upload_too_large", False, "huge")
