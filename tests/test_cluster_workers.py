"""Studio mode on a real local Ray cluster: jobs' engine steps run on Ray workers, through a gateway
that real websocket clients talk to as to any agent."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner

from agent_process import agent_env, start_server, stop
from cluster_engines import STEP_SECONDS, paced_engines, studio_engines
from cluster_support import fill, health, start_ray, until, worker_of
from conftest import TOKEN, make_settings
from underpaint.cli import main
from underpaint.client.agent_client import AgentClient
from underpaint.cluster.gateway import ClusterLanes
from underpaint.core import ErrorCode
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.history import HistoryStore
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Cancelled, Done, Progress, Result

# One Ray cluster of 4 (logical) CPUs for the module, and one gateway over two of them: workers take
# seconds to start. The other two are for the gateways of single tests.
pytestmark = [pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[str]:
    """The cluster's GCS address."""
    import ray

    start_ray(cpus=4)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(data: Path) -> AsyncIterator[RunningAgent]:
    """A gateway with two workers (one CPU each) whose classic engine takes STEP_SECONDS a step."""
    lanes = ClusterLanes({"classic": ClassicEngine()}, paced_engines, worker_cpus=1, max_workers=2)
    agent = await start_agent(make_settings(data), {"classic": ClassicEngine()}, lanes)
    yield agent
    await agent.stop()


def history_worker(data: Path, job_id: str) -> str | None:
    history = HistoryStore(make_settings(data).history_path)
    try:
        row = history.get(job_id)
        return None if row is None else row["worker"]
    finally:
        history.close()


async def workers_idle(agent: RunningAgent) -> bool:
    return all(worker["state"] == "idle" for worker in (await health(agent))["cluster"]["workers"])


async def connect(agent: RunningAgent) -> AgentClient:
    return await AgentClient.connect(agent.ws_url, TOKEN)


async def test_two_jobs_run_at_once_on_two_workers(gateway: RunningAgent, data: Path) -> None:
    async with await connect(gateway) as client:
        await fill(client, "one")
        await fill(client, "two")
        outcomes = await client.follow_all(["one", "two"])
    assert [outcome.state for outcome in outcomes.values()] == ["done", "done"]
    assert {history_worker(data, "one"), history_worker(data, "two")} == {"worker-1", "worker-2"}


async def test_steps_and_variants_stream_from_the_worker_as_they_happen(gateway: RunningAgent) -> None:
    seen: list[Any] = []
    async with await connect(gateway) as client:
        await fill(client, "streamed")
        outcome = await client.follow("streamed", on_event=seen.append)
    kinds = [(type(m).__name__, getattr(m, "variant", None)) for m in seen if not isinstance(m, Progress)
             or m.step > 0]
    first_result = kinds.index(("Result", 0))
    # Variant 0's steps, then its result, before variant 1's steps: nothing waits for the job's end.
    assert set(kinds[1:first_result]) == {("Progress", 0)} and len(kinds[1:first_result]) >= 2
    assert kinds[first_result + 1] == ("Progress", 1)
    assert kinds[-2:] == [("Result", 1), ("Done", None)]
    assert len(outcome.variants) == 2 and outcome.variants[0].pixels.shape == (64, 96, 4)


async def test_the_handshake_and_health_show_the_owner_the_workers(gateway: RunningAgent) -> None:
    async with await connect(gateway) as client:
        cluster = client.welcome.capabilities.cluster
    assert cluster is not None and [w.name for w in cluster.workers] == ["worker-1", "worker-2"]
    assert all(w.state == "idle" and w.pid > 0 and w.device == "cpu" for w in cluster.workers)
    shown = await health(gateway)
    assert shown["workers"] == 2 and len(shown["cluster"]["workers"]) == 2


