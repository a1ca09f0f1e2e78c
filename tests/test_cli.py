"""The `underpaint` command against a real agent process."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from psd_tools import PSDImage

from agent_process import agent_env, start_server, underpaint
from conftest import soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.results.png import read_png_recipe
from underpaint.wire.messages import Error, Progress


@dataclass
class Served:
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def token(self) -> str:
        return underpaint(self.env, "token").stdout.strip()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return agent_env(tmp_path)


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Served]:
    process = start_server(env)
    yield Served(int(env["UNDERPAINT_PORT"]), env, process)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture
def photo(tmp_path: Path) -> tuple[Path, Path]:
    image, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(textured_rgba(180, 240)[..., :3]).save(image)
    Image.fromarray(soft_ellipse(180, 240, (80, 60, 80, 50))).save(mask)
    return image, mask


def test_fill_writes_a_layered_psd_and_variant_pngs_with_recipes(served: Served, photo: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "out" / "fill.psd"
    result = underpaint(served.env, "fill", str(photo[0]), "--mask", str(photo[1]), "--out", str(out),
                        "--variants", "3", "--seed", "4", "--json")
    summary = json.loads(result.stdout)
    assert summary["state"] == "done" and summary["seeds"] == [4, 5, 6]
    group = next(layer for layer in PSDImage.open(out) if layer.is_group())
    assert len(list(group)) == 3
    for path in summary["variants"]:
        assert read_png_recipe(Path(path)).seeds == [4, 5, 6]


def test_replay_refuses_a_mask_the_recipe_was_not_made_from(served: Served, photo: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    first = tmp_path / "first.psd"
    underpaint(served.env, "fill", str(photo[0]), "--mask", str(photo[1]), "--out", str(first), "--variants", "1")
    other = tmp_path / "other-mask.png"
    Image.fromarray(soft_ellipse(180, 240, (20, 20, 40, 40))).save(other)
    result = underpaint(served.env, "replay", str(first), "--mask", str(other), "--out", str(tmp_path / "x.psd"),
                        check=False)
    assert result.returncode != 0 and "mask differs" in result.stderr


def test_jobs_lists_what_the_agent_ran(served: Served, photo: tuple[Path, Path], tmp_path: Path) -> None:
    underpaint(served.env, "fill", str(photo[0]), "--mask", str(photo[1]), "--out", str(tmp_path / "a.psd"),
               "--variants", "1")
    jobs = json.loads(underpaint(served.env, "jobs", "--json").stdout)
    assert [(job["state"], job["source"]) for job in jobs] == [("done", "websocket")]


def test_config_prints_each_setting_with_its_source(env: dict[str, str]) -> None:
    shown = json.loads(underpaint(env, "config", "--json").stdout)
    assert shown["port"] == {"value": env["UNDERPAINT_PORT"], "source": "environment"}
    assert shown["engine"]["source"] == "default"


def test_client_commands_explain_how_to_start_an_absent_agent(env: dict[str, str], photo: tuple[Path, Path],
                                                              tmp_path: Path) -> None:
    result = underpaint(env, "fill", str(photo[0]), "--mask", str(photo[1]), "--out", str(tmp_path / "x.psd"),
                        check=False)
    assert result.returncode != 0 and "make run" in result.stderr


def test_a_job_in_flight_when_the_agent_is_killed_is_failed_on_restart(env: dict[str, str]) -> None:
    process = start_server(env)
    url = f"ws://127.0.0.1:{env['UNDERPAINT_PORT']}/v1/ws"
    token = underpaint(env, "token").stdout.strip()
    image, mask = textured_rgba(600, 800), soft_ellipse(600, 800, (250, 200, 300, 200))

    async def submit_and_wait_for_progress() -> None:
        async with await AgentClient.connect(url, token) as client:
            await client.submit("doomed", Mode.FILL, Size(width=800, height=600),
                                Rect(x=0, y=0, width=800, height=600), Params(variants=16), image, mask)
            while not isinstance((await client.next_event())[0], Progress):
                pass

    async def final_event() -> Error:
        async with await AgentClient.connect(url, token) as client:
            await client.resume("doomed", 0)
            outcome = await client.follow("doomed")  # the events it kept, then its ending
            assert outcome.error is not None
            return outcome.error

    asyncio.run(submit_and_wait_for_progress())
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    restarted = start_server(env)
    try:
        jobs = json.loads(underpaint(env, "jobs", "--json").stdout)
        error = asyncio.run(final_event())
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    assert [(job["job_id"], job["state"], job["error_code"]) for job in jobs] == [
        ("doomed", "error", "agent_restarted")]
    assert (error.code, error.retryable) == ("agent_restarted", True)
