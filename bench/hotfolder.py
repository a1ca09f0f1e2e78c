"""`make bench`, hot folder part: throughput and the delay from a completed copy to the start of its job.

Runs `underpaint watch` as a separate process with the classic engine, as a
user would, and reads the times back from the journal in the agent's SQLite
history (`claimed_at`, `started_at` = first progress event, `finished_at` =
originals moved to done/). Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from quality import cpu_flags
from run import machine

THROUGHPUT_RUNS = tuple(int(n) for n in os.environ.get("HOTBENCH_JOBS", "50,100,200").split(","))
"""Drops of these many jobs, one after another on the same agent data folder (so its result store grows)."""
LATENCY_RUNS = 5
SIDE = 64


def stage_job(folder: Path, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    rgb = np.stack([90 + 80 * np.sin(xs / 9), 110 + 50 * np.cos((xs + ys) / 14), 70 + xs / SIDE * 120], -1)
    rgb += rng.normal(0, 10, rgb.shape)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(folder / f"{name}.png")
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[SIDE // 2 - 6: SIDE // 2 + 6, SIDE // 2 - 6: SIDE // 2 + 6] = 255
    Image.fromarray(mask).save(folder / f"{name}.mask.png")


def start_watch(hot: Path, env: dict[str, str], *flags: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "underpaint", "watch", str(hot), "--log-level", "warning",
                                *flags], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(lambda: (hot / "processing").is_dir(), 60)
    time.sleep(1.0)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def wait(predicate: Callable[[], bool], timeout: float, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark timed out")
        time.sleep(every)


def rows(db: Path) -> dict[str, sqlite3.Row]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return {r["name"]: r for r in connection.execute("SELECT * FROM hotfolder_jobs")}


def done_count(hot: Path) -> int:
    return sum(1 for p in (hot / "done").iterdir() if not p.name.endswith(".mask.png"))


def throughput(root: Path, env: dict[str, str], jobs: int) -> tuple[float, float]:
    hot, stage, db = root / f"tp{jobs}", root / f"tp{jobs}-stage", Path(env["UNDERPAINT_DATA_DIR"]) / "history.sqlite3"
    stage.mkdir()
    for index in range(jobs):
        stage_job(stage, f"t{jobs}-{index:03d}", index)
    process = start_watch(hot, env)
    try:
        start = time.time()
        for path in sorted(stage.iterdir()):  # a drop: every file appears complete at once
            path.rename(hot / "in" / path.name)
        # The end is the journal's finished_at, so a slow poll costs no precision; a 10 ms poll of a
        # growing done/ took a share of the 2 cores that grew with the run.
        wait(lambda: done_count(hot) == jobs, 1800, every=0.5)
    finally:
        stop(process)
    found = [r for r in rows(db).values() if r["name"].startswith(f"t{jobs}-")]
    elapsed = max(r["finished_at"] for r in found) - start
    engine = sum(r["finished_at"] - r["started_at"] for r in found) / len(found)
    return jobs / elapsed * 60, engine


def latency(root: Path, env: dict[str, str], label: str, copy: bool, *flags: str) -> list[float]:
    hot, stage, db = root / label, root / f"{label}-stage", Path(env["UNDERPAINT_DATA_DIR"]) / "history.sqlite3"
    stage.mkdir()
    delays = []
    process = start_watch(hot, env, *flags)
    try:
        for run in range(LATENCY_RUNS):
            name = f"{label}{run}"
            stage_job(stage, name, run)
            old = (time.time() - 60, time.time() - 60)
            os.utime(stage / f"{name}.mask.png", old)  # the mask was there well before the image
            (stage / f"{name}.mask.png").rename(hot / "in" / f"{name}.mask.png")
            if copy:  # a copy: the file's mtime is the end of the copy, so it must sit still for stable_seconds
                shutil.copyfile(stage / f"{name}.png", hot / "in" / f"{name}.png")
            else:  # a move from the same disk: complete, with an old mtime, on first sight
                os.utime(stage / f"{name}.png", old)
                (stage / f"{name}.png").rename(hot / "in" / f"{name}.png")
            completed = time.time()
            wait(lambda n=name: n in rows(db) and rows(db)[n]["started_at"] is not None, 120)
            delays.append(rows(db)[name]["started_at"] - completed)
            wait(lambda n=run: done_count(hot) == n + 1, 120)
    finally:
        stop(process)
    return delays


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="underpaint-hotbench-") as temp:
        root = Path(temp)
        env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(root / "config"), "UNDERPAINT_DATA_DIR": str(root / "data")}
        runs = [(jobs, *throughput(root, env, jobs)) for jobs in THROUGHPUT_RUNS]
        copied = latency(root, env, "copy", True)
        moved = latency(root, env, "move", False)
        polled = latency(root, env, "poll", True, "--poll", "1.0")
    print(f"## Hot folder ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {machine()}; CPU flags: {cpu_flags()}; load average {os.getloadavg()[0]:.1f} at the end. "
          "`underpaint watch` in its own process, classic engine, "
          f"{SIDE}x{SIDE} images with a 12x12 mask, one variant; default stable time 2 s.\n")
    print("| measure | result | runs |")
    print("|---|---|---|")
    for jobs, per_minute, engine in runs:
        print(f"| throughput, {jobs} jobs dropped at once, drop to last original in done/ "
              f"| **{per_minute:.0f} jobs/min** | 1 |")
        print(f"| of which one job, first progress to files filed (engine + PSD + outputs) | {engine:.3f} s | "
              f"{jobs} |")
    print(f"| completed copy to start of its job (native events) | {statistics.median(copied):.2f} s "
          f"(min {min(copied):.2f}, max {max(copied):.2f}) | {LATENCY_RUNS} |")
    print(f"| file moved in complete (old mtime) to start of its job | {statistics.median(moved):.2f} s "
          f"(min {min(moved):.2f}, max {max(moved):.2f}) | {LATENCY_RUNS} |")
    print(f"| completed copy to start of its job, `--poll 1` | {statistics.median(polled):.2f} s "
          f"(min {min(polled):.2f}, max {max(polled):.2f}) | {LATENCY_RUNS} |")


if __name__ == "__main__":
    main()
