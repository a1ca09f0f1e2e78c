"""A job is `done` only once its files are on disk: a write that fails, or that a dying agent never
finishes, ends the job in an error and leaves nothing behind, never a download link that gives 404."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from agent_process import SERVE_KILLED_BY_FILE_LIMIT, agent_env, file_size_limit, start_server, stop, underpaint
from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient, JobOutcome
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import start_agent

# The PSD of this fill is several MiB, far past LIMIT; the history database stays well below it.
W, H = 800, 600
LIMIT = 1 << 20
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (250, 200, 300, 200))


def ws_url(env: dict[str, str]) -> str:
    return f"ws://127.0.0.1:{env['UNDERPAINT_PORT']}/v1/ws"


async def fill(client: AgentClient, job_id: str) -> None:
    await client.submit(job_id, Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                        Params(variants=1), IMAGE, MASK)


async def fill_and_follow(env: dict[str, str], job_id: str) -> JobOutcome:
    async with await AgentClient.connect(ws_url(env), underpaint(env, "token").stdout.strip()) as client:
        await fill(client, job_id)
        return await client.follow(job_id)


async def fill_until_the_agent_dies(env: dict[str, str], job_id: str) -> None:
    client = await AgentClient.connect(ws_url(env), underpaint(env, "token").stdout.strip())
    await fill(client, job_id)
    try:
        while True:
            await client.next_event()
    except ConnectionClosed:
        pass


async def resume(env: dict[str, str], job_id: str) -> list[object]:
    seen: list[object] = []
    async with await AgentClient.connect(ws_url(env), underpaint(env, "token").stdout.strip()) as client:
        await client.resume(job_id, 0)
        await client.follow(job_id, on_event=seen.append)
    return seen


@pytest.fixture(scope="module")
def disk_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobOutcome, Path]:
    """A job run by an agent that may not write a file past LIMIT bytes (writes fail with EFBIG)."""
    env = agent_env(tmp_path_factory.mktemp("disk-full"))
    process = start_server(env, preexec_fn=file_size_limit(LIMIT))
    try:
        outcome = asyncio.run(fill_and_follow(env, "too-big"))
    finally:
        stop(process)
    return outcome, Path(env["UNDERPAINT_DATA_DIR"]) / "results"


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[object], Path]]:
    """A job whose agent was killed while it wrote the job's files, resumed from 0 after a restart."""
    env = agent_env(tmp_path_factory.mktemp("cut-short"))
    results = Path(env["UNDERPAINT_DATA_DIR"]) / "results"
    dying = start_server(env, SERVE_KILLED_BY_FILE_LIMIT, file_size_limit(LIMIT))
    restarted: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(fill_until_the_agent_dies(env, "cut-short"))
        dying.wait(timeout=60)
        assert dying.returncode == -signal.SIGXFSZ, "the agent died writing a file"
        assert list(results.rglob(".*.tmp")), "the write it died in left its temporary file"
        restarted = start_server(env)
        yield asyncio.run(resume(env, "cut-short")), results
    finally:
        dying.kill()
        if restarted is not None:
            stop(restarted)


def test_a_job_whose_files_cannot_be_written_ends_in_a_retryable_result_not_saved_error(
        disk_full: tuple[JobOutcome, Path]) -> None:
    outcome, _ = disk_full
    assert outcome.state == "error" and outcome.error is not None
    assert (outcome.error.code, outcome.error.retryable) == ("result_not_saved", True)


def test_a_job_whose_files_cannot_be_written_leaves_none_of_them(disk_full: tuple[JobOutcome, Path]) -> None:
    _, results = disk_full
    assert not (results / "too-big").exists()


def test_a_job_cut_short_while_its_files_were_written_ends_in_agent_restarted_after_a_restart(
        cut_short: tuple[list[object], Path]) -> None:
    replay, _ = cut_short
    final = replay[-1]
    assert (getattr(final, "type", None), getattr(final, "code", None)) == ("error", "agent_restarted")


def test_nothing_of_a_job_cut_short_is_left_in_the_results_folder(cut_short: tuple[list[object], Path]) -> None:
    _, results = cut_short
    assert not (results / "cut-short").exists()


def test_the_error_of_a_job_cut_short_is_numbered_after_its_saved_events(
        cut_short: tuple[list[object], Path]) -> None:
    replay, _ = cut_short
    seqs = [getattr(message, "seq", None) for message in replay]
    assert len(seqs) > 1 and seqs == sorted(set(seqs)), "the saved events, then the error after the last of them"


async def test_temporary_files_left_by_a_killed_write_are_removed_at_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    folder = settings.results_dir / "earlier"
    folder.mkdir(parents=True)
    (folder / "result.psd").write_bytes(b"a finished file")
    (folder / ".variant-1.png.k2x9q1.tmp").write_bytes(b"half a file")
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    await agent.stop()
    assert sorted(p.name for p in folder.iterdir()) == ["result.psd"]
