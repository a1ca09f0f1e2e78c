"""The whole path through a real websocket: pair, submit, stream, download, open."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from psd_tools import PSDImage

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import start_agent
from underpaint.wire.frames import StreamAssembler, decode_frame
from wsraw import open_raw, send_fill

WIDTH, HEIGHT = 320, 240
BOX = (110, 80, 100, 70)


async def test_fill_streams_three_variants_as_chunked_frames_and_a_psd_with_their_layers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, chunk_bytes=16 * 1024)
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    image, mask = textured_rgba(HEIGHT, WIDTH), soft_ellipse(HEIGHT, WIDTH, BOX)
    try:
        ws = await open_raw(agent.ws_url)
        await send_fill(ws, "e2e-1", image, mask, chunk_bytes=16 * 1024, variants=3, seed=11)
        kinds: list[str] = []
        results: list[dict[str, object]] = []
        frames_per_stream: dict[str, int] = {}
        assemblers: dict[str, StreamAssembler] = {}
        done: dict[str, object] = {}
        while not done:
            message = await ws.recv()
            if isinstance(message, bytes):
                chunk = decode_frame(message)
                frames_per_stream[chunk.stream] = frames_per_stream.get(chunk.stream, 0) + 1
                assemblers[chunk.stream].add(chunk)
                continue
            event = json.loads(message)
            kinds.append(event["type"])
            assert event["type"] != "error", event
            if event["type"] == "result":
                results.append(event)
                for blob in (event["pixels"], event["mask"]):
                    assemblers[blob["stream"]] = StreamAssembler(blob["stream"], blob["bytes"])
            if event["type"] == "done":
                done = event
        await ws.close()

        assert kinds[0] == "accepted" and "progress" in kinds and kinds[-1] == "done"
        assert [r["variant"] for r in results] == [0, 1, 2]
        assert [r["seed"] for r in results] == [11, 12, 13]
        assert all(a.complete for a in assemblers.values())
        assert all(count > 1 for count in frames_per_stream.values()), "every stream is chunked"
        first = results[0]
        bounds = first["layer"]["bounds"]  # type: ignore[index]
        pixels = np.frombuffer(assemblers[first["pixels"]["stream"]].data(), np.uint8)  # type: ignore[index]
        assert pixels.size == bounds["width"] * bounds["height"] * 4
        assert bounds["x"] <= BOX[0] and bounds["x"] + bounds["width"] >= BOX[0] + BOX[2]

        psd_url = done["downloads"]["psd"]  # type: ignore[index]
        async with aiohttp.ClientSession(agent.http_url) as http, \
                http.get(psd_url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            psd_path = tmp_path / "result.psd"
            psd_path.write_bytes(await response.read())
    finally:
        await agent.stop()

    psd = PSDImage.open(psd_path)
    assert (psd.width, psd.height) == (WIDTH, HEIGHT)
    background, group = list(psd)
    assert background.name == "Background" and group.is_group()
    layers = list(group)
    assert len(layers) == 3
    for layer in layers:
        assert (layer.left, layer.top, layer.width, layer.height) == (
            bounds["x"], bounds["y"], bounds["width"], bounds["height"])
        assert layer.mask is not None
    assert sorted(layer.visible for layer in layers) == [False, False, True]

    identify = subprocess.run(["identify", "-format", "%w %h %X %Y\n", str(psd_path)],
                              capture_output=True, text=True, check=True)
    frames = identify.stdout.split("\n")[:-1]
    assert frames[:2] == [f"{WIDTH} {HEIGHT} +0 +0"] * 2, "composite, then the background"
    expected = f"{bounds['width']} {bounds['height']} +{bounds['x']} +{bounds['y']}"
    assert frames[2:] == [expected] * 3, "one frame per variant at its offset"


@pytest.mark.parametrize("result_format", ["png"])
async def test_png_results_are_sent_when_asked_for(agent, result_format: str) -> None:  # type: ignore[no-untyped-def]
    from underpaint.client.agent_client import AgentClient
    from underpaint.core import Mode, Params, Rect, Size

    image, mask = textured_rgba(96, 128), soft_ellipse(96, 128, (40, 30, 40, 30))
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("png-1", Mode.FILL, Size(width=128, height=96), Rect(x=0, y=0, width=128, height=96),
                            Params(variants=1), image, mask, upload_format="png", result_format=result_format)
        outcome = await client.follow("png-1")
    assert outcome.state == "done"
    assert outcome.variants[0].pixels.shape[2] == 4
