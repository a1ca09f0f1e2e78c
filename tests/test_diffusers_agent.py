"""The diffusers engine through a live agent and real websocket clients, with tiny random-weight models."""

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
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.registry import ModelRegistry
from underpaint.server.app import MANAGER
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import Preview, Progress, Result

W, H = 96, 80
IMAGE, MASK = textured_rgba(H, W, seed=3), soft_ellipse(H, W, (30, 24, 36, 30))


@pytest.fixture
async def agent(tmp_path: Path, engine: DiffusersEngine) -> AsyncIterator[RunningAgent]:
    running = await start_agent(make_settings(tmp_path, engine="diffusers"),
                                {"classic": ClassicEngine(), "diffusers": engine})
    yield running
    await running.stop()


@pytest.fixture
async def gated(tmp_path: Path, engine: DiffusersEngine) -> AsyncIterator[tuple[RunningAgent, Gate]]:
    gate = Gate(engine)
    running = await start_agent(make_settings(tmp_path, engine="diffusers"), {"diffusers": gate})  # type: ignore[dict-item]
    yield running, gate
    gate.open()
    await running.stop()


async def run_job(agent: RunningAgent, job_id: str, mode: Mode, params: Params, previews: bool = False,
                  ) -> tuple[JobOutcome, list[AgentEvent]]:
    events: list[AgentEvent] = []
    image = None if mode is Mode.GENERATE else IMAGE
    mask = MASK if mode in (Mode.FILL, Mode.REMOVE, Mode.REFINE) else None
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit(job_id, mode, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H), params,
                            image, mask, previews=previews)
        outcome = await client.follow(job_id, on_event=events.append)
    return outcome, events


CASES = [
    ("fill-blend", Mode.FILL, "sd15", {}),  # regular UNet: masked-latent blending
    ("fill-9ch", Mode.FILL, "sd15-inpaint", {}),  # 9-channel inpainting UNet
    ("remove-file", Mode.REMOVE, "sd15-file", {"scheduler": "dpmpp_2m_karras"}),  # single-file checkpoint
    ("generate-xl", Mode.GENERATE, "sdxl", {"scheduler": "euler_a"}),  # SDXL, two text encoders
    ("refine", Mode.REFINE, "sd15", {"strength": 0.5, "scheduler": "ddim"}),  # img2img, steps x strength
    ("expand-9ch", Mode.EXPAND, "sd15-inpaint", {"expand": Margins(left=16, top=8), "scheduler": "lcm"}),
]


@pytest.mark.parametrize(("name", "mode", "model", "extra"), CASES, ids=[c[0] for c in CASES])
async def test_every_mode_runs_through_the_agent_and_streams_each_variant_when_ready(
        agent: RunningAgent, name: str, mode: Mode, model: str, extra: dict[str, object]) -> None:
    params = Params(prompt="a red cat", model=model, steps=4, variants=2, seed=11, **extra)  # type: ignore[arg-type]
    outcome, events = await run_job(agent, f"mode-{name}", mode, params)

    assert outcome.state == "done", outcome.error
    assert [v.seed for v in outcome.variants] == [11, 12]
    first_result = next(i for i, e in enumerate(events) if isinstance(e, Result))
    second_variant_starts = next(i for i, e in enumerate(events) if isinstance(e, Progress) and e.variant == 1)
    assert first_result < second_variant_starts, "variant 1 is streamed before variant 2 starts"
    steps = {e.steps for e in events if isinstance(e, Progress) and e.step > 0}
    assert steps == ({2} if mode is Mode.REFINE else {4}), "refine runs steps x strength"
    assert outcome.done is not None
    recipe = outcome.done.recipe
    assert recipe.engine == "diffusers" and recipe.params.model == model and recipe.mode is mode
    assert recipe.model is not None and recipe.model.name == model
    assert recipe.model.sha256, "the recipe pins the weights"
    assert not any("ignores prompts" in w for w in outcome.done.warnings)
    a, b = (v.pixels for v in outcome.variants)
    assert not np.array_equal(a, b), "seeds differ, pixels differ"
    if mode in (Mode.FILL, Mode.REMOVE):
        outside = np.asarray(outcome.variants[0].mask) == 0
        region = outcome.variants[0].bounds
        source = IMAGE[region.y:region.bottom, region.x:region.right]
        assert np.array_equal(a[outside], source[outside]), "pixels outside the selection are the source's"


async def test_previews_arrive_every_few_steps(agent: RunningAgent) -> None:
    params = Params(prompt="sky", steps=9, variants=1, seed=5)
    outcome, events = await run_job(agent, "previews", Mode.FILL, params, previews=True)
    assert outcome.state == "done"
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.step for p in previews] == [4, 8]
    assert previews[0].image.width > 0


