"""`underpaint watch` as a real process, killed with SIGKILL in the middle of a job and started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hotfolder_support import big_job, check_psd, drop, history, journal, names, wait_until


def watch(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "underpaint", "watch", str(folder), "--stable-seconds", "0.3"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_an_agent_killed_mid_job_and_restarted_finishes_every_job_exactly_once(tmp_path: Path) -> None:
    hot, db = tmp_path / "hot", tmp_path / "data" / "history.sqlite3"
    env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"),
                        "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    jobs = [f"job{i}" for i in range(4)]
    for name in jobs:
        big_job(tmp_path / "stage", name)
    first = watch(hot, env)
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

    second = watch(hot, env)
    try:
        wait_until(lambda: len(names(hot / "done")) == 3 * len(jobs), 240, "every job to finish after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0

    assert names(hot / "processing") == [] and names(hot / "failed") == [] and names(hot / "in") == []
    assert names(hot / "out") == jobs
    for name in jobs:
        assert names(hot / "out" / name) == [f"{name}.contact.png", f"{name}.psd", f"{name}.variant-1.png",
                                             f"{name}.variant-2.png", "recipe.json"]
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
