"""The queue takes turns between users first, then between each user's connections; a user's limit on
waiting jobs holds whatever connection they submit from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import TOKEN, GatedEngine, make_settings
from test_fairness import reply_to
from underpaint.client.agent_client import AgentClient, Target
from underpaint.core import Mode, Params, Rect, Size
from underpaint.server.app import MANAGER
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Accepted, Error
from users_support import IMAGE, MASK, SIDE, add_users, connect, submit


async def hold_the_engine(agent: RunningAgent, gated: GatedEngine) -> AgentClient:
    """A job of the pairing token's, running and held by the gated engine, so the others wait in the queue."""
    holder = await connect(agent, TOKEN, "holder")
    await submit(holder, "hold")
    assert await asyncio.to_thread(gated.steps_waiting.wait, 10)
    return holder


@pytest.fixture
async def limited(tmp_path: Path, gated: GatedEngine) -> AsyncIterator[tuple[RunningAgent, dict[str, str]]]:
    settings = make_settings(tmp_path)
    tokens = add_users(settings, "ann", "ben", max_queued=1)
    agent = await start_agent(settings, {"classic": gated})
    yield agent, tokens
    gated.open_fully()
    await agent.stop()


async def test_users_take_turns_even_when_one_has_two_connections(tmp_path: Path, gated: GatedEngine) -> None:
    settings = make_settings(tmp_path)
    tokens = add_users(settings, "ann", "ben")
    agent = await start_agent(settings, {"classic": gated})
    try:
        holder = await hold_the_engine(agent, gated)
        ann_ps = await connect(agent, tokens["ann"], "photoshop")
        ann_figma = await connect(agent, tokens["ann"], "figma")
        ben = await connect(agent, tokens["ben"])
        plan = [(ann_ps, "a1"), (ann_ps, "a2"), (ann_figma, "a3"), (ben, "b1")]
        for client, job_id in plan:
            await submit(client, job_id)
            assert isinstance(await reply_to(client, job_id), Accepted)
        gated.open_fully()
        await asyncio.gather(holder.follow("hold"), ann_ps.follow_all(["a1", "a2"]), ann_figma.follow("a3"),
                             ben.follow("b1"))
        for client in (holder, ann_ps, ann_figma, ben):
            await client.close()
        history = agent.runner.app[MANAGER].history
        started = sorted((history.get(job_id)["started_at"], job_id) for _, job_id in plan)
    finally:
        await agent.stop()
    # Connection by connection it would be a1, a3, b1, a2: Ann's second plugin would double her share.
    assert [job_id for _, job_id in started] == ["a1", "b1", "a3", "a2"]


async def test_a_user_at_max_queued_is_refused_from_any_connection(
        limited: tuple[RunningAgent, dict[str, str]], gated: GatedEngine) -> None:
    agent, tokens = limited
    holder = await hold_the_engine(agent, gated)
    async with await connect(agent, tokens["ann"], "photoshop") as ann_ps, \
            await connect(agent, tokens["ann"], "figma") as ann_figma:
        await submit(ann_ps, "a1")
        assert isinstance(await reply_to(ann_ps, "a1"), Accepted)
        for client, job_id in ((ann_ps, "a2"), (ann_figma, "a3")):
            await submit(client, job_id)
            refused = await reply_to(client, job_id)
            assert isinstance(refused, Error) and (refused.code, refused.retryable) == ("user_queue_full", True)
    await holder.close()


async def test_another_user_still_queues_when_one_is_at_max_queued(
        limited: tuple[RunningAgent, dict[str, str]], gated: GatedEngine) -> None:
    agent, tokens = limited
    holder = await hold_the_engine(agent, gated)
    async with await connect(agent, tokens["ann"]) as ann, await connect(agent, tokens["ben"]) as ben:
        await submit(ann, "a1")
        assert isinstance(await reply_to(ann, "a1"), Accepted)
        await submit(ben, "b1")
        assert isinstance(await reply_to(ben, "b1"), Accepted)
    await holder.close()


async def test_a_set_larger_than_a_users_room_is_refused_whole(
        limited: tuple[RunningAgent, dict[str, str]], gated: GatedEngine) -> None:
    agent, tokens = limited
    holder = await hold_the_engine(agent, gated)
    whole = Rect(x=0, y=0, width=SIDE, height=SIDE)
    targets = [Target(f"set-{index}", Size(width=SIDE, height=SIDE), whole, IMAGE, MASK) for index in range(2)]
    async with await connect(agent, tokens["ann"]) as ann:
        await ann.submit_set("set-of-two", Mode.FILL, Params(), targets)
        refused, _ = await ann.next_event()
        listed = await ann.list_jobs()
    assert isinstance(refused, Error) and (refused.code, refused.set_id) == ("user_queue_full", "set-of-two")
    assert listed == []
    await holder.close()
