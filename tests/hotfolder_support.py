"""Helpers for the hot-folder tests: real folders, a live watcher, the journal read back from SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from psd_tools import PSDImage

from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.core import Params
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent


def small_job(folder: Path, name: str, side: int = 32, seed: int = 0, recipe: dict[str, Any] | None = None) -> None:
    """NAME.png + NAME.mask.png (+ NAME.json): a small image with a tiny hole, quick for the classic engine."""
    folder.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((side, side), np.uint8)
    mask[side // 2 - 2: side // 2 + 2, side // 2 - 2: side // 2 + 2] = 255
    if recipe is not None:
        (folder / f"{name}.json").write_text(json.dumps(recipe))
    Image.fromarray(mask).save(folder / f"{name}.mask.png")
    Image.fromarray(textured_rgba(side, side, seed)).save(folder / f"{name}.png")


def set_folder(folder: Path, names: list[str], recipe: dict[str, Any], side: int = 32) -> None:
    """A set folder: `set.json` holding `recipe`, and a small job (image + mask) for each of `names`."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        small_job(folder, name, side=side, seed=index)
    (folder / "set.json").write_text(json.dumps(recipe))


class AdmittingClassicEngine(ClassicEngine):
    """The classic engine, except that it admits controls and references (and still fills from the
    surroundings alone): front-door tests follow guides past its usual refusal to the checks, JobSpecs and
    recipes that come after, without waiting for a diffusion model."""

    def pin(self, params: Params) -> Params:
        return params


def big_job(folder: Path, name: str, side: int = 256, variants: int = 2) -> None:
    """A job that keeps the classic engine busy for a second or more."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"params": {"variants": variants, "seed": 7}}))
    Image.fromarray(soft_ellipse(side, side, (side // 4, side // 4, side // 2, side // 2))).save(
        folder / f"{name}.mask.png")
    Image.fromarray(textured_rgba(side, side)).save(folder / f"{name}.png")


def drop(staging: Path, inbox: Path) -> None:
    """Move every staged file into in/ (renames: each file appears complete, as a finished copy does)."""
    for path in sorted(staging.iterdir()):
        path.rename(inbox / path.name)


def watch_process(folder: Path, tmp_path: Path, extra_env: dict[str, str] | None = None,
                  preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    """`underpaint watch folder` as a real process, its config and data under tmp_path."""
    env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"),
                        "UNDERPAINT_DATA_DIR": str(tmp_path / "data")} | (extra_env or {})
    return subprocess.Popen([sys.executable, "-m", "underpaint", "watch", str(folder), "--stable-seconds", "0.3"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec_fn)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Blocking wait, for agents in another process."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait without blocking the event loop that the in-process agent runs on."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def journal(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM hotfolder_jobs ORDER BY claimed_at")]


def history(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM jobs ORDER BY created_at")]


def error_of(failed: Path, stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((failed / f"{stem}.error.json").read_text())
    return data


def check_psd(path: Path, variants: int) -> PSDImage:
    """The PSD opens in psd-tools (background + one group of variants) and in ImageMagick."""
    psd = PSDImage.open(path)
    layers = list(psd)
    assert layers[0].name == "Background"
    group = layers[1]
    assert group.is_group() and len(list(group)) == variants
    frames = subprocess.run(["identify", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(frames.strip().splitlines()) == 1 + 1 + variants  # composite, background, variants
    return psd


@asynccontextmanager
async def live_agent(tmp_path: Path, engines: dict[str, Engine] | None = None,
                     **overrides: Any) -> AsyncIterator[RunningAgent]:
    """A real agent (websocket server and all) watching tmp_path/hot, with the classic engine unless told."""
    values: dict[str, Any] = {"hot_folder": tmp_path / "hot", "hot_folder_stable_seconds": 0.4,
                              "hot_folder_rescan_seconds": 1.0}
    engines = engines or {"classic": ClassicEngine()}
    settings = make_settings(tmp_path, **(values | {"engine": next(iter(engines))} | overrides))
    agent = await start_agent(settings, engines)
    try:
        yield agent
    finally:
        await agent.stop()
