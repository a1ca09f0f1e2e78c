"""A job whose outputs or originals cannot be written ends in failed/ with the reason, and frees its slot.

Tests may run as root, where permissions do not stop writes, so a folder is made
unwritable by replacing it with a file.
"""

from __future__ import annotations

import resource
import shutil
import signal
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import textured_rgba
from hotfolder_support import drop, error_of, journal, live_agent, names, small_job, until, wait_until, watch_process
from underpaint.hotfolder.service import MAX_IN_FLIGHT

FILE_LIMIT = 1 << 20
"""Bytes a file may grow to under the 'disk full' test: room for the history, not for a 512x512 PSD."""


def replace_with_a_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_bytes(b"not a folder")


async def test_outputs_that_cannot_be_written_end_the_job_in_failed_with_write_failed(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        replace_with_a_file(hot / "out")
        small_job(tmp_path / "stage", "blocked")
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: "blocked.error.json" in names(hot / "failed"), 30, "the job to fail")
    error = error_of(hot / "failed", "blocked")
    assert error["code"] == "write_failed"
    assert "Not a directory" in error["message"] and error["message"].endswith(".")
    assert names(hot / "failed") == ["blocked.error.json", "blocked.mask.png", "blocked.png"]
    assert names(hot / "processing") == [] and names(hot / "done") == []
    assert [(r["state"], r["error_code"]) for r in journal(tmp_path / "data" / "history.sqlite3")] == [
        ("failed", "write_failed")]


async def test_failed_writes_free_their_slots_so_more_jobs_than_slots_all_end(tmp_path: Path) -> None:
    hot, count = tmp_path / "hot", MAX_IN_FLIGHT + 2
    async with live_agent(tmp_path) as agent:
        del agent
        replace_with_a_file(hot / "out")
        for index in range(count):
            small_job(tmp_path / "stage", f"job{index}", seed=index)
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "failed")) == 3 * count, 60, "every job to fail")
    assert names(hot / "in") == [] and names(hot / "processing") == []
    assert {r["state"] for r in journal(tmp_path / "data" / "history.sqlite3")} == {"failed"}


async def test_a_job_failed_by_a_write_error_succeeds_when_its_originals_go_back_into_in(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        replace_with_a_file(hot / "out")
        small_job(tmp_path / "stage", "retry")
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: "retry.error.json" in names(hot / "failed"), 30, "the job to fail")
        (hot / "out").unlink()
        (hot / "out").mkdir()
        for original in ("retry.mask.png", "retry.png"):
            (hot / "failed" / original).rename(hot / "in" / original)
        await until(lambda: len(names(hot / "done")) == 2, 30, "the retried job to finish")
    assert names(hot / "out") == ["retry"] and "retry.psd" in names(hot / "out" / "retry")
    rows = journal(tmp_path / "data" / "history.sqlite3")
    assert [(r["name"], r["state"]) for r in rows] == [("retry", "failed"), ("retry", "done")]


async def test_originals_that_cannot_be_moved_to_done_end_the_job_in_failed_with_move_failed(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        replace_with_a_file(hot / "done")
        small_job(tmp_path / "stage", "stuck")
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: "stuck.error.json" in names(hot / "failed"), 30, "the job to fail")
    assert error_of(hot / "failed", "stuck")["code"] == "move_failed"
    assert names(hot / "failed") == ["stuck.error.json", "stuck.mask.png", "stuck.png"]
    assert names(hot / "out") == [] and names(hot / "processing") == []


async def test_a_job_that_cannot_be_filed_anywhere_still_frees_its_slot(tmp_path: Path) -> None:
    hot, count = tmp_path / "hot", MAX_IN_FLIGHT + 1
    async with live_agent(tmp_path) as agent:
        del agent
        replace_with_a_file(hot / "out")
        replace_with_a_file(hot / "failed")
        for index in range(count):
            small_job(tmp_path / "stage", f"job{index}", seed=index)
        drop(tmp_path / "stage", hot / "in")
        db = tmp_path / "data" / "history.sqlite3"
        await until(lambda: [r["state"] for r in journal(db)] == ["failing"] * count, 60,
                    "every job to be claimed and left failing")
    # Each stays in processing/, journalled as failing, for the next start to file in failed/.
    assert names(hot / "in") == [] and len(names(hot / "processing")) == count


def limit_file_size() -> None:
    """In the child before exec: files stop growing at FILE_LIMIT, and EFBIG is an error, not a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def test_a_disk_that_fills_up_during_a_job_ends_it_in_failed_saying_so(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    (hot / "in").mkdir(parents=True)
    mask = np.zeros((512, 512), np.uint8)
    mask[250:262, 250:262] = 255
    Image.fromarray(mask).save(hot / "in" / "full.mask.png")
    Image.fromarray(textured_rgba(512, 512)).save(hot / "in" / "full.png")
    agent = watch_process(hot, tmp_path, preexec_fn=limit_file_size)
    try:
        wait_until(lambda: "full.error.json" in names(hot / "failed"), 60, "the job to fail")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0
    error = error_of(hot / "failed", "full")
    # The agent's own result files are the first to hit the limit; the hot folder files the agent's error.
    assert error["code"] == "result_not_saved" and "File too large" in error["message"]
    assert names(hot / "failed") == ["full.error.json", "full.mask.png", "full.png"]
    assert names(hot / "processing") == [] and names(hot / "out") == []
