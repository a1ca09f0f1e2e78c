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
from click.testing import CliRunner
from PIL import Image
from psd_tools import PSDImage

from agent_process import agent_env, start_server, underpaint
from conftest import soft_ellipse, textured_rgba
from underpaint.cli import main
from underpaint.cli_common import ControlType, ReferenceType
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.core.conditioning import ControlRef, ReferenceRef
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


@pytest.fixture
def small_photos(tmp_path: Path) -> tuple[list[Path], Path]:
    """Three small images and one selection that fits them all: quick jobs for the classic engine."""
    images = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for seed, path in enumerate(images):
        Image.fromarray(textured_rgba(48, 64, seed)).save(path)
    mask = tmp_path / "selection.png"
    Image.fromarray(soft_ellipse(48, 64, (24, 16, 16, 12))).save(mask)
    return images, mask


def test_several_images_make_a_set_of_jobs_with_one_set_id_that_jobs_lists_by_it(
        served: Served, small_photos: tuple[list[Path], Path], tmp_path: Path) -> None:
    images, mask = small_photos
    result = underpaint(served.env, "fill", *map(str, images), "--mask", str(mask), "--out-dir",
                        str(tmp_path / "set"), "--seed", "8", "--json")
    made = json.loads(result.stdout)
    listed = json.loads(underpaint(served.env, "jobs", "--set", made["set_id"], "--json").stdout)
    assert made["set_id"].startswith("set-") and [job["state"] for job in made["jobs"]] == ["done"] * 3
    assert [job["psd"] for job in made["jobs"]] == [str(tmp_path / "set" / f"{n}.psd") for n in ("a", "b", "c")]
    assert {(job["recipe"]["set_id"], json.dumps(job["recipe"]["params"])) for job in made["jobs"]} == {
        (made["set_id"], json.dumps(made["jobs"][0]["recipe"]["params"]))}
    assert sorted(job["job_id"] for job in listed) == sorted(job["job_id"] for job in made["jobs"])
    assert {job["set_id"] for job in listed} == {made["set_id"]}


def test_a_control_sent_to_the_classic_engine_is_refused_naming_what_it_cannot_do(
        served: Served, small_photos: tuple[list[Path], Path], tmp_path: Path) -> None:
    images, mask = small_photos
    result = underpaint(served.env, "fill", str(images[0]), "--mask", str(mask), "--out", str(tmp_path / "x.psd"),
                        "--control", "canny:source:0.8", check=False)
    assert result.returncode != 0 and "cannot apply controls (ControlNet)" in result.stderr


def test_options_not_given_are_left_for_the_style_to_fill(served: Served, small_photos: tuple[list[Path], Path],
                                                         tmp_path: Path) -> None:
    images, mask = small_photos
    underpaint(served.env, "styles", "add", "brand", "--steps", "7", "--guidance", "3.5", "--prompt",
               "{prompt}, in ink")
    result = underpaint(served.env, "fill", str(images[0]), "--mask", str(mask), "--out", str(tmp_path / "x.psd"),
                        "--style", "brand", "--prompt", "a kite", "--guidance", "9", "--json")
    recipe = json.loads(result.stdout)["recipe"]
    assert (recipe["style"], recipe["params"]["steps"], recipe["params"]["guidance"]) == ("brand", 7, 9.0)
    assert recipe["params"]["prompt"] == "a kite, in ink"


@pytest.mark.parametrize(("control", "problem"), [
    ("banana:source", "kind"),
    ("canny:source:3", "strength"),
    ("canny:source:0.6-0.2", "start (0.6) must come before its end (0.2)"),
    ("canny:missing.png", "cannot read the image missing.png"),
    ("canny", "give the control image"),
])
def test_a_bad_control_is_a_one_line_error_naming_the_option(small_photos: tuple[list[Path], Path], tmp_path: Path,
                                                             control: str, problem: str) -> None:
    images, mask = small_photos
    result = CliRunner().invoke(main, ["fill", str(images[0]), "--mask", str(mask), "--out", str(tmp_path / "x.psd"),
                                       "--control", control])
    assert result.exit_code == 2 and "'--control'" in result.output and problem in result.output


def test_a_control_image_that_does_not_cover_every_image_of_a_set_refuses_the_set_before_sending_any(
        small_photos: tuple[list[Path], Path], tmp_path: Path) -> None:
    images, mask = small_photos
    Image.fromarray(textured_rgba(48, 48)).save(tmp_path / "edges.png")
    result = CliRunner().invoke(main, ["fill", *map(str, images), "--mask", str(mask), "--out-dir", str(tmp_path),
                                       "--control", f"canny:{tmp_path / 'edges.png'}", "--port", "9"])
    assert result.exit_code == 2 and "--control: a: Control 1 (canny)'s image is 48x48" in result.output


def test_several_images_need_an_out_dir_rather_than_one_out_file(small_photos: tuple[list[Path], Path],
                                                                 tmp_path: Path) -> None:
    images, mask = small_photos
    result = CliRunner().invoke(main, ["fill", *map(str, images), "--mask", str(mask), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "3 targets make a set: give --out-dir" in result.output


def test_controls_and_references_are_read_from_their_option_syntax(tmp_path: Path) -> None:
    sketch, look = tmp_path / "sketch.png", tmp_path / "look:1.png"
    Image.fromarray(textured_rgba(8, 8)).save(sketch)
    Image.fromarray(textured_rgba(6, 4)).save(look)
    control = ControlType().convert(f"scribble:{sketch}:0.7:0.1-0.6:map:model=ink-scribble", None, None)
    canny = ControlType().convert("canny:source:low=50:high=120", None, None)
    reference = ReferenceType().convert(f"{look}:0.4:style", None, None)
    assert control.ref == ControlRef(kind="scribble", strength=0.7, start=0.1, end=0.6, preprocess=False,
                                     model="ink-scribble")
    assert control.image is not None and control.image.shape == (8, 8, 4)
    assert (canny.ref, canny.image) == (ControlRef(kind="canny", image="source", low_threshold=50,
                                                   high_threshold=120), None)
    assert reference.ref == ReferenceRef(weight=0.4, focus="style") and reference.image.shape == (6, 4, 4)
