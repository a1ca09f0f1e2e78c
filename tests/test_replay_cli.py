"""`underpaint replay FILE --out again.psd` with no other argument, on a fresh agent, for every mode."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent_process import free_port, start_server, underpaint
from conftest import soft_ellipse, textured_rgba

H, W = 60, 80
JOBS = {
    "fill": ["--mask", "{mask}", "--prompt", "a red cat"],
    "remove": ["--mask", "{mask}"],
    "expand": ["--expand", "0,8,16,0"],
    "generate": ["--size", f"{W}x{H}", "--prompt", "a red cat"],
    "refine": ["--strength", "0.6"],
}


def agent_env(tmp_path: Path, name: str, **extra: str) -> dict[str, str]:
    """A separate config, data folder and port: a fresh agent that never saw the first one's jobs."""
    return os.environ | {"UNDERPAINT_CONFIG_DIR": str(tmp_path / f"{name}-config"),
                         "UNDERPAINT_DATA_DIR": str(tmp_path / f"{name}-data"),
                         "UNDERPAINT_PORT": str(free_port())} | extra


@contextmanager
def serving(env: dict[str, str]) -> Iterator[dict[str, str]]:
    process = start_server(env)
    try:
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def inputs(tmp_path: Path) -> dict[str, str]:
    image, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(textured_rgba(H, W, seed=8)[..., :3]).save(image)
    Image.fromarray(soft_ellipse(H, W, (22, 16, 30, 24))).save(mask)
    return {"image": str(image), "mask": str(mask)}


def make_then_replay(tmp_path: Path, modes: list[str], extra_env: dict[str, str], options: list[str]) -> None:
    """Each mode through one agent; then, on a fresh one, each result replayed from its PSD and from a PNG."""
    files = inputs(tmp_path)
    with serving(agent_env(tmp_path, "first", **extra_env)) as env:
        for mode in modes:
            args = [arg.format(**files) for arg in JOBS[mode]]
            source = [] if mode == "generate" else [files["image"]]
            underpaint(env, mode, *source, *args, *options, "--variants", "2", "--seed", "5",
                       "--out", str(tmp_path / mode / "result.psd"))
    with serving(agent_env(tmp_path, "fresh", **extra_env)) as env:
        for mode in modes:
            folder = tmp_path / mode
            underpaint(env, "replay", str(folder / "result.psd"), "--out", str(folder / "from-psd.psd"))
            underpaint(env, "replay", str(folder / "result.variant-2.png"), "--out", str(folder / "from-png.psd"))
    for mode in modes:
        for replayed in ("from-psd", "from-png"):
            for index in (1, 2):
                first = np.asarray(Image.open(tmp_path / mode / f"result.variant-{index}.png"))
                again = np.asarray(Image.open(tmp_path / mode / f"{replayed}.variant-{index}.png"))
                assert np.array_equal(first, again), f"{mode} from {replayed}, variant {index}"


def test_classic_results_replay_from_their_own_files_on_a_fresh_agent(tmp_path: Path) -> None:
    make_then_replay(tmp_path, ["fill", "remove", "expand"], {}, [])


def test_diffusers_results_of_every_mode_replay_from_their_own_files_on_a_fresh_agent(
        tmp_path: Path, registry_path: Path) -> None:
    diffusers = {"UNDERPAINT_MODELS_FILE": str(registry_path), "UNDERPAINT_DEVICE": "cpu",
                 "UNDERPAINT_ENGINE": "diffusers"}
    make_then_replay(tmp_path, list(JOBS), diffusers, ["--steps", "2"])


def test_replay_of_a_recipe_json_alone_names_the_file_to_pass(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text('{"engine": "classic", "mode": "fill", "params": {}, "seeds": [0], '
                      '"document": {"width": 8, "height": 8}, "region": {"x": 0, "y": 0, "width": 8, "height": 8}, '
                      '"image_sha256": "00", "mask_sha256": "00"}')
    result = underpaint(agent_env(tmp_path, "none"), "replay", str(recipe), "--out", str(tmp_path / "x.psd"),
                        check=False)
    assert result.returncode != 0 and "--image" in result.stderr


@pytest.mark.parametrize("args, problem", [
    (["expand", "{image}", "--expand", "0,8"], "L,T,R,B"),
    (["generate", "--size", "big"], "1024x768"),
    (["fill", "{image}", "--mask", "{mask}", "--steps", "0"], "--steps"),
    (["fill", "{image}"], "--mask"),
])
def test_bad_options_get_a_usage_error_naming_them(tmp_path: Path, args: list[str], problem: str) -> None:
    files = inputs(tmp_path)
    result = underpaint(agent_env(tmp_path, "none"), *(arg.format(**files) for arg in args),
                        "--out", str(tmp_path / "x.psd"), check=False)
    assert result.returncode == 2 and problem in result.stderr
