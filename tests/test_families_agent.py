"""FLUX.1 ([dev], [schnell], Fill, Kontext) and SD 3.5 through a live agent and real websocket clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from gated_engine import Gate
from underpaint.client.agent_client import AgentClient, AgentEvent, JobOutcome
from underpaint.core import Margins, Mode, Params, Rect, Size
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.server.app import MANAGER
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Progress, Result, Welcome

W, H = 80, 64
IMAGE, MASK = textured_rgba(H, W, seed=5), soft_ellipse(H, W, (24, 16, 32, 28))


@pytest.fixture
async def agent(tmp_path: Path, family_engine: DiffusersEngine) -> AsyncIterator[RunningAgent]:
    running = await start_agent(make_settings(tmp_path, engine="diffusers"), {"diffusers": family_engine})
    yield running
    await running.stop()


async def run_job(agent: RunningAgent, job_id: str, mode: Mode, params: Params,
                  ) -> tuple[JobOutcome, list[AgentEvent]]:
    events: list[AgentEvent] = []
    image = None if mode is Mode.GENERATE else IMAGE
    mask = MASK if mode in (Mode.FILL, Mode.REMOVE, Mode.EDIT) else None
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit(job_id, mode, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H), params,
                            image, mask)
        outcome = await client.follow(job_id, on_event=events.append)
    return outcome, events


CASES = [
    ("flux-dev", Mode.GENERATE), ("flux-dev", Mode.REFINE), ("flux-dev", Mode.FILL), ("flux-dev", Mode.REMOVE),
    ("flux-dev", Mode.EXPAND), ("flux-schnell", Mode.GENERATE), ("flux-schnell", Mode.REFINE),
    ("flux-schnell", Mode.FILL), ("flux-schnell", Mode.REMOVE), ("flux-schnell", Mode.EXPAND),
    ("flux-fill", Mode.FILL), ("flux-fill", Mode.REMOVE), ("flux-fill", Mode.EXPAND),
    ("flux-kontext", Mode.EDIT), ("flux-kontext", Mode.REFINE),
    ("sd3", Mode.GENERATE), ("sd3", Mode.REFINE), ("sd3", Mode.FILL), ("sd3", Mode.REMOVE), ("sd3", Mode.EXPAND),
]


@pytest.mark.parametrize(("model", "mode"), CASES, ids=[f"{model}-{mode}" for model, mode in CASES])
async def test_every_mode_of_every_family_runs_through_the_agent(agent: RunningAgent, model: str,
                                                                 mode: Mode) -> None:
    extra = {"expand": Margins(left=16)} if mode is Mode.EXPAND else {}
    strength = 0.5 if mode is Mode.REFINE else 1.0
    params = Params(prompt="make the jacket red", model=model, steps=2, seed=4, strength=strength,
                    **extra)  # type: ignore[arg-type]
    outcome, events = await run_job(agent, f"{model}-{mode}", mode, params)

    assert outcome.state == "done", outcome.error
    assert outcome.done is not None
    recipe = outcome.done.recipe
    assert recipe.mode is mode and recipe.model is not None and recipe.model.name == model
    pixels = outcome.variants[0].pixels
    assert pixels.std() > 1, "an image, not a flat fill"
    region = outcome.variants[0].bounds
    steps = {e.steps for e in events if isinstance(e, Progress) and e.step > 0}
    assert steps == ({1} if mode is Mode.REFINE else {2}), "refine runs steps x strength"
    if mode in (Mode.FILL, Mode.REMOVE, Mode.EDIT):
        outside = np.asarray(outcome.variants[0].mask) == 0
        source = IMAGE[region.y:region.bottom, region.x:region.right]
        assert np.array_equal(pixels[outside], source[outside]), "pixels outside the selection are the source's"


async def test_variants_stream_each_as_soon_as_it_is_made(agent: RunningAgent) -> None:
    params = Params(prompt="a red cat", model="flux-fill", steps=2, variants=2, seed=8)
    outcome, events = await run_job(agent, "stream", Mode.FILL, params)

    assert outcome.state == "done", outcome.error
    assert [v.seed for v in outcome.variants] == [8, 9]
    first_result = next(i for i, e in enumerate(events) if isinstance(e, Result))
    second_starts = next(i for i, e in enumerate(events) if isinstance(e, Progress) and e.variant == 1)
    assert first_result < second_starts, "variant 1 is streamed before variant 2 starts"
    assert not np.array_equal(*(v.pixels for v in outcome.variants)), "seeds differ, pixels differ"


async def test_a_fixed_seed_replays_bit_identically(agent: RunningAgent) -> None:
    params = Params(prompt="turn it into a watercolour", model="flux-kontext", steps=2, variants=2, seed=21)
    first, _ = await run_job(agent, "replay-a", Mode.EDIT, params)
    again, _ = await run_job(agent, "replay-b", Mode.EDIT, params)
    later, _ = await run_job(agent, "replay-c", Mode.EDIT, params.model_copy(update={"seed": 22}))

    for a, b in zip(first.variants, again.variants, strict=True):
        assert np.array_equal(a.pixels, b.pixels)
    assert np.array_equal(first.variants[1].pixels, later.variants[0].pixels), "seed 22 is variant 2 of seed 21"


@pytest.mark.parametrize(("model", "mode"), [("flux-fill", Mode.GENERATE), ("flux-kontext", Mode.FILL),
                                             ("flux-dev", Mode.EDIT), ("sd3", Mode.EDIT)])
async def test_a_family_asked_for_a_mode_it_lacks_is_refused_at_submit(agent: RunningAgent, model: str,
                                                                       mode: Mode) -> None:
    outcome, events = await run_job(agent, f"lacks-{model}-{mode}", mode,
                                    Params(prompt="make the sky blue", model=model, steps=2))
    assert outcome.state == "error" and outcome.error is not None
    assert outcome.error.code == "unsupported_mode"
    assert not any(isinstance(e, Progress) and e.step > 0 for e in events), "nothing ran"


async def test_the_handshake_describes_each_family(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        welcome = client.welcome
    assert isinstance(welcome, Welcome)
    engine = next(e for e in welcome.capabilities.engines if e.name == "diffusers")
    models = {m.name: m for m in engine.model_details}
    assert {name: (m.family, m.guidance) for name, m in models.items()} == {
        "flux-dev": ("flux-dev", "distilled"), "flux-schnell": ("flux-schnell", "none"),
        "flux-fill": ("flux-fill", "distilled"), "flux-kontext": ("flux-kontext", "distilled"),
        "sd3": ("sd3", "cfg")}
    assert set(models["flux-fill"].modes) == {Mode.FILL, Mode.REMOVE, Mode.EXPAND, Mode.UPSCALE}
    assert set(models["flux-kontext"].modes) == {Mode.EDIT, Mode.REFINE, Mode.UPSCALE}
    assert {m.multiple for m in models.values()} == {16}


async def test_the_handshake_names_the_model_a_job_naming_none_runs_on(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        welcome = client.welcome
    assert isinstance(welcome, Welcome)
    engine = next(e for e in welcome.capabilities.engines if e.name == "diffusers")
    assert engine.default_model is not None and engine.default_model in engine.models


async def test_cancel_stops_a_flux_job_between_steps(tmp_path: Path, family_engine: DiffusersEngine) -> None:
    gate = Gate(family_engine)
    agent = await start_agent(make_settings(tmp_path, engine="diffusers"), {"diffusers": gate})  # type: ignore[dict-item]
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.submit("cancel-flux", Mode.GENERATE, Size(width=W, height=H),
                                Rect(x=0, y=0, width=W, height=H),
                                Params(prompt="x", model="flux-schnell", steps=20, variants=2), None, None)
            seen: list[Progress] = []
            while not any(p.step == 1 for p in seen):  # the engine is held after its first step
                message, _ = await client.next_event()
                if isinstance(message, Progress):
                    seen.append(message)
            await client.cancel("cancel-flux")
            job = agent.runner.app[MANAGER].jobs["cancel-flux"]
            while not job.cancel.cancelled:
                await asyncio.sleep(0.01)
            gate.open()
            outcome = await client.follow("cancel-flux", on_event=lambda m: seen.append(m)  # type: ignore[arg-type]
                                          if isinstance(m, Progress) else None)
    finally:
        gate.open()
        await agent.stop()
    assert outcome.state == "cancelled"
    assert max(p.step for p in seen) == 1, "no step ran after the cancel"
    assert outcome.variants == []


async def test_a_size_off_the_families_multiple_is_worked_at_a_multiple_of_16(agent: RunningAgent) -> None:
    width, height = 70, 50
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("odd", Mode.FILL, Size(width=width, height=height), Rect(x=0, y=0, width=width,
                            height=height), Params(prompt="a red cat", model="flux-fill", steps=2),
                            IMAGE[:height, :width], MASK[:height, :width])
        outcome = await client.follow("odd")
    assert outcome.state == "done", outcome.error
    assert outcome.variants[0].pixels.shape[:2] == (height, width), "scaled back to the selection's size"
