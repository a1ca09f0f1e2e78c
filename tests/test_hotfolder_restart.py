"""`underpaint watch` as a real process, killed with SIGKILL in the middle of a job and started again."""

from __future__ import annotations

import signal
from pathlib import Path

from hotfolder_support import big_job, check_psd, drop, history, journal, names, small_job, wait_until, watch_process


def test_an_agent_killed_mid_job_and_restarted_finishes_every_job_exactly_once(tmp_path: Path) -> None:
    hot, db = tmp_path / "hot", tmp_path / "data" / "history.sqlite3"
    jobs = [f"job{i}" for i in range(4)]
    for name in jobs:
        big_job(tmp_path / "stage", name)
    first = watch_process(hot, tmp_path)
    try:
        wait_until(lambda: (hot / "in").is_dir(), 60, "the watcher to create its folders")
        drop(tmp_path / "stage", hot / "in")

        def running() -> bool:
            if not db.exists():
                return False
            rows = journal(db)
            return any(r["state"] == "submitted" and r["started_at"] for r in rows) and any(
                r["state"] == "done" for r in rows)

        wait_until(running, 120, "one job done and the next one running")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    interrupted = [r["job_id"] for r in journal(db) if r["state"] == "submitted"]
    assert interrupted and names(hot / "processing") != []

    second = watch_process(hot, tmp_path)
    try:
        wait_until(lambda: len(names(hot / "done")) == 3 * len(jobs), 240, "every job to finish after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0

    assert names(hot / "processing") == [] and names(hot / "failed") == [] and names(hot / "in") == []
    assert names(hot / "out") == jobs
    for name in jobs:
        assert names(hot / "out" / name) == [f"{name}.c2pa", f"{name}.contact.png", f"{name}.psd",
                                             f"{name}.variant-1.png", f"{name}.variant-2.png", "recipe.json"]
        check_psd(hot / "out" / name / f"{name}.psd", variants=2)
    rows = {r["job_id"]: r for r in journal(db)}
    assert sorted(r["name"] for r in rows.values()) == jobs
    assert {r["state"] for r in rows.values()} == {"done"}
    # Jobs found in processing/ were re-queued exactly once; the others ran once.
    assert {job_id: rows[job_id]["attempts"] for job_id in interrupted} == dict.fromkeys(interrupted, 2)
    assert all(r["attempts"] == 1 for job_id, r in rows.items() if job_id not in interrupted)
    states = {j["job_id"]: (j["state"], j["error_code"]) for j in history(db)}
    for job_id in interrupted:
        assert states[job_id] == ("error", "agent_restarted")
        assert states[f"{job_id}.2"] == ("done", None)
    assert sum(state == ("done", None) for state in states.values()) == len(jobs)


KILL_AT = "UNDERPAINT_HOTFOLDER_KILL_AT"
"""The hot folder's fault-injection point (hotfolder/faults.py): the watcher SIGKILLs itself at that step."""
JOBS = ["a", "b", "c"]


def run_until_it_kills_itself(tmp_path: Path, step: str) -> None:
    """Small jobs already in in/, and a watcher told to die half-way through `step` of the first one."""
    for index, name in enumerate(JOBS):
        small_job(tmp_path / "hot" / "in", name, seed=index)
    agent = watch_process(tmp_path / "hot", tmp_path, {KILL_AT: step})
    try:
        assert agent.wait(timeout=60) == -signal.SIGKILL
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


def restart_until_every_job_is_done(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    agent = watch_process(hot, tmp_path)
    try:
        wait_until(lambda: len(names(hot / "done")) == 2 * len(JOBS), 60, "every job to finish after the restart")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0
    assert names(hot / "in") == [] and names(hot / "processing") == [] and names(hot / "failed") == []
    assert names(hot / "out") == JOBS
    assert names(hot / "done") == sorted(f"{name}{suffix}" for name in JOBS for suffix in (".mask.png", ".png"))


def test_an_agent_killed_while_claiming_files_finishes_every_job_exactly_once_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    run_until_it_kills_itself(tmp_path, "claiming")
    [half] = journal(db)
    assert half["state"] == "claiming" and len(names(tmp_path / "hot" / "processing" / half["job_id"])) == 1

    restart_until_every_job_is_done(tmp_path)
    rows = journal(db)
    assert sorted(r["name"] for r in rows) == JOBS
    assert {(r["state"], r["attempts"]) for r in rows} == {("done", 1)}
    assert sorted((j["state"], j["source"]) for j in history(db)) == [("done", "hotfolder")] * len(JOBS)


def test_an_agent_killed_while_moving_originals_finishes_every_job_exactly_once_after_a_restart(
        tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.sqlite3"
    run_until_it_kills_itself(tmp_path, "moving-originals")
    [half] = [r for r in journal(db) if r["state"] == "finishing"]
    assert len(names(tmp_path / "hot" / "done")) == 1

    restart_until_every_job_is_done(tmp_path)
    rows = {r["job_id"]: r for r in journal(db)}
    assert sorted(r["name"] for r in rows.values()) == JOBS and {r["state"] for r in rows.values()} == {"done"}
    assert rows[half["job_id"]]["attempts"] == 1  # its outputs were complete: filed, never run again
    done = sorted(j["job_id"].split(".")[0] for j in history(db) if j["state"] == "done")
    assert done == sorted(rows)
