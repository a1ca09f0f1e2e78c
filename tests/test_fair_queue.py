"""The fair queue: round-robin between owners, bounded, removable."""

from __future__ import annotations

import pytest

from underpaint.jobs.queue import FairQueue, QueueFull


async def test_owners_take_turns() -> None:
    queue: FairQueue[str] = FairQueue(10)
    for key in ("a1", "a2", "a3"):
        queue.put("a", key, key)
    queue.put("b", "b1", "b1")
    assert queue.order() == ["a1", "b1", "a2", "a3"]
    assert [await queue.get() for _ in range(4)] == ["a1", "b1", "a2", "a3"]


async def test_a_full_queue_refuses_more() -> None:
    queue: FairQueue[str] = FairQueue(1)
    queue.put("a", "1", "1")
    with pytest.raises(QueueFull):
        queue.put("b", "2", "2")


async def test_a_removed_job_is_not_returned() -> None:
    queue: FairQueue[str] = FairQueue(3)
    queue.put("a", "1", "one")
    queue.put("a", "2", "two")
    assert queue.remove("1") == "one"
    assert queue.remove("missing") is None
    assert queue.position("2") == 1
    assert await queue.get() == "two"
