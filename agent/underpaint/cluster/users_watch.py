"""Open connections signed in with a user's token, closed as soon as that token stops being valid.

A handshake and an HTTP request check the store each time, so a removed or
rotated token is refused at once; a websocket opened before that would stay
open, so the agent watches the store (its `data_version`, one cheap read per
tick) and closes the connections whose token is gone.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from underpaint.cluster.users import UserStore

log = logging.getLogger(__name__)
WATCH_SECONDS = 0.25
Close = Callable[[], Awaitable[None]]


class SignedInConnections:
    def __init__(self, store: UserStore, interval: float = WATCH_SECONDS) -> None:
        self.store = store
        self.interval = interval
        self._open: dict[object, tuple[str, Close]] = {}

    def add(self, token_digest: str, close: Close) -> object:
        """Watch a connection signed in with the token of `token_digest`; `close` ends it. Returns its handle."""
        handle = object()
        self._open[handle] = (token_digest, close)
        return handle

    def discard(self, handle: object) -> None:
        self._open.pop(handle, None)

    async def watch(self) -> None:
        """Runs until cancelled."""
        seen: tuple[int, int] | None = None
        while True:
            try:
                if (version := self.store.version()) != seen:
                    seen = version
                    await self.close_revoked()
            except sqlite3.Error:
                # A store busy or briefly unreadable is read again at the next tick; the watch goes on.
                log.exception("reading the user store failed")
            await asyncio.sleep(self.interval)

    async def close_revoked(self) -> None:
        valid = self.store.digests()
        revoked = [handle for handle, (digest, _) in self._open.items() if digest not in valid]
        closes = [self._open.pop(handle)[1] for handle in revoked]
        if closes:
            log.info("closing %d connection(s) whose user was removed or given a new token", len(closes))
        for outcome in await asyncio.gather(*(close() for close in closes), return_exceptions=True):
            if isinstance(outcome, Exception):
                log.warning("closing a revoked connection failed: %s", outcome)