async def test_underpaint_cluster_prints_the_workers_and_the_queue(gateway: RunningAgent, tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path), "UNDERPAINT_TOKEN": TOKEN}
    result = await asyncio.to_thread(CliRunner().invoke, main, ["cluster", "--port", str(gateway.port)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 worker(s), 0 job(s) queued" in result.output
    rows = [line for line in result.output.splitlines() if "worker-" in line]
    assert len(rows) == 2 and all("idle" in row and "cpu" in row for row in rows)


async def test_cancel_stops_the_job_on_its_worker_between_steps(gateway: RunningAgent) -> None:
    steps = 0
    async with await connect(gateway) as client:
        await fill(client, "stopped", variants=4)
        async for message, _ in client.job_events(["stopped"]):
            if isinstance(message, Progress) and message.step > 0:
                steps += 1
                if steps == 1:
                    ran_on = (await worker_of(gateway, "stopped"))["name"]
                    await client.cancel("stopped")
    assert isinstance(message, Cancelled)
    # 20 steps of STEP_SECONDS were asked for; the worker stopped within a step or two of the cancel.
    assert steps <= 3

    async def worker_free() -> bool:
        worker = next(w for w in (await health(gateway))["cluster"]["workers"] if w["name"] == ran_on)
        return bool(worker["state"] == "idle" and worker["running_job"] is None)

    await until(worker_free, 10 * STEP_SECONDS)


async def test_a_worker_killed_mid_job_costs_one_retry_with_one_done_and_every_seq_once(
        gateway: RunningAgent, data: Path) -> None:
    await until(lambda: workers_idle(gateway))
    seen: list[Any] = []
    async with await connect(gateway) as client:
        await fill(client, "survivor")
        async for message, _ in client.job_events(["survivor"]):
            seen.append(message)
            if isinstance(message, Result) and message.variant == 0:
                first = await worker_of(gateway, "survivor")
                os.kill(first["pid"], signal.SIGKILL)
    seqs = [message.seq for message in seen]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [type(m) for m in seen].count(Done) == 1 and isinstance(seen[-1], Done)
    # Variant 0 went out before the worker died: the retry made it again but did not send it again.
    assert [m.variant for m in seen if isinstance(m, Result)] == [0, 1]
    assert history_worker(data, "survivor") not in (None, first["name"])


async def test_a_job_that_kills_its_workers_twice_ends_as_a_problem_job(gateway: RunningAgent) -> None:
    await until(lambda: workers_idle(gateway))
    killed: list[int] = []
    async with await connect(gateway) as client:
        await fill(client, "poison")
        async for message, _ in client.job_events(["poison"]):
            if isinstance(message, Progress) and message.step == 1:
                killed.append((await worker_of(gateway, "poison"))["pid"])
                os.kill(killed[-1], signal.SIGKILL)
    assert len(killed) == 2
    assert message.type == "error" and message.code == ErrorCode.PROBLEM_JOB and not message.retryable


async def test_workers_that_died_idle_cost_the_next_job_nothing(gateway: RunningAgent) -> None:
    await until(lambda: workers_idle(gateway))
    for worker in (await health(gateway))["cluster"]["workers"]:
        os.kill(worker["pid"], signal.SIGKILL)
    async with await connect(gateway) as client:
        await fill(client, "after-the-crash")
        outcome = await client.follow("after-the-crash")
    # Found dead (or seen dead by the gateway's look) before the job began there: not the job's fault.
    assert outcome.state == "done"


async def test_a_job_goes_to_the_worker_that_has_its_model_warm(registry_path: Path, engine: Engine,
                                                                tmp_path: Path) -> None:
    settings = make_settings(tmp_path, models_file=registry_path)
    engines: dict[str, Engine] = {"classic": ClassicEngine(), "diffusers": engine}
    lanes = ClusterLanes(engines, functools.partial(studio_engines, settings), worker_cpus=1, max_workers=2)
    agent = await start_agent(settings, engines, lanes)
    try:
        async with await connect(agent) as client:
            for job_id in ("sd2-first", "sd2-again"):
                await fill(client, job_id, variants=1, model="sd2", engine="diffusers")
                assert (await client.follow(job_id)).state == "done"
        shown = {w["name"]: w["loaded_models"] for w in (await health(agent))["cluster"]["workers"]}
    finally:
        await agent.stop()
    first, again = history_worker(tmp_path, "sd2-first"), history_worker(tmp_path, "sd2-again")
    (other,) = set(shown) - {first}
    # Both workers hold the default model they preloaded; the first job's also holds sd2. Least loaded, the
    # other would take the second job: warm wins.
    assert again == first and "sd2" in shown[first] and "sd2" not in shown[other]


async def test_a_gateway_without_workers_refuses_jobs_as_retryable_no_workers(tmp_path: Path) -> None:
    # Workers of 8 CPUs each on a 4-CPU cluster: none fits.
    lanes = ClusterLanes({"classic": ClassicEngine()}, paced_engines, worker_cpus=8)
    agent = await start_agent(make_settings(tmp_path), {"classic": ClassicEngine()}, lanes)
    try:
        async with await connect(agent) as client:
            await fill(client, "nobody")
            outcome = await client.follow("nobody")
    finally:
        await agent.stop()
    assert outcome.error is not None and outcome.error.code == ErrorCode.NO_WORKERS and outcome.error.retryable


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_killed_gateway_leaves_no_workers_and_its_jobs_end_as_agent_restarted(
        ray_cluster: str, tmp_path: Path) -> None:
    env = agent_env(tmp_path) | {"UNDERPAINT_CLUSTER": ray_cluster, "UNDERPAINT_CLUSTER_WORKER_CPUS": "1",
                                 "UNDERPAINT_CLUSTER_MAX_WORKERS": "1", "UNDERPAINT_TOKEN": TOKEN}
    url = f"ws://127.0.0.1:{env['UNDERPAINT_PORT']}/v1/ws"
    process = await asyncio.to_thread(start_server, env)
    try:
        async with await AgentClient.connect(url, TOKEN) as client:
            (worker,) = client.welcome.capabilities.cluster.workers  # type: ignore[union-attr]
            await fill(client, "cut-short", variants=16)
            async for message, _ in client.job_events(["cut-short"]):
                if isinstance(message, Progress) and message.step > 0:
                    break
            process.kill()
    finally:
        await asyncio.to_thread(stop, process, signal.SIGKILL)
    assert worker.pid > 0

    async def worker_gone() -> bool:
        return not running(worker.pid)

    # The worker was the gateway's: Ray ends it with its owner, mid-job.
    await until(worker_gone)
    process = await asyncio.to_thread(start_server, env)
    try:
        async with await AgentClient.connect(url, TOKEN) as client:
            await client.resume("cut-short", 0)
            outcome = await client.follow("cut-short")
    finally:
        await asyncio.to_thread(stop, process)
    assert outcome.error is not None and outcome.error.code == ErrorCode.AGENT_RESTARTED
