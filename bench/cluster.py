"""`make bench`: studio mode's throughput and the gateway's overhead, on a local Ray cluster.

The same 24 classic-engine fills go through a gateway with 1, 2 and 3 Ray workers (one logical CPU
each), submitted at once by one websocket client, and through the single-process agent, each agent
its own `underpaint serve` process: jobs per minute from the first submit to the last `done`, then
one job alone, for the gateway's cost per job against the single-process agent (one worker against
the agent's one engine thread, same run). Each setting runs ROUNDS times after a warm-up; the
medians are shown.

Prints a Markdown section for docs/benchmarks.md, with the CPU and its bf16/AMX flags.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import tempfile
import time
from pathlib import Path

import ray

from run import ellipse, machine, textured
from run import start_agent as start_server
from speed import cpu_flags, load_average
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size

JOBS, ROUNDS, SINGLES, SIDE = 24, 2, 8, 192
TOKEN = "bench-token-0123456789"
IMAGE, MASK = textured(SIDE, SIDE), ellipse(SIDE, SIDE, (48, 48, 96, 96))


async def round_of_jobs(url: str, prefix: str) -> float:
    """Seconds from the first submit of JOBS fills to the last one's `done`."""
    async with await AgentClient.connect(url, TOKEN) as client:
        ids = [f"{prefix}-{index}" for index in range(JOBS)]
        start = time.perf_counter()
        for index, job_id in enumerate(ids):
            await client.submit(job_id, Mode.FILL, Size(width=SIDE, height=SIDE),
                                Rect(x=0, y=0, width=SIDE, height=SIDE), Params(variants=1, seed=index), IMAGE, MASK)
        outcomes = await client.follow_all(ids)
        elapsed = time.perf_counter() - start
    failed = [job_id for job_id, outcome in outcomes.items() if outcome.state != "done"]
    if failed:
        raise RuntimeError(f"jobs failed: {failed}")
    return elapsed


async def one_at_a_time(url: str, prefix: str) -> float:
    """The median seconds of one fill alone, submit to `done`, over SINGLES jobs one after another."""
    seconds = []
    for index in range(SINGLES):
        async with await AgentClient.connect(url, TOKEN) as client:
            start = time.perf_counter()
            await client.submit(f"{prefix}-{index}", Mode.FILL, Size(width=SIDE, height=SIDE),
                                Rect(x=0, y=0, width=SIDE, height=SIDE), Params(variants=1, seed=index), IMAGE, MASK)
            if (await client.follow(f"{prefix}-{index}")).state != "done":
                raise RuntimeError(f"job {prefix}-{index} failed")
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


async def measure(env: dict[str, str], label: str) -> tuple[list[float], float]:
    """Rounds of JOBS at once, and one job alone, on an agent process started with `env`."""
    process = start_server(env)
    url = f"ws://127.0.0.1:{env['UNDERPAINT_PORT']}/v1/ws"
    try:
        await round_of_jobs(url, f"{label}-warm")
        rounds = [await round_of_jobs(url, f"{label}-{index}") for index in range(ROUNDS)]
        return rounds, await one_at_a_time(url, f"{label}-alone")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def agent_env(root: Path, name: str, gcs: str) -> dict[str, str]:
    env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(root / name / "config"), "UNDERPAINT_DATA_DIR": str(root / name),
                        "UNDERPAINT_PORT": str(free_port()), "UNDERPAINT_TOKEN": TOKEN,
                        "UNDERPAINT_QUEUE_SIZE": str(2 * JOBS)}
    if name != "single":
        env |= {"UNDERPAINT_CLUSTER": gcs, "UNDERPAINT_CLUSTER_WORKER_CPUS": "1",
                "UNDERPAINT_CLUSTER_MAX_WORKERS": name}
    return env


async def main() -> None:
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    gcs = ray.get_runtime_context().gcs_address
    root = Path(tempfile.mkdtemp(prefix="underpaint-bench-cluster-"))
    times: dict[str, list[float]] = {}
    alone: dict[str, float] = {}
    for name in ("single", "1", "2", "3"):
        times[name], alone[name] = await measure(agent_env(root, name, gcs), name)
    ray.shutdown()
    medians = {name: statistics.median(values) for name, values in times.items()}
    per_minute = {name: JOBS / seconds * 60 for name, seconds in medians.items()}
    print(f"## Studio mode: Ray workers ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/cluster.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}; load "
          f"average at the end {load_average()}. A local Ray cluster of 3 logical CPUs on this machine; each worker "
          f"an actor of one CPU. Each agent is its own `underpaint serve` process (the gateways with `--cluster`), "
          f"the client this script. {JOBS} classic-engine fills ({SIDE}x{SIDE}, a soft 96x96 selection, one "
          f"variant) submitted at once by one websocket client; medians of {ROUNDS} rounds after a warm-up round.\n")
    print(f"| agent | seconds for the {JOBS} jobs | jobs/min | vs 1 worker | one job alone (median of {SINGLES}) |")
    print("|---|---|---|---|---|")
    print(f"| single process (no Ray) | {medians['single']:.2f} | {per_minute['single']:.1f} | | "
          f"{alone['single']:.3f} s |")
    for name in ("1", "2", "3"):
        print(f"| gateway, {name} worker{'s' if name != '1' else ''} | {medians[name]:.2f} | {per_minute[name]:.1f} "
              f"| {medians['1'] / medians[name]:.2f}x | {alone[name]:.3f} s |")
    print(f"\nGateway overhead per job against the single-process agent, one job alone: "
          f"**{alone['1'] / alone['single']:.2f}x** the time, {(alone['1'] - alone['single']) * 1000:+.0f} ms "
          f"per job: what the work item and the image crossing Ray's object store, the step stream and the "
          f"placement add (a ratio at or below 1 means it is lost in this machine's noise). "
          f"With {JOBS} at once through one worker: {medians['1'] / medians['single']:.2f}x (the gateway composes "
          f"and writes one job while the worker runs the next one's engine step, in another process).")
    print(f"\nOn {os.cpu_count()} cores the scaling is bounded by the cores: the gateway's planner and "
          "composer, the client and every worker share them, so a second or third worker cannot add a core's "
          "worth. On a studio's machines each worker has its own GPU and the gateway's share per job is what "
          "the overhead line shows.")


if __name__ == "__main__":
    asyncio.run(main())
