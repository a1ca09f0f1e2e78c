"""Controls and references over the websocket: their images travel like the source, reach the job intact,
and every bad one is refused with its own code while the agent goes on serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from guide_engines import GuidesAccepted
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.core.conditioning import ControlKind, ControlRef, ReferenceRef
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.results.recipe import pixels_sha256
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.frames import chunk_frames
from wsraw import fill_submit, open_raw, recv_json, recv_until

W, H = 96, 64
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (30, 20, 30, 20))
DOCUMENT, REGION = Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H)
SCRIBBLE = np.zeros((H, W, 4), np.uint8)
SCRIBBLE[:, :, 3] = 255
SCRIBBLE[20:44, 30:33, :3] = 255  # a stroke down the middle of the selection
REFERENCE = textured_rgba(30, 40, seed=3)


def blob(stream: str, array: np.ndarray) -> dict[str, Any]:
    return {"stream": stream, "format": "rgba8", "width": array.shape[1], "height": array.shape[0],
            "bytes": array.nbytes}


@pytest.fixture
async def accepting(tmp_path: Path) -> AsyncIterator[tuple[RunningAgent, GuidesAccepted]]:
    engine = GuidesAccepted(ClassicEngine())
    running = await start_agent(make_settings(tmp_path), {"classic": engine})
    yield running, engine
    await running.stop()


async def refusal(agent: RunningAgent, message: dict[str, Any]) -> dict[str, Any]:
    """The agent's answer to `message` on a fresh connection, which then still answers list_jobs."""
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(message))
    error = await recv_json(ws)
    await ws.send(json.dumps({"type": "list_jobs"}))
    assert (await recv_json(ws))["type"] == "jobs"
    await ws.close()
    return error


def with_controls(controls: list[dict[str, Any]], images: list[dict[str, Any] | None], job_id: str = "bad-1"
                  ) -> dict[str, Any]:
    message = fill_submit(job_id, IMAGE, MASK)
    message["params"] = {"controls": controls}
    message["controls"] = images
    return message


async def test_the_classic_engine_refuses_a_control_saying_it_cannot_apply_one(agent: RunningAgent) -> None:
    error = await refusal(agent, with_controls([{"kind": "scribble"}], [blob("bad-1/control-0", SCRIBBLE)]))
    assert error["code"] == "unsupported_feature" and error["job_id"] == "bad-1"
    assert "controls (ControlNet)" in error["message"] and "classic" in error["message"]


async def test_the_classic_engine_refuses_a_reference_saying_it_cannot_apply_one(agent: RunningAgent) -> None:
    message = fill_submit("bad-1", IMAGE, MASK) | {"params": {"references": [{"weight": 0.5}]},
                                                   "references": [blob("bad-1/reference-0", REFERENCE)]}
    error = await refusal(agent, message)
    assert error["code"] == "unsupported_feature" and "reference images (IP-Adapter)" in error["message"]


async def test_a_sent_control_and_a_reference_reach_the_job_as_sent(
        accepting: tuple[RunningAgent, GuidesAccepted]) -> None:
    agent, engine = accepting
    params = Params(controls=(ControlRef(kind=ControlKind.SCRIBBLE, strength=0.7),), references=(ReferenceRef(),))
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("guided", Mode.FILL, DOCUMENT, REGION, params, IMAGE, MASK, upload_format="png",
                            control_images=[SCRIBBLE], reference_images=[REFERENCE])
        outcome = await client.follow("guided")
    assert outcome.state == "done" and outcome.done is not None
    recipe = outcome.done.recipe
    assert recipe.params.controls[0].image_sha256 == pixels_sha256(SCRIBBLE), "the control's pixels, decoded"
    assert recipe.params.references[0].image_sha256 == pixels_sha256(REFERENCE)
    assert engine.pinned[-1].controls[0].strength == 0.7


async def test_a_control_derived_from_the_source_sends_no_stream_of_its_own(
        accepting: tuple[RunningAgent, GuidesAccepted]) -> None:
    agent, _ = accepting
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(with_controls([{"kind": "canny", "image": "source"}], [None], "edges")))
    for stream, data in (("edges/image", IMAGE), ("edges/mask", MASK)):
        for frame in chunk_frames(stream, data.tobytes()):
            await ws.send(frame)
    events = await recv_until(ws, "done")
    await ws.close()
    assert events[0]["type"] == "accepted" and events[-1]["type"] == "done", events
    assert events[-1]["recipe"]["params"]["controls"][0]["image"] == "source"


BAD_GUIDES = [
    ([{"kind": "scribble"}], [{"stream": "c", "format": "rgba8", "width": 10, "height": 10, "bytes": 400}],
     "control_size_mismatch"),
    ([{"kind": "scribble"}] * 5, [None] * 5, "too_many_controls"),
    ([{"kind": "scribble", "strength": 2.5}], [None], "weight_out_of_range"),
    ([{"kind": "outline"}], [None], "unknown_control_kind"),
    ([{"kind": "scribble", "start": 0.6, "end": 0.4}], [None], "bad_step_range"),
    ([{"kind": "scribble"}], [None], "control_needs_image"),
    ([{"kind": "canny"}], [], "control_needs_image"),
]


@pytest.mark.parametrize(("controls", "images", "code"), BAD_GUIDES,
                         ids=["wrong-size", "five", "strength", "kind", "steps", "no-blob", "no-entry"])
