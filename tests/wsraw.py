"""A raw `websockets` connection for tests that must see the wire itself."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from conftest import TOKEN
from underpaint.wire.frames import chunk_frames


async def open_raw(url: str, token: str = TOKEN, hello: bool = True, **options: Any) -> ClientConnection:
    ws = await connect(url, max_size=64 << 20, compression=None, **options)
    if hello:
        await ws.send(json.dumps({"type": "hello", "protocol": "1.0", "client": {"name": "test"}, "token": token}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
    return ws


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    """The next text message, skipping binary frames."""
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            parsed: dict[str, Any] = json.loads(message)
            return parsed


async def recv_until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Text messages up to and including the first of `kind`."""
    seen = []
    while True:
        message = await recv_json(ws)
        seen.append(message)
        if message["type"] == kind or (message["type"] == "error" and kind != "error"):
            return seen


def fill_submit(job_id: str, image: np.ndarray, mask: np.ndarray, **params: Any) -> dict[str, Any]:
    height, width = mask.shape
    return {
        "type": "submit", "job_id": job_id, "mode": "fill", "params": params,
        "document": {"width": width, "height": height},
        "region": {"x": 0, "y": 0, "width": width, "height": height},
        "image": {"stream": f"{job_id}/image", "format": "rgba8", "width": width, "height": height,
                  "bytes": image.nbytes},
        "mask": {"stream": f"{job_id}/mask", "format": "gray8", "width": width, "height": height,
                 "bytes": mask.nbytes},
    }


async def send_fill(ws: ClientConnection, job_id: str, image: np.ndarray, mask: np.ndarray,
                    chunk_bytes: int = 1 << 20, **params: Any) -> None:
    await ws.send(json.dumps(fill_submit(job_id, image, mask, **params)))
    for frame in chunk_frames(f"{job_id}/image", image.tobytes(), chunk_bytes):
        await ws.send(frame)
    for frame in chunk_frames(f"{job_id}/mask", mask.tobytes(), chunk_bytes):
        await ws.send(frame)
