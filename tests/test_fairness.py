"""No client takes the whole queue, and no client sees or touches another client's jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from conftest import TOKEN, GatedEngine, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.jobs.queue import FairQueue, OwnerFull
from underpaint.server.serve import RunningAgent
from underpaint.server.serve import start_agent as start
from underpaint.wire.messages import Accepted, Error, ListJobs, Progress

W, H = 160, 120
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (50, 40, 60, 40))


async def submit(client: AgentClient, job_id: str) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(), IMAGE, MASK)


async def reply_to(client: AgentClient, job_id: str) -> Accepted | Error:
    while True:
        message, _ = await client.next_event()
        if isinstance(message, Accepted | Error) and message.job_id == job_id:
            return message


async def connect(agent: RunningAgent, name: str) -> AgentClient:
    return await AgentClient.connect(agent.ws_url, TOKEN, client_name=name)


@pytest.fixture
async def small_queue(tmp_path: Path, gated: GatedEngine) -> AsyncIterator[RunningAgent]:
    """Four places, at most two of them waiting for one connection."""
    agent = await start(make_settings(tmp_path, queue_size=4, queue_share=0.5), {"classic": gated})
    yield agent
    gated.open_fully()
    await agent.stop()


async def storm(client: AgentClient, count: int) -> list[Accepted | Error]:
    """`count` submits, the first of them running (held by the gated engine) before the others."""
    await submit(client, "storm-0")
    replies = [await reply_to(client, "storm-0")]
    while not isinstance((await client.next_event())[0], Progress):
        pass
    for index in range(1, count):
        await submit(client, f"storm-{index}")
        replies.append(await reply_to(client, f"storm-{index}"))
    return replies


def test_the_queue_refuses_an_owner_over_its_limit_and_still_takes_others() -> None:
    queue: FairQueue[str] = FairQueue(10)
    queue.put("a", "a1", "a1", owner_limit=1)
    with pytest.raises(OwnerFull):
        queue.put("a", "a2", "a2", owner_limit=1)
    queue.put("b", "b1", "b1", owner_limit=1)
    assert queue.order() == ["a1", "b1"]


async def test_one_connection_holds_at_most_its_share_of_the_queue(small_queue: RunningAgent) -> None:
    async with await connect(small_queue, "stormy") as client:
        replies = await storm(client, 5)
    codes = [reply.code if isinstance(reply, Error) else "accepted" for reply in replies]
    assert codes == ["accepted"] * 3 + ["client_queue_full"] * 2
    assert all(reply.retryable for reply in replies if isinstance(reply, Error))


async def test_another_client_still_gets_a_place_after_one_connections_storm(small_queue: RunningAgent) -> None:
    async with await connect(small_queue, "stormy") as stormy, await connect(small_queue, "calm") as calm:
        await storm(stormy, 6)
        await submit(calm, "calm-1")
        reply = await reply_to(calm, "calm-1")
    assert isinstance(reply, Accepted)


async def test_list_jobs_shows_a_client_only_its_own_jobs(agent: RunningAgent) -> None:
    async with await connect(agent, "photoshop") as owner, await connect(agent, "figma") as other:
        await submit(owner, "mine")
        await owner.follow("mine")
        theirs = await other.list_jobs()
        own = await owner.list_jobs()
    assert theirs == []
    assert [job.job_id for job in own] == ["mine"]


async def test_resuming_another_clients_job_answers_unknown_job(agent: RunningAgent) -> None:
    async with await connect(agent, "photoshop") as owner, await connect(agent, "figma") as other:
        await submit(owner, "private")
        await owner.follow("private")
        await other.resume("private", 0)
        message, payloads = await other.next_event()
    assert isinstance(message, Error) and (message.code, message.job_id) == ("unknown_job", "private")
    assert payloads == {}


async def test_cancelling_another_clients_job_answers_unknown_job_and_the_job_runs_on(
        gated_agent: RunningAgent, gated: GatedEngine) -> None:
    async with await connect(gated_agent, "photoshop") as owner, await connect(gated_agent, "figma") as other:
        await submit(owner, "keep-going")
        while not isinstance((await owner.next_event())[0], Progress):
            pass
        await other.cancel("keep-going")
        await other.ws.send(ListJobs().model_dump_json())  # answered after the cancel, whatever it did
        refusal, _ = await other.next_event()
        gated.open_fully()
        outcome = await owner.follow("keep-going")
    assert isinstance(refusal, Error) and refusal.code == "unknown_job"
    assert outcome.state == "done"


async def test_reusing_another_clients_job_id_is_a_conflict_not_a_replay(agent: RunningAgent) -> None:
    async with await connect(agent, "photoshop") as owner, await connect(agent, "figma") as other:
        await submit(owner, "taken")
        await owner.follow("taken")
        await submit(other, "taken")  # the same request and pixels
        reply = await reply_to(other, "taken")
    assert isinstance(reply, Error) and reply.code == "job_id_conflict"


async def test_a_client_reconnecting_under_its_name_can_cancel_its_job(
        gated_agent: RunningAgent, gated: GatedEngine) -> None:
    async with await connect(gated_agent, "photoshop") as before:
        await submit(before, "mine")
        while not isinstance((await before.next_event())[0], Progress):
            pass
    async with await connect(gated_agent, "photoshop") as after:
        await after.cancel("mine")
        await after.resume("mine", 0)
        outcome = await after.follow("mine")
    assert outcome.state == "cancelled"


async def test_the_http_cancel_route_cancels_only_the_named_clients_job(
        gated_agent: RunningAgent, gated: GatedEngine) -> None:
    url = f"{gated_agent.http_url}/v1/jobs/held/cancel"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with await connect(gated_agent, "photoshop") as owner, aiohttp.ClientSession(headers=headers) as http:
        await submit(owner, "held")
        while not isinstance((await owner.next_event())[0], Progress):
            pass
        async with http.post(url, json={}) as nameless, http.post(url, json={"client": "figma"}) as other:
            refused = (nameless.status, (await other.json())["error"], other.status)
        async with http.post(url, json={"client": "photoshop"}) as own:
            accepted = own.status
        outcome = await owner.follow("held")
    assert refused == (400, "unknown_job", 404)
    assert accepted == 200 and outcome.state == "cancelled"