async def test_a_bad_control_is_refused_at_submit_with_its_own_code(
        accepting: tuple[RunningAgent, GuidesAccepted], controls: list[dict[str, Any]],
        images: list[dict[str, Any] | None], code: str) -> None:
    error = await refusal(accepting[0], with_controls(controls, images))
    assert (error["type"], error["code"], error["job_id"]) == ("error", code, "bad-1"), error
    assert error["retryable"] is False and error.get("seq") is None
    assert error["message"].endswith(".")


async def test_a_control_from_the_source_on_a_generate_job_is_refused_as_needing_one(
        tmp_path: Path, engine: Engine) -> None:
    agent = await start_agent(make_settings(tmp_path, engine="diffusers"), {"diffusers": GuidesAccepted(engine)})
    try:
        message = {"type": "submit", "job_id": "gen-1", "mode": "generate", "document": {"width": 64, "height": 64},
                   "region": {"x": 0, "y": 0, "width": 64, "height": 64},
                   "params": {"controls": [{"kind": "canny", "image": "source"}]}, "controls": [None]}
        error = await refusal(agent, message)
    finally:
        await agent.stop()
    assert (error["code"], error["job_id"]) == ("control_needs_source", "gen-1"), error


async def test_bad_guides_leave_another_clients_job_running(accepting: tuple[RunningAgent, GuidesAccepted]) -> None:
    agent, _ = accepting
    async with await AgentClient.connect(agent.ws_url, TOKEN) as bystander:
        await bystander.submit("bystander", Mode.FILL, DOCUMENT, REGION, Params(variants=2), IMAGE, MASK)
        for controls, images, code in BAD_GUIDES:
            assert (await refusal(agent, with_controls(controls, images)))["code"] == code
        outcome = await bystander.follow("bystander")
    assert outcome.state == "done" and len(outcome.variants) == 2


async def test_a_reference_image_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, max_pixels=W * H), {"classic": GuidesAccepted(ClassicEngine())})
    large = textured_rgba(H + 1, W)
    try:
        message = fill_submit("bad-1", IMAGE, MASK) | {"params": {"references": [{}]},
                                                       "references": [blob("bad-1/reference-0", large)]}
        error = await refusal(agent, message)
    finally:
        await agent.stop()
    assert error["code"] == "too_many_pixels" and "reference image 1" in error["message"]


async def test_a_job_id_stands_for_its_control_pixels_too(accepting: tuple[RunningAgent, GuidesAccepted]) -> None:
    agent, _ = accepting
    params = Params(controls=(ControlRef(kind=ControlKind.SCRIBBLE),))
    other = SCRIBBLE.copy()
    other[0, 0, 0] = 1
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("same-id", Mode.FILL, DOCUMENT, REGION, params, IMAGE, MASK, control_images=[SCRIBBLE])
        assert (await client.follow("same-id")).state == "done"
        seen: list[Any] = []
        await client.submit("same-id", Mode.FILL, DOCUMENT, REGION, params, IMAGE, MASK, control_images=[SCRIBBLE])
        await client.follow("same-id", seen.append)  # the duplicate's reply, then the job's events again
        await client.submit("same-id", Mode.FILL, DOCUMENT, REGION, params, IMAGE, MASK, control_images=[other])
        outcome = await client.follow("same-id")
    assert seen[0].type == "accepted" and seen[0].duplicate
    assert outcome.error is not None and outcome.error.code == "job_id_conflict"


async def test_a_job_id_stands_for_its_set_id_too(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit("in-a-set", Mode.FILL, DOCUMENT, REGION, Params(), IMAGE, MASK, set_id="spring")
        assert (await client.follow("in-a-set")).state == "done"
        await client.submit("in-a-set", Mode.FILL, DOCUMENT, REGION, Params(), IMAGE, MASK, set_id="autumn")
        outcome = await client.follow("in-a-set")
    assert outcome.error is not None and outcome.error.code == "job_id_conflict"


async def test_the_welcome_lists_control_kinds_and_what_each_model_can_take(tmp_path: Path, engine: Engine) -> None:
    agent = await start_agent(make_settings(tmp_path), {"classic": ClassicEngine(), "diffusers": engine})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            capabilities = client.welcome.capabilities
    finally:
        await agent.stop()
    assert capabilities.control_kinds == list(ControlKind)
    classic, diffusers = capabilities.engines
    assert classic.model_details == []
    assert [model.name for model in diffusers.model_details] == diffusers.models
    for model in diffusers.model_details:
        caps = engine.capabilities_for(model.name)
        assert (model.loras, model.ip_adapters) == (list(caps.loras), list(caps.ip_adapters))
        assert [(c.name, c.kind) for c in model.controlnets] == list(caps.controlnets)
        assert set(model.preprocessors) == caps.preprocessors


async def test_control_and_reference_bytes_count_against_the_upload_budget(tmp_path: Path) -> None:
    source_bytes = IMAGE.nbytes + MASK.nbytes
    settings = make_settings(tmp_path, upload_memory_per_connection_mb=(source_bytes + 100) / (1 << 20))
    agent = await start_agent(settings, {"classic": GuidesAccepted(ClassicEngine())})
    try:
        message = fill_submit("bad-1", IMAGE, MASK) | {"params": {"references": [{}]},
                                                       "references": [blob("bad-1/reference-0", REFERENCE)]}
        error = await refusal(agent, message)
    finally:
        await agent.stop()
    assert error["code"] == "upload_too_large" and str(source_bytes + REFERENCE.nbytes) in error["message"]
