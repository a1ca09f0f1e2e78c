"""The fair queue: round-robin between users, then between each user's connections; bounded, removable."""

from __future__ import annotations

import asyncio

import pytest

from underpaint.jobs.queue import FairQueue, QueueFull, UserFull, UserLimits


async def test_owners_take_turns() -> None:
    queue: FairQueue[str] = FairQueue(10)
    for key in ("a1", "a2", "a3"):
        queue.put("a", key, key)
    queue.put("b", "b1", "b1")
    assert queue.order() == ["a1", "b1", "a2", "a3"]
    assert [await queue.get() for _ in range(4)] == ["a1", "b1", "a2", "a3"]


async def test_users_take_turns_before_their_connections_do() -> None:
    queue: FairQueue[str] = FairQueue(10)
    for owner, user in (("ann-ps", "ann"), ("ann-figma", "ann"), ("ben-ps", "ben")):
        queue.sign_in(owner, user, UserLimits())
    for key in ("a1", "a2"):
        queue.put("ann-ps", key, key)
    for key in ("a3", "a4"):
        queue.put("ann-figma", key, key)
    for key in ("b1", "b2"):
        queue.put("ben-ps", key, key)
    expected = ["a1", "b1", "a3", "b2", "a2", "a4"]
    assert queue.order() == expected
    assert [await queue.get() for _ in range(6)] == expected


async def test_a_full_queue_refuses_more() -> None:
    queue: FairQueue[str] = FairQueue(1)
    queue.put("a", "1", "1")
    with pytest.raises(QueueFull):
        queue.put("b", "2", "2")


async def test_a_user_at_max_queued_is_refused_whatever_the_connection() -> None:
    queue: FairQueue[str] = FairQueue(10)
    for owner, user in (("ann-ps", "ann"), ("ann-figma", "ann"), ("ben-ps", "ben")):
        queue.sign_in(owner, user, UserLimits(max_queued=1))
    queue.put("ann-ps", "1", "1")
    assert queue.user_room("ann-figma") == 0
    with pytest.raises(UserFull):
        queue.put("ann-figma", "2", "2")
    queue.put("ben-ps", "3", "3")


async def test_a_user_at_max_running_waits_while_others_are_served() -> None:
    queue: FairQueue[str] = FairQueue(10)
    queue.sign_in("ann-ps", "ann", UserLimits(max_running=1))
    queue.sign_in("ben-ps", "ben", UserLimits())
    for owner, key in (("ann-ps", "a1"), ("ann-ps", "a2"), ("ben-ps", "b1"), ("ben-ps", "b2")):
        queue.put(owner, key, key)
    assert [await queue.get() for _ in range(3)] == ["a1", "b1", "b2"]
    held = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not held.done()
    queue.release("a1")
    assert await asyncio.wait_for(held, 1) == "a2"
    assert queue.running("ann") == 1


async def test_releasing_twice_or_an_unknown_key_changes_nothing() -> None:
    queue: FairQueue[str] = FairQueue(10)
    queue.sign_in("a", "ann", UserLimits())
    queue.put("a", "1", "1")
    await queue.get()
    queue.release("1")
    queue.release("1")
    queue.release("never")
    assert queue.running("ann") == 0


async def test_jobs_stay_in_their_users_lane_after_the_connection_signs_out() -> None:
    queue: FairQueue[str] = FairQueue(10)
    queue.sign_in("ann-ps", "ann", UserLimits(max_running=1))
    queue.put("ann-ps", "a1", "a1")
    queue.sign_out("ann-ps")
    assert queue.user_of("ann-ps") is None
    assert await queue.get() == "a1"
    assert queue.running("ann") == 1


async def test_a_removed_job_is_not_returned() -> None:
    queue: FairQueue[str] = FairQueue(3)
    queue.put("a", "1", "one")
    queue.put("a", "2", "two")
    assert queue.remove("1") == "one"
    assert queue.remove("missing") is None
    assert queue.position("2") == 1
    assert await queue.get() == "two"
