"""Jobs through a live agent: resume, cancel, idempotent submit, fairness, queue limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from conftest import TOKEN, GatedEngine, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.server.app import MANAGER
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Accepted, Cancelled, Done, Error, Progress, Result

W, H = 160, 120
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (50, 40, 60, 40))


async def submit(client: AgentClient, job_id: str, variants: int = 1, seed: int = 0) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(variants=variants, seed=seed), IMAGE, MASK)


async def connect(agent: RunningAgent) -> AgentClient:
    return await AgentClient.connect(agent.ws_url, TOKEN)


async def next_of(client: AgentClient, kind: type, job_id: str | None = None):  # type: ignore[no-untyped-def]
    while True:
        message, _ = await client.next_event()
        if isinstance(message, Error) and not isinstance(message, kind):
            raise AssertionError(message)
        if isinstance(message, kind) and (job_id is None or message.job_id == job_id):
            return message


async def test_a_client_that_reconnects_mid_job_resumes_without_missing_an_event(
        gated_agent: RunningAgent, gated: GatedEngine) -> None:
    first = await connect(gated_agent)
    await submit(first, "resume-1", variants=2)
    seen: list[int] = []
    while True:
        message, _ = await first.next_event()
        seen.append(message.seq)
        if isinstance(message, Result):
            break
        if isinstance(message, Progress):
            gated.release()
    await first.close()
    gated.release(2)  # events produced while nobody listens
    await asyncio.sleep(0.2)

    second = await connect(gated_agent)
    await second.resume("resume-1", after_seq=seen[-1])
    gated.open_fully()
    outcome = await second.follow("resume-1", on_event=lambda m: seen.append(m.seq))
    await second.close()

    assert outcome.state == "done"
    assert [v.index for v in outcome.variants] == [1], "the second variant arrives after the resume"
    assert seen == list(range(1, seen[-1] + 1)), "every sequence number exactly once, in order"


async def test_cancelling_a_waiting_job_removes_it_from_the_queue(gated_agent: RunningAgent,
                                                                  gated: GatedEngine) -> None:
    client = await connect(gated_agent)
    await submit(client, "busy")
    await next_of(client, Progress, "busy")
    await submit(client, "waiting")
    accepted = await next_of(client, Accepted, "waiting")
    assert accepted.queue_position == 1
    await client.cancel("waiting")
    cancelled = await next_of(client, Cancelled, "waiting")
    gated.open_fully()
    await next_of(client, Done, "busy")
    jobs = {job.job_id: job.state for job in await client.list_jobs()}
    await client.close()
    assert cancelled.job_id == "waiting"
    assert jobs == {"busy": "done", "waiting": "cancelled"}


async def test_cancelling_a_running_job_stops_it_between_steps(gated_agent: RunningAgent) -> None:
    client = await connect(gated_agent)
    await submit(client, "running", variants=3)
    await next_of(client, Progress, "running")
    await client.cancel("running")
    outcome = await client.follow("running")
    jobs = await client.list_jobs()
    await client.close()
    assert outcome.state == "cancelled"
    assert outcome.variants == []
    assert jobs[0].state == "cancelled"


async def test_resubmitting_the_same_job_id_and_request_returns_the_same_job(agent: RunningAgent) -> None:
    client = await connect(agent)
    await submit(client, "same", seed=3)
    original = await client.follow("same")
    await client.close()

    again = await connect(agent)
    await submit(again, "same", seed=3)
    accepted = await next_of(again, Accepted, "same")
    replayed = await again.follow("same")
    jobs = await again.list_jobs()
    await again.close()

    assert accepted.duplicate is True
    assert replayed.state == "done" and replayed.done is not None and original.done is not None
    assert replayed.done.recipe == original.done.recipe
    assert (replayed.variants[0].pixels == original.variants[0].pixels).all()
    assert [job.job_id for job in jobs] == ["same"], "ran once"


async def test_reusing_a_job_id_for_a_different_request_is_refused(agent: RunningAgent) -> None:
    client = await connect(agent)
    await submit(client, "taken", seed=1)
    await client.follow("taken")
    await submit(client, "taken", seed=2)
    error = await next_of(client, Error)
    await client.close()
    assert error.code == "job_id_conflict" and error.job_id == "taken"


async def test_the_queue_takes_turns_between_clients(gated_agent: RunningAgent, gated: GatedEngine) -> None:
    busy, patient = await connect(gated_agent), await connect(gated_agent)
    for index in range(4):
        await submit(busy, f"a{index}")
        await next_of(busy, Accepted, f"a{index}")
    await submit(patient, "b0")
    accepted = await next_of(patient, Accepted, "b0")
    gated.open_fully()
    await next_of(patient, Done, "b0")
    for index in range(4):
        await next_of(busy, Done, f"a{index}")
    history = gated_agent.runner.app[MANAGER].history
    started = sorted(["a0", "a1", "a2", "a3", "b0"], key=lambda job: history.get(job)["started_at"])  # type: ignore[index]
    await busy.close()
    await patient.close()
    assert accepted.queue_position == 2, "behind one of the busy client's jobs, not all three"
    assert started == ["a0", "a1", "b0", "a2", "a3"]


async def test_a_full_queue_refuses_new_jobs_with_a_retryable_error(tmp_path: Path, gated: GatedEngine) -> None:
    # One client may fill the whole queue here: this is about the queue's own bound (see test_fairness).
    agent = await start_agent(make_settings(tmp_path, queue_size=2, queue_share=1.0), {"classic": gated})
    try:
        client = await connect(agent)
        await submit(client, "run")
        await next_of(client, Progress, "run")
        for job in ("q1", "q2"):
            await submit(client, job)
            await next_of(client, Accepted, job)
        await submit(client, "overflow")
        error = await next_of(client, Error)
        await client.close()
    finally:
        gated.open_fully()
        await agent.stop()
    assert (error.code, error.retryable, error.job_id) == ("queue_full", True, "overflow")


@pytest.mark.parametrize("job_id", ["ghost"])
async def test_resuming_an_unknown_job_says_so(agent: RunningAgent, job_id: str) -> None:
    client = await connect(agent)
    await client.resume(job_id, 0)
    error = await next_of(client, Error)
    await client.close()
    assert (error.code, error.job_id) == ("unknown_job", job_id)


async def test_old_result_files_are_removed_when_the_store_outgrows_its_limit(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, result_max_total_mb=0.001), {"classic": ClassicEngine()})
    try:
        client = await connect(agent)
        for job in ("old", "new"):
            await submit(client, job)
            await client.follow(job)
        await client.close()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(agent.http_url, headers=headers) as http:
            async with http.get("/v1/jobs/new/result.psd") as response:
                assert response.status == 200
            async with http.get("/v1/jobs/old/result.psd") as response:
                assert response.status == 404
    finally:
        await agent.stop()
