"""A bounded job queue that takes turns between owners (connections).

A client that submits ten jobs does not make a second client wait for all
ten: `get` serves owners round-robin, each in its own submission order. An
owner may also be held to a number of waiting jobs, so that one storm of
submits cannot take every place and leave later clients only `queue_full`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    pass


class OwnerFull(Exception):
    """The owner already has as many jobs waiting as it may."""


class FairQueue(Generic[T]):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._lanes: OrderedDict[str, deque[tuple[str, T]]] = OrderedDict()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def put(self, owner: str, key: str, item: T, owner_limit: int | None = None) -> None:
        """Queue `item`; `owner_limit` caps the owner's waiting jobs (None: only the queue's size does)."""
        if len(self) >= self.max_size:
            raise QueueFull()
        if owner_limit is not None and len(self._lanes.get(owner, ())) >= owner_limit:
            raise OwnerFull()
        self._lanes.setdefault(owner, deque()).append((key, item))
        self._ready.set()

    def remove(self, key: str) -> T | None:
        for owner, lane in self._lanes.items():
            for entry in lane:
                if entry[0] == key:
                    lane.remove(entry)
                    if not lane:
                        del self._lanes[owner]
                    return entry[1]
        return None

    def order(self) -> list[str]:
        """Keys in the order `get` will return them."""
        lanes = [list(lane) for lane in self._lanes.values()]
        keys: list[str] = []
        depth = 0
        while any(depth < len(lane) for lane in lanes):
            keys += [lane[depth][0] for lane in lanes if depth < len(lane)]
            depth += 1
        return keys

    def position(self, key: str) -> int | None:
        """1 for the next job to run; None when not queued."""
        order = self.order()
        return order.index(key) + 1 if key in order else None

    async def get(self) -> T:
        while not self._lanes:
            self._ready.clear()
            await self._ready.wait()
        owner, lane = next(iter(self._lanes.items()))
        _, item = lane.popleft()
        del self._lanes[owner]
        if lane:
            # The owner goes to the back of the line behind everyone else waiting.
            self._lanes[owner] = lane
        return item
