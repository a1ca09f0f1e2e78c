"""`make bench`: transport and overhead of the agent, measured on this machine.

- round trip of a 4096x4096 RGBA selection over the websocket (upload until
  `accepted`, then the first variant's result frames until the last byte);
- a classic-engine fill through the agent (a separate process, as in real use)
  versus the same fill in-process, interleaved runs, medians and their ratio.

Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np

from underpaint import api
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.wire.frames import StreamAssembler, decode_frame
from underpaint.wire.messages import Accepted, Done, Error, Result, agent_message_adapter

REPEATS = 7


def textured(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([90 + 80 * np.sin(xs / 9), 110 + 50 * np.cos((xs + ys) / 14), 70 + xs / width * 120], -1)
    rgb += rng.normal(0, 10, rgb.shape)
    return np.concatenate([rgb.clip(0, 255), np.full((height, width, 1), 255)], -1).astype(np.uint8)


def ellipse(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sqrt(((xs - (x + w / 2)) / (w / 2)) ** 2 + ((ys - (y + h / 2)) / (h / 2)) ** 2)
    return (np.clip((1 - r) / 0.2, 0, 1) * 255).astype(np.uint8)


def start_agent(env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "underpaint", "serve", "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{env['UNDERPAINT_PORT']}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("agent did not start")


async def transport(url: str, token: str, side: int) -> tuple[float, float]:
    """Seconds to upload image+mask until `accepted`, and to receive one variant's pixels+mask frames."""
    image, mask = textured(side, side), ellipse(side, side, (side // 8, side // 8, side * 3 // 4, side * 3 // 4))
    async with await AgentClient.connect(url, token) as client:
        job_id = f"rt-{time.monotonic_ns()}"
        start = time.perf_counter()
        await client.submit(job_id, Mode.FILL, Size(width=side, height=side), Rect(x=0, y=0, width=side, height=side),
                            Params(variants=1), image, mask)
        upload = download = 0.0
        while True:
            message = agent_message_adapter.validate_json(await client.ws.recv())
            if isinstance(message, Accepted):
                upload = time.perf_counter() - start
            elif isinstance(message, Result):
                # The engine ran before this message; what follows is pure transfer of pre-encoded frames.
                began = time.perf_counter()
                streams = {b.stream: StreamAssembler(b.stream, b.bytes) for b in (message.pixels, message.mask)}
                while not all(a.complete for a in streams.values()):
                    chunk = decode_frame(await client.ws.recv())  # type: ignore[arg-type]
                    streams[chunk.stream].add(chunk)
                pixels = np.frombuffer(streams[message.pixels.stream].data(), np.uint8)
                download = time.perf_counter() - began
                assert pixels.size == message.pixels.bytes
            elif isinstance(message, Done | Error):
                assert isinstance(message, Done), message
                await fetch_psd(url, token, message)
                return upload, download


async def fetch_psd(url: str, token: str, done: Done) -> None:
    """Download the PSD as the CLI does, outside the timings; also lets the agent's file
    writer finish so it does not compete with the next measurement."""
    base = url.replace("ws://", "http://", 1).removesuffix("/v1/ws")
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}) as http, \
            http.get(done.downloads.psd) as response:
        response.raise_for_status()
        await response.read()


async def agent_fill(url: str, token: str, image: np.ndarray, mask: np.ndarray, params: Params) -> float:
    height, width = mask.shape
    async with await AgentClient.connect(url, token) as client:
        start = time.perf_counter()
        job_id = f"fill-{time.monotonic_ns()}"
        await client.submit(job_id, Mode.FILL, Size(width=width, height=height),
                            Rect(x=0, y=0, width=width, height=height), params, image, mask)
        outcome = await client.follow(job_id)
        elapsed = time.perf_counter() - start
        assert outcome.done is not None, outcome.error
        await fetch_psd(url, token, outcome.done)
        return elapsed


def in_process_fill(image: np.ndarray, mask: np.ndarray, params: Params) -> float:
    start = time.perf_counter()
    api.fill(image, mask, **params.model_dump(exclude_unset=True))
    return time.perf_counter() - start


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))) / 2**20
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="underpaint-bench-"))
    env = os.environ | {"UNDERPAINT_PORT": str(port), "UNDERPAINT_CONFIG_DIR": str(folder / "config"),
                        "UNDERPAINT_DATA_DIR": str(folder / "data")}
    agent = start_agent(env)
    token = subprocess.run([sys.executable, "-m", "underpaint", "token"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    url = f"ws://127.0.0.1:{port}/v1/ws"
    try:
        trips = [asyncio.run(transport(url, token, 4096)) for _ in range(3)]
        image, mask = textured(768, 1024), ellipse(768, 1024, (400, 300, 300, 200))
        params = Params(variants=3, seed=7)
        agent_times, local_times = [], []
        for _ in range(REPEATS):
            agent_times.append(asyncio.run(agent_fill(url, token, image, mask, params)))
            local_times.append(in_process_fill(image, mask, params))
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)

    up = statistics.median(t[0] for t in trips)
    down = statistics.median(t[1] for t in trips)
    through, local = statistics.median(agent_times), statistics.median(local_times)
    print(f"## Agent core ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {machine()}\n")
    print("| measure | median | runs |")
    print("|---|---|---|")
    print(f"| 4096x4096 RGBA8 + Gray8 mask upload, submit to `accepted` | {up:.3f} s | 3 |")
    print(f"| 4096x4096 RGBA8 + Gray8 mask result download (one variant) | {down:.3f} s | 3 |")
    print(f"| 4096x4096 round trip (upload + result back) | {up + down:.3f} s | 3 |")
    print(f"| classic fill 1024x768, 300x200 soft selection, 3 variants, in-process | {local:.3f} s | {REPEATS} |")
    print(f"| the same fill through the agent (websocket, separate process) | {through:.3f} s | {REPEATS} |")
    print(f"| ratio agent / in-process | {through / local:.3f} | {REPEATS} |")


if __name__ == "__main__":
    main()
