"""A job id names one request and its pixels; retryable failures free it for another run."""

from __future__ import annotations

from pathlib import Path

from conftest import TOKEN, GatedEngine, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Accepted, Error, Progress

W, H = 160, 120
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (50, 40, 60, 40))


async def submit(client: AgentClient, job_id: str, image: object = IMAGE) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(), image, MASK)  # type: ignore[arg-type]


async def first_reply(client: AgentClient, job_id: str) -> Accepted | Error:
    """The agent's answer to a submit: accepted (maybe a duplicate) or refused."""
    while True:
        message, _ = await client.next_event()
        if isinstance(message, Accepted | Error) and message.job_id == job_id:
            return message


async def test_the_same_job_id_and_request_with_other_pixels_is_a_conflict(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await submit(client, "same")
        await client.follow("same")
        await submit(client, "same", image=textured_rgba(H, W, seed=1))
        reply = await first_reply(client, "same")
    assert isinstance(reply, Error) and (reply.code, reply.job_id) == ("job_id_conflict", "same")


async def test_a_job_that_ended_with_agent_restarted_runs_again_when_resubmitted_under_its_id(
        tmp_path: Path, gated: GatedEngine) -> None:
    settings = make_settings(tmp_path)
    first = await start_agent(settings, {"classic": gated})
    try:
        async with await AgentClient.connect(first.ws_url, TOKEN) as client:
            await submit(client, "interrupted")
            while not isinstance((await client.next_event())[0], Progress):
                pass
    finally:
        await first.stop()  # the job was running: the next start marks it agent_restarted
    second = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(second.ws_url, TOKEN) as client:
            await submit(client, "interrupted")
            reply = await first_reply(client, "interrupted")
            outcome = await client.follow("interrupted")
    finally:
        await second.stop()
    assert isinstance(reply, Accepted) and (reply.duplicate, reply.seq) == (False, 1)
    assert outcome.state == "done" and len(outcome.variants) == 1


async def test_a_submit_refused_as_queue_full_can_be_retried_under_the_same_id(
        tmp_path: Path, gated: GatedEngine) -> None:
    agent = await start_agent(make_settings(tmp_path, queue_size=1), {"classic": gated})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await submit(client, "running")
            await submit(client, "waiting")
            await submit(client, "later")
            refused = await first_reply(client, "later")
            gated.open_fully()
            await client.follow("waiting")
            await submit(client, "later")
            retried = await first_reply(client, "later")
    finally:
        gated.open_fully()
        await agent.stop()
    assert isinstance(refused, Error) and refused.code == "queue_full"
    assert isinstance(retried, Accepted) and retried.duplicate is False
