"""Starting and stopping the agent: used by `underpaint serve`, tests and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.server.app import build_app
from underpaint.wire.messages import WEBSOCKET_PATH


@dataclass
class RunningAgent:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http://", "ws://", 1) + WEBSOCKET_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_agent(settings: Settings, engines: Mapping[str, Engine]) -> RunningAgent:
    """Listen on settings.host:port (port 0 picks a free one) and return once serving."""
    # aiohttp arms its keep-alive timer when a connection opens and closes the connection if no whole
    # request has arrived by then, so it is also the deadline for a request's headers (a client trickling
    # header bytes is cut off). It never touches a websocket: that is a request being handled.
    runner = web.AppRunner(build_app(settings, engines), access_log=None, handle_signals=False,
                           keepalive_timeout=settings.http_header_timeout)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    return RunningAgent(runner, settings.host, port)