async def test_a_fixed_seed_replays_bit_identically(agent: RunningAgent) -> None:
    params = Params(prompt="the sky", model="sd15-inpaint", steps=3, variants=2, seed=99, scheduler="euler_a")
    first, _ = await run_job(agent, "seed-a", Mode.FILL, params)
    again, _ = await run_job(agent, "seed-b", Mode.FILL, params)
    other, _ = await run_job(agent, "seed-c", Mode.FILL, params.model_copy(update={"seed": 100}))
    for x, y in zip(first.variants, again.variants, strict=True):
        assert np.array_equal(x.pixels, y.pixels)
    assert np.array_equal(first.variants[1].pixels, other.variants[0].pixels), "seed 100 is variant 2 of seed 99"


async def _wait_cancel_seen(agent: RunningAgent, job_id: str) -> None:
    job = agent.runner.app[MANAGER].jobs[job_id]
    for _ in range(200):
        if job.cancel.cancelled:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent never saw the cancel")


async def test_cancel_stops_the_job_within_one_step(gated: tuple[RunningAgent, Gate]) -> None:
    agent, gate = gated
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("cancel-me", Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                            Params(prompt="x", steps=20, variants=2), IMAGE, MASK)
        seen: list[Progress] = []
        while True:  # hold the engine after step 2 of variant 1
            message, _ = await client.next_event()
            if isinstance(message, Progress):
                seen.append(message)
                if message.step == 2:
                    break
                if message.step > 0:
                    gate.release()
        await client.cancel("cancel-me")
        await _wait_cancel_seen(agent, "cancel-me")
        gate.open()
        outcome = await client.follow("cancel-me", on_event=lambda m: seen.append(m)  # type: ignore[arg-type]
                                      if isinstance(m, Progress) else None)
    assert outcome.state == "cancelled"
    assert max(p.step for p in seen) == 2, "no step ran after the cancel"
    assert outcome.variants == []


async def test_a_client_that_reconnects_mid_generation_resumes_and_misses_nothing(
        gated: tuple[RunningAgent, Gate]) -> None:
    agent, gate = gated
    seqs: list[int] = []
    first = await AgentClient.connect(agent.ws_url, TOKEN)
    await first.submit("resume-me", Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                       Params(prompt="x", steps=3, variants=2, seed=1), IMAGE, MASK)
    while True:
        message, _ = await first.next_event()
        seqs.append(message.seq or 0)
        if isinstance(message, Progress) and message.step == 2:
            break
        if isinstance(message, Progress) and message.step > 0:
            gate.release()
    await first.close()
    gate.release(3)  # steps and a result while nobody listens
    await asyncio.sleep(0.3)
    second = await AgentClient.connect(agent.ws_url, TOKEN)
    await second.resume("resume-me", after_seq=seqs[-1])
    gate.open()
    outcome = await second.follow("resume-me", on_event=lambda m: seqs.append(m.seq or 0))
    await second.close()
    assert outcome.state == "done"
    assert [v.index for v in outcome.variants] == [0, 1], "both variants, one produced while disconnected"
    assert seqs == list(range(1, seqs[-1] + 1)), "every sequence number exactly once"


async def test_a_broken_model_fails_its_job_clearly_and_the_agent_keeps_serving(
        tmp_path: Path, registry_path: Path, engine: DiffusersEngine) -> None:
    broken = tmp_path / "broken.safetensors"
    whole = (registry_path.parent / "checkpoints" / "model.safetensors").read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    registry = ModelRegistry(tmp_path / "models.json")
    entry = ModelRegistry(registry_path).get("sd15-file")
    registry.put(entry.model_copy(update={"name": "half", "path": str(broken)}))
    registry.put(ModelRegistry(registry_path).get("sd15"))
    mixed = DiffusersEngine(registry, "sd15", engine.options)
    mixed.cache = engine.cache  # the warm sd15
    running = await start_agent(make_settings(tmp_path, engine="diffusers"), {"diffusers": mixed})
    try:
        bad, _ = await run_job(running, "bad", Mode.FILL, Params(model="half", steps=2))
        good, _ = await run_job(running, "good", Mode.FILL, Params(model="sd15", steps=2))
    finally:
        await running.stop()
    assert bad.state == "error" and bad.error is not None
    assert str(broken) in bad.error.message and "truncated" in bad.error.message
    assert "again" in bad.error.message, "says what to do"
    assert good.state == "done"
