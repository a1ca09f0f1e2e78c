"""`make bench`, the agent's page: gallery pages over a history of 20,000 jobs, served by a real agent.

The benchmark makes the history itself (real recipes, prompts from a word list,
three models, styles, sets of eight, four front doors, 90 days, a star or verdict
on one variant in twenty), starts `underpaint serve` on it as a separate process,
signs in as the page does and times each request from sending it to the last byte
of its JSON. Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from underpaint.core import Mode, Params, Rect, Size
from underpaint.jobs.history import HistoryStore
from underpaint.results.recipe import ModelRef, Recipe

JOBS = int(os.environ.get("DASHBENCH_JOBS", 20_000))
RUNS = 25
TARGET_MS = 200
_WORDS = ("red", "kite", "harbour", "lighthouse", "dusk", "poster", "banner", "spring", "autumn", "sale", "coffee",
          "cup", "bottle", "chair", "forest", "mountain", "river", "portrait", "studio", "neon", "city", "street",
          "market", "flower", "garden", "brand", "logo", "sky", "cloud")
_MODELS = ("sd15", "sdxl", None)  # None: the classic engine
_SOURCES = ("websocket", "hotfolder", "cli", "dashboard")


def make_history(path: Path, jobs: int) -> None:
    """`jobs` finished jobs as the manager records them, written in one transaction."""
    HistoryStore(path).close()  # the schema and indexes, as the agent makes them
    rng = random.Random(13)
    now = time.time()
    rows, picks = [], []
    for index in range(jobs):
        mode = rng.choice((Mode.FILL, Mode.FILL, Mode.REMOVE, Mode.GENERATE, Mode.EXPAND))
        prompt = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 7)))
        model = rng.choice(_MODELS)
        style = rng.choice((None, None, None, "brand-2027", "ink"))
        set_id = f"set-{index // 8}" if index % 40 < 8 else None
        variants = rng.randint(1, 4)
        params = Params(prompt=prompt, variants=variants, seed=rng.randrange(2**32 - 4), model=model,
                        engine="diffusers" if model else "classic")
        pinned = ModelRef(name=model, sha256="ab" * 32) if model else None
        recipe = Recipe(engine=params.engine or "classic", model=pinned,
                        mode=mode, params=params, seeds=params.seeds(), document=Size(width=2048, height=1536),
                        region=Rect(x=256, y=128, width=1024, height=768), image_sha256="cd" * 32,
                        mask_sha256="ef" * 32, style=style, set_id=set_id)
        created = now - (jobs - index) * (90 * 86400 / jobs)
        started = created + rng.uniform(0.1, 5.0)
        request = {"job_id": f"job-{index:06d}", "mode": mode, "params": params.model_dump(mode="json")}
        rows.append((f"job-{index:06d}", "done", mode, prompt, variants, "bench", rng.choice(_SOURCES),
                     json.dumps(request), "digest", created, started, started + rng.uniform(1.0, 40.0),
                     recipe.model_dump_json(), json.dumps({"psd": "result.psd"}), 12, set_id))
        if index % 20 == 0:
            picks.append((f"job-{index:06d}", 0, index % 40 == 0, rng.choice(("pick", "reject", None)), "", now))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany("INSERT INTO jobs (job_id, state, mode, prompt, variants, client, source, request_json, "
                   "request_digest, created_at, started_at, finished_at, recipe_json, files_json, last_seq, set_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO picks (job_id, variant, starred, verdict, note, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                   picks)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_agent(env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "underpaint", "serve", "--log-level", "warning"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{env['UNDERPAINT_PORT']}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the agent did not start")


QUERIES = [
    ("first gallery page (24 jobs)", ""),
    ("filtered: mode = remove", "mode=remove"),
    ("filtered: model = sdxl", "model=sdxl"),
    ("filtered: style = ink", "style=ink"),
    ("filtered: set", "set=set-100"),
    ("filtered: from the hot folder, last 7 days", "source=hotfolder&since={week_ago}"),
    ("filtered: prompt contains \"lighthouse dusk\"", "q=lighthouse+dusk"),
    ("filtered: prompt text + model + mode", "q=kite&model=sd15&mode=fill"),
    ("filtered: starred", "keep=starred"),
    ("filtered: prompt text no job has (reads every row)", "q=zebra"),
]


async def timed(session: aiohttp.ClientSession, path: str) -> tuple[float, object]:
    start = time.perf_counter()
    async with session.get(path) as response:
        body = await response.json()
        assert response.status == 200, body
    return time.perf_counter() - start, body


async def measure(url: str, token: str) -> list[tuple[str, float, float, int]]:
    results = []
    jar = aiohttp.CookieJar(unsafe=True)  # keeps the cookie of 127.0.0.1
    async with aiohttp.ClientSession(url, headers={"Origin": url}, cookie_jar=jar) as session:
        async with session.post("/dashboard/api/session", json={"token": token}) as response:
            assert response.status == 200
        week_ago = time.time() - 7 * 86400
        first = (await timed(session, "/dashboard/api/jobs"))[1]
        cursor = first["next"]  # type: ignore[index]
        deep = f"before={cursor}"
        for _ in range(40):  # forty pages down: page 42, about job 1,000
            cursor = (await timed(session, f"/dashboard/api/jobs?before={cursor}"))[1]["next"]  # type: ignore[index]
        cases = [*QUERIES, ("page 2 (cursor)", deep), ("page 42 (cursor)", f"before={cursor}")]
        for label, query in cases:
            path = f"/dashboard/api/jobs?{query.format(week_ago=week_ago)}"
            times, count = [], 0
            for _ in range(RUNS):
                seconds, body = await timed(session, path)
                times.append(seconds)
                count = len(body["jobs"])  # type: ignore[index]
            results.append((label, statistics.median(times), max(times), count))
        for label, path in (("filter choices (facets)", "/dashboard/api/facets"), ("cost per day and set",
                                                                                    "/dashboard/api/cost")):
            times = [(await timed(session, path))[0] for _ in range(RUNS)]
            results.append((label, statistics.median(times), max(times), 0))
    return results


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python " \
           f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.system()}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="underpaint-dashbench-") as temp:
        root = Path(temp)
        made = time.perf_counter()
        make_history(root / "data" / "history.sqlite3", JOBS)
        made = time.perf_counter() - made
        env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(root / "config"), "UNDERPAINT_DATA_DIR": str(root / "data"),
                            "UNDERPAINT_PORT": str(free_port())}
        process = start_agent(env)
        try:
            token = (root / "config" / "token").read_text().strip()
            results = asyncio.run(measure(f"http://127.0.0.1:{env['UNDERPAINT_PORT']}", token))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    print(f"## Dashboard ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {machine()}. {JOBS:,} finished jobs in the history (made by the benchmark in {made:.1f} s), "
          f"`underpaint serve` in its own process, requests over loopback with the page's session cookie; "
          f"each time is from sending the request to the last byte of its JSON, {RUNS} runs.\n")
    print("| request | median | slowest | jobs on the page |")
    print("|---|---|---|---|")
    for label, median, slowest, count in results:
        mark = f"**{median * 1000:.1f} ms**" if median * 1000 < TARGET_MS else f"{median * 1000:.1f} ms (over target)"
        print(f"| {label} | {mark} | {slowest * 1000:.1f} ms | {count or '-'} |")
    print(f"\nTarget: under {TARGET_MS} ms for the first page and a filtered page.")


if __name__ == "__main__":
    main()
