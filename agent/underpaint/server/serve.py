"""Starting and stopping the agent: used by `underpaint serve`, tests and benchmarks."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from underpaint.config import Settings, SettingsError
from underpaint.engines.base import Engine
from underpaint.jobs.lanes import Lanes
from underpaint.server.app import build_app
from underpaint.wire.messages import WEBSOCKET_PATH


@dataclass
class RunningAgent:
    runner: web.AppRunner
    host: str
    port: int
    tls: bool = False

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http", "ws", 1) + WEBSOCKET_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_agent(settings: Settings, engines: Mapping[str, Engine], lanes: Lanes | None = None) -> RunningAgent:
    """Listen on settings.host:port (port 0 picks a free one) and return once serving; `lanes`: where jobs'
    engine steps run (see build_app)."""
    # aiohttp arms its keep-alive timer when a connection opens and closes the connection if no whole
    # request has arrived by then, so it is also the deadline for a request's headers (a client trickling
    # header bytes is cut off). It never touches a websocket: that is a request being handled.
    tls = tls_context(settings)
    runner = web.AppRunner(build_app(settings, engines, lanes), access_log=None, handle_signals=False,
                           keepalive_timeout=settings.http_header_timeout)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    return RunningAgent(runner, settings.host, port, tls is not None)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The agent's TLS from `tls_certificate` and `tls_private_key` (None: plain HTTP); a half-set pair
    or files that do not load stop the start, never fall back to clear text."""
    certificate, key = settings.tls_certificate, settings.tls_private_key
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        given, missing = ("tls_certificate", "tls_private_key") if key is None else \
            ("tls_private_key", "tls_certificate")
        raise SettingsError(f"{given} is set but {missing} is not: TLS needs both the certificate chain and "
                            "its private key (PEM files).")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key)
    except OSError as exc:  # ssl.SSLError is one: a file that is not PEM, or a key of another certificate
        raise SettingsError(f"Cannot serve TLS with the certificate {certificate} and the key {key}: "
                            f"{exc.strerror or exc}.") from None
    return context
