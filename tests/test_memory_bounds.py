"""The agent's memory follows bytes that arrived, never sizes that were announced.

Memory is read from /proc/self/status of this process, which runs the agent:
a bound on growth, never a time.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.frames import encode_frame
from wsraw import open_raw, recv_json

MIB = 1024 * 1024


def status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match, field
    return int(match[1])


def resident() -> int:
    return status_kib("VmRSS") * 1024


def reset_peak() -> int:
    """Start a new peak (VmHWM) from the resident memory now, and return that."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_kib("VmHWM") * 1024


def announce(job_id: str, width: int, height: int) -> dict[str, Any]:
    """A raw fill submit for a width x height region; its bytes are the sender's to send, or not."""
    size = {"width": width, "height": height}
    return {
        "type": "submit", "job_id": job_id, "mode": "fill", "document": size,
        "region": {"x": 0, "y": 0, **size},
        "image": {"stream": f"{job_id}/image", "format": "rgba8", **size, "bytes": width * height * 4},
        "mask": {"stream": f"{job_id}/mask", "format": "gray8", **size, "bytes": width * height},
    }


async def handled(ws: ClientConnection) -> list[dict[str, Any]]:
    """Everything the agent answered to the messages sent so far (it handles them in order)."""
    await ws.send(json.dumps({"type": "list_jobs"}))
    replies = []
    while (reply := await recv_json(ws))["type"] != "jobs":
        replies.append(reply)
    return replies


def zero_png(width: int, height: int) -> bytes:
    """A transparent RGBA PNG: a few hundred kilobytes that decode to width * height * 4 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), bytes(1 + width * 4)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def test_an_announced_upload_takes_memory_only_as_its_bytes_arrive(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    before = resident()
    await ws.send(json.dumps(announce("big", 8000, 6000)))  # 240 MB announced
    await ws.send(encode_frame("big/image", 0, 192, bytes(MIB)))  # 1 MiB of it sent
    assert await handled(ws) == []
    assert resident() - before < 32 * MIB


async def test_many_connections_announcing_large_uploads_stay_within_the_upload_budget(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, upload_memory_mb=64.0, upload_memory_per_connection_mb=32.0)
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        clients = [await open_raw(agent.ws_url) for _ in range(8)]
        before = resident()
        refusals = []
        for index, ws in enumerate(clients):
            for job in range(3):  # 30 MB each, 720 MB announced in all
                await ws.send(json.dumps(announce(f"c{index}-{job}", 3000, 2000)))
            await ws.send(encode_frame(f"c{index}-0/image", 0, 24, bytes(MIB)))
            refusals += await handled(ws)
        grown = resident() - before
    finally:
        await agent.stop()
    assert grown < 64 * MIB
    # Two uploads fit the agent's budget, one per connection: the other 22 are refused, retryably.
    assert [(r["code"], r["retryable"]) for r in refusals] == [("upload_budget_exceeded", True)] * 22


async def test_a_png_whose_header_claims_more_pixels_than_announced_is_refused_before_decoding(
        agent: RunningAgent) -> None:
    png = zero_png(8000, 8000)  # 256 MB once decoded
    side = 200
    submit = announce("liar", side, side)
    submit["image"] = {"stream": "liar/image", "format": "png", "width": side, "height": side, "bytes": len(png)}
    ws = await open_raw(agent.ws_url)
    start = reset_peak()
    await ws.send(json.dumps(submit))
    await ws.send(encode_frame("liar/image", 0, 1, png))
    await ws.send(encode_frame("liar/mask", 0, 1, bytes(side * side)))
    reply = await recv_json(ws)
    peak = status_kib("VmHWM") * 1024
    assert (reply["type"], reply["code"]) == ("error", "size_mismatch")
    assert "8000x8000" in reply["message"]
    assert peak - start < 64 * MIB


W, H = 160, 120
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (50, 40, 60, 40))


async def run_job(client: AgentClient, job_id: str) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(), IMAGE, MASK)
    assert (await client.follow(job_id)).state == "done"


async def test_older_finished_jobs_beyond_the_resume_memory_resume_without_their_pixels(tmp_path: Path) -> None:
    # One job's result frames (about 96 KB) are more than the 50 KB kept.
    agent = await start_agent(make_settings(tmp_path, resume_memory_mb=0.05), {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await run_job(client, "older")
            await run_job(client, "newer")
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.resume("older", 0)
            outcome = await client.follow("older")
    finally:
        await agent.stop()
    assert outcome.state == "done" and outcome.variants == []


async def test_the_newest_finished_job_keeps_its_pixels_even_beyond_the_resume_memory(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, resume_memory_mb=0.05), {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await run_job(client, "only")
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.resume("only", 0)
            outcome = await client.follow("only")
    finally:
        await agent.stop()
    assert [variant.index for variant in outcome.variants] == [0]
