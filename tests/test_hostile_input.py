"""Input shaped to exhaust the agent (deep nesting, trickled headers) is refused or cut off."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conftest import make_settings
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from wsraw import open_raw, recv_json


async def test_json_nested_a_hundred_thousand_deep_is_bad_json(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send("[" * 100_000 + "]" * 100_000)
    error = await recv_json(ws)
    await ws.send(json.dumps({"type": "list_jobs"}))
    assert (error["type"], error["code"]) == ("error", "bad_json")
    assert (await recv_json(ws))["type"] == "jobs", "the connection goes on"


async def test_a_plain_http_connection_that_trickles_its_headers_is_closed(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, http_header_timeout=0.5), {"classic": ClassicEngine()})
    try:
        reader, writer = await asyncio.open_connection(agent.host, agent.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
        closed = False
        for _ in range(200):  # a byte every 50 ms for up to 10 s: twenty times the timeout
            try:
                writer.write(b"a")
                await writer.drain()
                closed = await asyncio.wait_for(reader.read(1024), 0.05) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
            if closed:
                break
        writer.close()
    finally:
        await agent.stop()
    assert closed, "the agent kept a connection open that never finished its headers"
