"""Upscales through the front doors: the CLI, the websocket agent and the hot folder each give a PSD that
ImageMagick opens at the upscaled size; a non-image is refused with its code."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import aiohttp
from PIL import Image

from agent_process import agent_env, start_server, underpaint
from conftest import TOKEN, make_settings, textured_rgba
from hotfolder_support import drop, error_of, live_agent, names, until
from tiny_upscalers import compact, save_pth
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.core.upscale import UpscaleParams
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.server.serve import start_agent

IMAGE = textured_rgba(24, 32, seed=6)


def magick_size(path: Path) -> tuple[int, int]:
    """Width and height of the composite, as ImageMagick reads the PSD (its first frame)."""
    first = subprocess.run(["identify", "-format", "%w %h\n", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[0]
    width, height = first.split()
    return int(width), int(height)


def test_the_cli_registers_an_upscaler_and_upscales_with_it_through_the_agent(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    added = underpaint(env, "models", "add", "x2", str(save_pth(compact(scale=2), tmp_path / "x2.pth")),
                       "--kind", "upscaler")
    assert "Added upscaler x2: RealESRGAN Compact x2" in added.stderr
    Image.fromarray(IMAGE).save(tmp_path / "photo.png")
    process = start_server(env)
    try:
        done = underpaint(env, "upscale", str(tmp_path / "photo.png"), "--factor", "2", "--upscaler", "x2",
                          "--out", str(tmp_path / "up.psd"), "--json")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert json.loads(done.stdout)["state"] == "done"
    assert magick_size(tmp_path / "up.psd") == (64, 48)


async def test_an_upscale_through_the_websocket_gives_a_psd_at_the_upscaled_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ModelRegistry(settings.models_path).put(make_entry("x2", save_pth(compact(scale=2), tmp_path / "x2.pth"),
                                                       upscaler=True))
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.submit("up-1", Mode.UPSCALE, Size(width=32, height=24), Rect(x=0, y=0, width=32, height=24),
                                Params(upscale=UpscaleParams(factor=4, upscaler="x2")), IMAGE)
            outcome = await client.follow("up-1")
        assert outcome.state == "done" and outcome.done is not None, outcome.error
        assert [variant.bounds for variant in outcome.variants] == [Rect(x=0, y=0, width=128, height=96)]
        async with aiohttp.ClientSession(agent.http_url) as http, \
                http.get(outcome.done.downloads.psd, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            (tmp_path / "up.psd").write_bytes(await response.read())
    finally:
        await agent.stop()
    assert magick_size(tmp_path / "up.psd") == (128, 96)


async def test_a_hot_folder_recipe_with_mode_upscale_gives_a_psd_at_the_upscaled_size(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    stage.mkdir()
    Image.fromarray(IMAGE).save(stage / "photo.png")
    (stage / "photo.json").write_text(json.dumps({"mode": "upscale", "params": {"upscale": {"factor": 2}}}))
    async with live_agent(tmp_path):
        drop(stage, hot / "in")
        await until(lambda: "photo.png" in names(hot / "done") or names(hot / "failed") != [], 30, "the upscale")
    assert names(hot / "failed") == []
    assert magick_size(hot / "out" / "photo" / "photo.psd") == (64, 48)


async def test_a_non_image_dropped_for_an_upscale_fails_as_a_bad_image(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    stage.mkdir()
    (stage / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing of a picture follows")
    (stage / "photo.json").write_text(json.dumps({"mode": "upscale", "params": {"upscale": {"factor": 2}}}))
    async with live_agent(tmp_path):
        drop(stage, hot / "in")
        await until(lambda: "photo.error.json" in names(hot / "failed"), 30, "the job to fail")
    assert error_of(hot / "failed", "photo")["code"] == "bad_image"


async def test_an_upscales_own_recipe_dropped_with_its_image_remakes_it(tmp_path: Path) -> None:
    hot, stage, again = tmp_path / "hot", tmp_path / "stage", tmp_path / "again"
    stage.mkdir()
    Image.fromarray(IMAGE).save(stage / "photo.png")
    (stage / "photo.json").write_text(json.dumps({"mode": "upscale", "params": {"upscale": {"factor": 1.5}}}))
    async with live_agent(tmp_path):
        drop(stage, hot / "in")
        await until(lambda: "photo.png" in names(hot / "done"), 30, "the upscale")
        again.mkdir()
        Image.fromarray(IMAGE).save(again / "again.png")
        (again / "again.json").write_bytes((hot / "out" / "photo" / "recipe.json").read_bytes())
        drop(again, hot / "in")
        await until(lambda: "again.png" in names(hot / "done") or names(hot / "failed") != [], 30, "the replay")
    assert names(hot / "failed") == []
    with Image.open(hot / "out" / "photo" / "photo.variant-1.png") as first, \
            Image.open(hot / "out" / "again" / "again.variant-1.png") as remade:
        assert remade.size == first.size == (48, 36)
        assert first.tobytes() == remade.tobytes()
