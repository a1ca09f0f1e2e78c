"""The edit mode on the one job path: an instruction applied by FLUX.1 Kontext (tiny, random weights) to the
selection's context or to the whole region, through the websocket, the CLI, the hot folder and the Python API;
every pixel outside the grown and feathered selection stays the source's, and a fixed seed replays."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from psd_tools import PSDImage

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from hotfolder_support import live_agent, names, until
from underpaint.api import Underpaint
from underpaint.cli import main
from underpaint.client.agent_client import AgentClient, JobOutcome
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.results.store import ResultStore
from underpaint.server.serve import RunningAgent, start_agent

H, W = 64, 64
IMAGE, MASK = textured_rgba(H, W, seed=8), soft_ellipse(H, W, (18, 16, 28, 26))
INSTRUCTION = "make the jacket red"
KONTEXT = "flux-kontext"
EDIT = Params(model=KONTEXT, prompt=INSTRUCTION, steps=2, seed=5)


@pytest.fixture
async def agent(tmp_path: Path, family_engine: Engine) -> AsyncIterator[RunningAgent]:
    running = await start_agent(make_settings(tmp_path, engine="diffusers"),
                                {"diffusers": family_engine, "classic": ClassicEngine()})
    yield running
    await running.stop()


async def edit(agent: RunningAgent, job_id: str, params: Params, mask: np.ndarray | None) -> JobOutcome:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit(job_id, Mode.EDIT, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H), params,
                            IMAGE, mask)
        return await client.follow(job_id)


def source_under(outcome: JobOutcome) -> np.ndarray:
    bounds = outcome.variants[0].bounds
    return IMAGE[bounds.y:bounds.bottom, bounds.x:bounds.right]


async def test_an_edit_keeps_every_pixel_outside_the_selection_and_changes_inside_it(agent: RunningAgent) -> None:
    outcome = await edit(agent, "edit-selection", EDIT, MASK)
    assert outcome.state == "done", outcome.error
    variant, source = outcome.variants[0], source_under(outcome)
    outside, inside = variant.mask == 0, variant.mask == 255
    assert outside.any() and inside.any()
    assert np.array_equal(variant.pixels[outside], source[outside]), "outside the selection: the source's pixels"
    assert not np.array_equal(variant.pixels[inside], source[inside]), "inside: the edit"
    assert outcome.done is not None and outcome.done.recipe.mode is Mode.EDIT
    assert variant.name.startswith(f"Edit: {INSTRUCTION} #1")


async def test_an_edit_without_a_selection_changes_the_whole_region(agent: RunningAgent) -> None:
    outcome = await edit(agent, "edit-whole", EDIT, None)
    assert outcome.state == "done", outcome.error
    variant = outcome.variants[0]
    assert variant.bounds == Rect(x=0, y=0, width=W, height=H) and (variant.mask == 255).all()
    changed = (variant.pixels != IMAGE).any(axis=-1)
    assert changed.mean() > 0.5, "the edit reaches across the whole image"


async def test_an_engine_without_edit_refuses_it_at_submit(agent: RunningAgent) -> None:
    outcome = await edit(agent, "edit-classic", EDIT.model_copy(update={"engine": "classic", "model": None}), MASK)
    assert outcome.state == "error" and outcome.error is not None and outcome.error.code == "unsupported_mode"


async def test_a_model_without_edit_refuses_it_at_submit(agent: RunningAgent) -> None:
    outcome = await edit(agent, "edit-flux-dev", EDIT.model_copy(update={"model": "flux-dev"}), MASK)
    assert outcome.state == "error" and outcome.error is not None and outcome.error.code == "unsupported_mode"


@pytest.mark.parametrize("instruction", ["", "   "])
async def test_an_edit_with_an_empty_instruction_is_refused(agent: RunningAgent, instruction: str) -> None:
    outcome = await edit(agent, f"edit-empty-{len(instruction)}", EDIT.model_copy(update={"prompt": instruction}),
                         MASK)
    assert outcome.state == "error" and outcome.error is not None
    assert outcome.error.code == "empty_instruction" and not outcome.error.retryable


async def test_an_edit_without_a_source_is_refused(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("edit-no-source", Mode.EDIT, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                            EDIT)
        outcome = await client.follow("edit-no-source")
    assert outcome.state == "error" and outcome.error is not None and outcome.error.code == "invalid_message"
    assert "needs an image" in outcome.error.message


def test_an_edit_replays_bit_identically_from_its_psd(tmp_path: Path, family_engine: Engine) -> None:
    underpaint = Underpaint(make_settings(tmp_path), {"diffusers": family_engine})
    first = underpaint.edit(IMAGE, INSTRUCTION, MASK, model=KONTEXT, steps=2, seed=9)
    saved = ResultStore(tmp_path / "results", 30, 1000).save(first, "edit-1")
    again = underpaint.replay(saved.psd)
    assert again.recipe.mode is Mode.EDIT and again.recipe.params.prompt == INSTRUCTION
    assert np.array_equal(first.layers[0].pixels, again.layers[0].pixels)
    assert first.group_name == f"Edit: {INSTRUCTION}"


async def test_the_edit_command_writes_a_layered_psd(agent: RunningAgent, tmp_path: Path) -> None:
    image, mask, out = tmp_path / "photo.png", tmp_path / "jacket.png", tmp_path / "edited.psd"
    Image.fromarray(IMAGE).save(image)
    Image.fromarray(MASK).save(mask)
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_PORT": str(agent.port),
           "UNDERPAINT_TOKEN": TOKEN}
    result = await asyncio.to_thread(CliRunner().invoke, main, [
        "edit", str(image), INSTRUCTION, "--mask", str(mask), "--model", KONTEXT, "--steps", "2", "--seed", "3",
        "--strength", "1", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    group = list(PSDImage.open(out))[1]
    assert group.is_group() and group.name == f"Edit: {INSTRUCTION}"


async def test_the_hot_folder_runs_an_edit_recipe(tmp_path: Path, family_engine: Engine) -> None:
    inbox = tmp_path / "hot" / "in"
    inbox.mkdir(parents=True)
    staged = tmp_path / "staged"
    staged.mkdir()
    Image.fromarray(IMAGE).save(staged / "poster.png")
    (staged / "poster.json").write_text(json.dumps({"mode": "edit", "model": KONTEXT,
                                                    "params": {"prompt": INSTRUCTION, "steps": 2, "seed": 4}}))
    async with live_agent(tmp_path, {"diffusers": family_engine}):
        for path in sorted(staged.iterdir()):
            path.rename(inbox / path.name)
        out = tmp_path / "hot" / "out" / "poster"
        await until(lambda: "poster.psd" in names(out) or names(tmp_path / "hot" / "failed") != [], 60,
                    "the edit's PSD")
    assert "poster.psd" in names(out), names(tmp_path / "hot" / "failed")
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["mode"] == "edit" and recipe["params"]["prompt"] == INSTRUCTION
