"""A bounded job queue that takes turns between users, then between each user's connections.

A designer who submits ten jobs does not make a colleague wait for all ten,
and opening a second connection does not buy a bigger share: `get` serves
users round-robin and, within a user's turn, that user's owners (connections)
round-robin, each in its own submission order. Jobs of no named user (the
pairing token, the hot folder) share one user lane, so without users the
queue takes turns between connections as it always did. A connection
signs in as its user (`sign_in`) before it submits.

Limits: an owner may be held to a number of waiting jobs (one storm of
submits cannot take every place), a user to a number of waiting jobs and to
a number of jobs running at once; `get` hands out a job only while its user
is below that, and `release` says a job stopped running.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
ANONYMOUS = ""
"""The user lane of jobs submitted without a named user."""


class QueueFull(Exception):
    pass


class OwnerFull(Exception):
    """The owner already has as many jobs waiting as it may."""


class UserFull(Exception):
    """The user already has as many jobs waiting as their limit (the argument) allows."""


@dataclass(frozen=True)
class UserLimits:
    """A user's share: None leaves it to the queue's size (waiting) or the runners (running)."""

    max_queued: int | None = None
    max_running: int | None = None


_Lane = deque[tuple[str, T]]


class FairQueue(Generic[T]):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        # user -> owner -> that owner's jobs in submission order; both levels in turn order.
        self._users: OrderedDict[str, OrderedDict[str, _Lane[T]]] = OrderedDict()
        self._limits: dict[str, UserLimits] = {}
        self._running: dict[str, str] = {}  # key -> user, from `get` until `release`
        self._owners: dict[str, tuple[str, UserLimits]] = {}  # connection -> its signed-in user
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return sum(len(lane) for owners in self._users.values() for lane in owners.values())

    def sign_in(self, owner: str, user: str, limits: UserLimits) -> None:
        """From now on `owner`'s jobs are `user`'s, held to `limits` (they replace the user's earlier ones)."""
        self._owners[owner] = (user, limits)

    def sign_out(self, owner: str) -> None:
        """The connection is gone; its jobs already queued stay in their user's lane."""
        self._owners.pop(owner, None)

    def user_of(self, owner: str) -> str | None:
        """The named user behind `owner`, None for the pairing token, the hot folder and the agent's own doors."""
        signed_in = self._owners.get(owner)
        return None if signed_in is None else signed_in[0]

    def user_room(self, owner: str) -> int | None:
        """How many more jobs `owner`'s user may have waiting (None: as many as the queue holds)."""
        user, limits = self._owners.get(owner, (ANONYMOUS, UserLimits()))
        if limits.max_queued is None:
            return None
        return max(0, limits.max_queued - sum(len(lane) for lane in self._users.get(user, {}).values()))

    def put(self, owner: str, key: str, item: T, owner_limit: int | None = None) -> None:
        """Queue `item` for `owner` (a connection) in its user's lane; `owner_limit` caps the owner's waiting
        jobs (None: only the queue's size does), the user's limits their waiting jobs."""
        if len(self) >= self.max_size:
            raise QueueFull()
        user, limits = self._owners.get(owner, (ANONYMOUS, UserLimits()))
        owners = self._users.get(user, OrderedDict())
        if owner_limit is not None and len(owners.get(owner, ())) >= owner_limit:
            raise OwnerFull()
        if self.user_room(owner) == 0:
            raise UserFull(limits.max_queued)
        self._limits[user] = limits
        self._users.setdefault(user, owners).setdefault(owner, deque()).append((key, item))
        self._changed.set()

    def remove(self, key: str) -> T | None:
        for user, owners in self._users.items():
            for owner, lane in owners.items():
                for entry in lane:
                    if entry[0] == key:
                        lane.remove(entry)
                        self._drop_if_empty(user, owner)
                        return entry[1]
        return None

    def release(self, key: str) -> None:
        """The job `get` handed out as `key` stopped running: its user may run another. Idempotent."""
        if self._running.pop(key, None) is not None:
            self._changed.set()

    def running(self, user: str) -> int:
        return Counter(self._running.values())[user]

    def order(self) -> list[str]:
        """Keys in the order `get` will return them while no user is held back by `max_running`."""
        users = [_interleave([list(lane) for lane in owners.values()]) for owners in self._users.values()]
        return [key for key, _ in _interleave(users)]

    def position(self, key: str) -> int | None:
        """1 for the next job to run; None when not queued."""
        order = self.order()
        return order.index(key) + 1 if key in order else None

    async def get(self) -> T:
        while (user := self._next_user()) is None:
            self._changed.clear()
            await self._changed.wait()
        owners = self._users.pop(user)
        owner, lane = next(iter(owners.items()))
        key, item = lane.popleft()
        del owners[owner]
        # Whoever was served goes to the back of the line: the owner within its user, the user among users.
        if lane:
            owners[owner] = lane
        if owners:
            self._users[user] = owners
        self._running[key] = user
        return item

    def _next_user(self) -> str | None:
        """The first user in turn who has a job waiting and room to run it."""
        for user in self._users:
            limit = self._limits.get(user, UserLimits()).max_running
            if limit is None or self.running(user) < limit:
                return user
        return None

    def _drop_if_empty(self, user: str, owner: str) -> None:
        owners = self._users[user]
        if not owners[owner]:
            del owners[owner]
        if not owners:
            del self._users[user]


def _interleave(lanes: list[list[tuple[str, T]]]) -> list[tuple[str, T]]:
    """One from each lane in turn, lanes in order, until every lane is used up."""
    merged: list[tuple[str, T]] = []
    depth = 0
    while any(depth < len(lane) for lane in lanes):
        merged += [lane[depth] for lane in lanes if depth < len(lane)]
        depth += 1
    return merged
