"""Export, through each front door: `underpaint export` on a result file, the `export` message over a real
websocket, and a hot-folder recipe's `delivery` list; with the bad inputs each must refuse."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from builders import make_result
from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from hotfolder_support import error_of, live_agent, small_job, until
from underpaint.cli import main
from underpaint.engines.classic import ClassicEngine
from underpaint.results.store import ResultStore, SavedResult
from underpaint.server.serve import start_agent
from wsraw import open_raw, recv_until, send_fill


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> SavedResult:
    """A result of three variants as the agent keeps it: result.psd and variant-N.png."""
    return ResultStore(tmp_path_factory.mktemp("results"), 1, 100).save(make_result(3), "job-1")


def export(tmp_path: Path, *args: str) -> Result:
    env = {"UNDERPAINT_DATA_DIR": str(tmp_path / "data"), "UNDERPAINT_C2PA_MANIFEST": "false"}
    return CliRunner().invoke(main, ["--config-dir", str(tmp_path / "config"), "export", *args, "-o",
                                     str(tmp_path / "out")], env=env)


def test_export_writes_each_preset_for_the_chosen_variant_of_a_psd(tmp_path: Path, saved: SavedResult) -> None:
    ran = export(tmp_path, str(saved.psd), "--preset", "social-square", "--preset", "google-play-feature",
                 "--variant", "2")
    assert ran.exit_code == 0, ran.output
    square = tmp_path / "out" / "result-social-square-2.jpg"
    feature = tmp_path / "out" / "result-google-play-feature-2.png"
    with Image.open(square) as image:
        assert (image.format, image.size) == ("JPEG", (1080, 1080))
    with Image.open(feature) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (1024, 500), "RGB")
    assert "enlarged" in ran.output


def test_an_exported_psd_variant_is_the_variant_png_the_job_wrote(tmp_path: Path, saved: SavedResult) -> None:
    (tmp_path / "data" / "presets").mkdir(parents=True)
    (tmp_path / "data" / "presets" / "same.toml").write_text('width = 96\nheight = 64\nformat = "png"\n')
    assert export(tmp_path, str(saved.psd), "--preset", "same", "--variant", "3").exit_code == 0
    with Image.open(tmp_path / "out" / "result-same-3.png") as delivered, Image.open(saved.variants[2]) as job:
        assert np.array_equal(np.asarray(delivered.convert("RGBA")), np.asarray(job))


def test_every_deliverable_says_it_was_made_with_generative_ai(tmp_path: Path, saved: SavedResult) -> None:
    assert export(tmp_path, str(saved.variants[0]), "--preset", "social-square").exit_code == 0
    data = (tmp_path / "out" / "variant-1-social-square-1.jpg").read_bytes()
    assert b"DigitalSourceType" in data and b"compositeWithTrainedAlgorithmicMedia" in data


@pytest.mark.parametrize(("args", "says"), [
    (["--preset", "billboard"], "unknown_preset"),
    (["--preset", "social-square", "--variant", "5"], "unknown_variant"),
])
def test_export_refuses_what_the_result_has_not(tmp_path: Path, saved: SavedResult, args: list[str],
                                                  says: str) -> None:
    ran = export(tmp_path, str(saved.psd), *args)
    assert ran.exit_code == 1 and says in ran.output
    assert not (tmp_path / "out").exists()


def test_export_of_a_file_that_is_no_image_is_bad_image(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a picture")
    ran = export(tmp_path, str(tmp_path / "notes.txt"), "--preset", "web-hero")
    assert ran.exit_code == 1 and "bad_image" in ran.output and "neither a PSD nor a PNG" in ran.output


def test_export_of_a_png_underpaint_did_not_write_is_bad_image(tmp_path: Path) -> None:
    Image.fromarray(textured_rgba(32, 32)).save(tmp_path / "photo.png")
    ran = export(tmp_path, str(tmp_path / "photo.png"), "--preset", "web-hero")
    assert ran.exit_code == 1 and "bad_image" in ran.output and "not written by Underpaint" in ran.output


def test_an_unreachable_target_size_writes_nothing(tmp_path: Path, saved: SavedResult) -> None:
    (tmp_path / "data" / "presets").mkdir(parents=True)
    (tmp_path / "data" / "presets" / "tiny.toml").write_text('width = 2000\nheight = 2000\nformat = "jpeg"\n'
                                                             'target_kb = 1\n')
    ran = export(tmp_path, str(saved.psd), "--preset", "social-square", "--preset", "tiny")
    assert ran.exit_code == 1 and "target_size_unreachable" in ran.output
    assert not (tmp_path / "out").exists()


async def test_the_export_message_answers_downloads_of_each_preset_for_the_jobs_owner(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path), {"classic": ClassicEngine()})
    image, mask = textured_rgba(48, 64), soft_ellipse(48, 64, (20, 12, 24, 20))
    try:
        ws = await open_raw(agent.ws_url)
        await send_fill(ws, "exp-1", image, mask, variants=2, seed=3)
        assert (await recv_until(ws, "done"))[-1]["type"] == "done"
        await ws.send(json.dumps({"type": "export", "job_id": "exp-1", "variant": 1,
                                  "presets": ["social-square", "google-play-feature"]}))
        exported = (await recv_until(ws, "exported"))[-1]
        assert exported["type"] == "exported", exported
        assert [(f["preset"], f["width"], f["height"]) for f in exported["files"]] == [
            ("social-square", 1080, 1080), ("google-play-feature", 1024, 500)]
        assert exported["files"][0]["name"] == "exp-1-social-square-2.jpg"
        assert any("enlarged" in warning for warning in exported["warnings"])
        async with aiohttp.ClientSession(agent.http_url) as http, \
                http.get(exported["files"][0]["url"], headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            assert len(await response.read()) == exported["files"][0]["bytes"]

        for ask, code in (({"variant": 7}, "unknown_variant"), ({"presets": ["billboard"]}, "unknown_preset"),
                          ({"job_id": "never-ran"}, "unknown_job")):
            await ws.send(json.dumps({"type": "export", "job_id": "exp-1", "presets": ["web-hero"]} | ask))
            error = (await recv_until(ws, "exported"))[-1]
            assert (error["type"], error["code"]) == ("error", code)
        await ws.close()

        other = await open_raw(agent.ws_url, hello=False)
        await other.send(json.dumps({"type": "hello", "protocol": "1.0", "client": {"name": "someone-else"},
                                     "token": TOKEN}))
        await recv_until(other, "welcome")
        await other.send(json.dumps({"type": "export", "job_id": "exp-1", "presets": ["web-hero"]}))
        error = (await recv_until(other, "exported"))[-1]
        assert (error["type"], error["code"], error["job_id"]) == ("error", "unknown_job", "exp-1")
        await other.close()
    finally:
        await agent.stop()


async def test_a_hot_folder_recipes_delivery_list_writes_its_deliverables_beside_the_outputs(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path):
        small_job(hot / "in", "poster", recipe={"delivery": ["social-square", "web-hero"]})
        small_job(hot / "in", "odd", recipe={"delivery": ["billboard"]})
        await until(lambda: (hot / "out" / "poster" / "poster.psd").exists() and (hot / "failed").is_dir()
                    and any((hot / "failed").iterdir()), 60, "both jobs to end")
    delivery = hot / "out" / "poster" / "delivery"
    assert sorted(p.name for p in delivery.iterdir()) == ["poster-social-square-1.jpg", "poster-web-hero-1.jpg"]
    with Image.open(delivery / "poster-web-hero-1.jpg") as image:
        assert image.size == (1920, 1080)
    assert "enlarged" in (hot / "out" / "poster" / "warnings.txt").read_text()
    assert error_of(hot / "failed", "odd")["code"] == "unknown_preset"
