"""A job's events outlive the agent: a client resuming after a restart gets what it missed,
results with their pixels (rebuilt from the job's files), numbered as the first run numbered them."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_process import agent_env, start_server, stop, underpaint
from conftest import TOKEN, GatedEngine, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient, JobOutcome
from underpaint.config import Settings
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Accepted, Progress, Result

W, H = 160, 120
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (50, 40, 60, 40))
Run = tuple[list[Any], JobOutcome]


async def fill(client: AgentClient, job_id: str, result_format: str = "raw") -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(variants=2, seed=7), IMAGE, MASK, result_format=result_format)


async def follow(client: AgentClient, job_id: str) -> Run:
    seen: list[Any] = []
    return seen, await client.follow(job_id, on_event=seen.append)


async def next_of(client: AgentClient, kind: type, job_id: str) -> Any:
    async for message, _ in client.job_events([job_id]):
        if isinstance(message, kind):
            return message
    raise AssertionError(f"{job_id} ended before a {kind.__name__}")


def dumps(messages: list[Any]) -> list[dict[str, Any]]:
    return [message.model_dump() for message in messages]


@pytest.fixture(scope="module")
def killed_after_done(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """A job run by an agent process that is then killed, and the same job resumed from 0 after a restart."""
    env = agent_env(tmp_path_factory.mktemp("restart"))
    url = f"ws://127.0.0.1:{env['UNDERPAINT_PORT']}/v1/ws"

    async def first_run() -> Run:
        async with await AgentClient.connect(url, underpaint(env, "token").stdout.strip()) as client:
            await fill(client, "kept")
            return await follow(client, "kept")

    async def replay() -> Run:
        async with await AgentClient.connect(url, underpaint(env, "token").stdout.strip()) as client:
            await client.resume("kept", 0)
            return await follow(client, "kept")

    process = start_server(env)
    try:
        first = asyncio.run(first_run())
    finally:
        stop(process, signal.SIGKILL)
    process = start_server(env)
    try:
        return first, asyncio.run(replay())
    finally:
        stop(process)


async def run_then_restart(settings: Settings, engines: dict[str, Engine],
                           job: Callable[[AgentClient], Any]) -> tuple[Any, RunningAgent]:
    """`job(client)` against an agent, which then stops; returns its answer and a restarted agent."""
    agent = await start_agent(settings, engines)
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            answer = await job(client)
    finally:
        await agent.stop()
    return answer, await start_agent(settings, {"classic": ClassicEngine()})


async def resume_after_restart(restarted: RunningAgent, job_id: str, after_seq: int = 0) -> Run:
    try:
        async with await AgentClient.connect(restarted.ws_url, TOKEN) as client:
            await client.resume(job_id, after_seq)
            return await follow(client, job_id)
    finally:
        await restarted.stop()


def test_a_client_resuming_after_a_restart_gets_every_event_as_first_sent(killed_after_done: tuple[Run, Run]) -> None:
    (first, _), (replayed, _) = killed_after_done
    assert dumps(replayed) == dumps(first)


def test_results_replayed_after_a_restart_carry_the_first_runs_pixels_and_masks(
        killed_after_done: tuple[Run, Run]) -> None:
    (_, first), (_, replayed) = killed_after_done
    assert [v.index for v in replayed.variants] == [v.index for v in first.variants] == [0, 1]
    for before, after in zip(first.variants, replayed.variants, strict=True):
        assert (after.pixels == before.pixels).all() and (after.mask == before.mask).all()


async def test_png_results_replayed_after_a_restart_are_the_first_runs_png_bytes(settings: Settings) -> None:
    async def payloads(client: AgentClient) -> list[bytes]:
        return [bytes(data) for _, streams in [event async for event in client.job_events(["png"])]
                for data in streams.values()]

    async def first_run(client: AgentClient) -> list[bytes]:
        await fill(client, "png", result_format="png")
        return await payloads(client)

    first, restarted = await run_then_restart(settings, {"classic": ClassicEngine()}, first_run)
    try:
        async with await AgentClient.connect(restarted.ws_url, TOKEN) as client:
            await client.resume("png", 0)
            replayed = await payloads(client)
    finally:
        await restarted.stop()
    assert len(first) == 4 and replayed == first


async def test_resuming_after_a_restart_from_seq_n_replays_only_the_later_events(settings: Settings) -> None:
    async def first_run(client: AgentClient) -> Run:
        await fill(client, "later")
        return await follow(client, "later")

    (first, _), restarted = await run_then_restart(settings, {"classic": ClassicEngine()}, first_run)
    replayed, _ = await resume_after_restart(restarted, "later", after_seq=3)
    assert dumps(replayed) == dumps(first[3:])


async def test_results_whose_files_are_gone_are_left_out_of_a_replay_after_a_restart(settings: Settings) -> None:
    async def first_run(client: AgentClient) -> Run:
        await fill(client, "pruned")
        return await follow(client, "pruned")

    (first, _), restarted = await run_then_restart(settings, {"classic": ClassicEngine()}, first_run)
    shutil.rmtree(settings.results_dir / "pruned")
    replayed, _ = await resume_after_restart(restarted, "pruned")
    assert dumps(replayed) == dumps([message for message in first if not isinstance(message, Result)])


async def test_a_job_cancelled_while_queued_replays_its_acceptance_after_a_restart(tmp_path: Path,
                                                                                  gated: GatedEngine) -> None:
    async def cancel_a_waiting_job(client: AgentClient) -> Accepted:
        await fill(client, "busy")
        await next_of(client, Progress, "busy")
        await fill(client, "waiting")
        accepted: Accepted = await next_of(client, Accepted, "waiting")
        await client.cancel("waiting")
        await client.follow("waiting")
        gated.open_fully()
        return accepted

    accepted, restarted = await run_then_restart(make_settings(tmp_path), {"classic": gated}, cancel_a_waiting_job)
    replayed, outcome = await resume_after_restart(restarted, "waiting")
    assert [(m.type, m.seq) for m in replayed] == [("accepted", 1), ("cancelled", 2)]
    assert replayed[0] == accepted and outcome.state == "cancelled"
