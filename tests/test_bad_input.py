"""Bad input gets a clear error with a stable code; the agent and other clients go on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from conftest import make_settings, soft_ellipse, textured_rgba
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.frames import encode_frame
from wsraw import TOKEN, fill_submit, open_raw, recv_json, send_fill

W, H = 96, 64
IMAGE, MASK = textured_rgba(H, W), soft_ellipse(H, W, (30, 20, 30, 20))


async def expect_error(ws: ClientConnection, code: str) -> dict[str, Any]:
    message = await recv_json(ws)
    assert message["type"] == "error", message
    assert message["code"] == code, message
    assert message["message"].endswith("."), "errors are sentences"
    return message


async def still_serving(ws: ClientConnection) -> None:
    """The same connection answers the next good request."""
    await ws.send(json.dumps({"type": "list_jobs"}))
    assert (await recv_json(ws))["type"] == "jobs"


def submit_with(**changes: Any) -> dict[str, Any]:
    message = fill_submit("bad-1", IMAGE, MASK)
    for key, value in changes.items():
        if value is None:
            message.pop(key)
        else:
            message[key] = value
    return message


async def test_malformed_json_is_answered_with_bad_json(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send("{not json")
    await expect_error(ws, "bad_json")
    await still_serving(ws)


async def test_a_message_that_is_not_an_object_is_invalid(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send("[1, 2, 3]")
    await expect_error(ws, "invalid_message")
    await still_serving(ws)


async def test_an_unknown_message_type_is_named_in_the_error(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps({"type": "make_it_pop"}))
    error = await expect_error(ws, "unknown_type")
    assert "make_it_pop" in error["message"]
    await still_serving(ws)


async def test_a_submit_missing_a_field_is_invalid_and_names_the_field(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(submit_with(document=None)))
    error = await expect_error(ws, "invalid_message")
    assert "document" in error["message"] and error["job_id"] == "bad-1"
    await still_serving(ws)


@pytest.mark.parametrize(("changes", "code"), [
    ({"mask": {"stream": "m", "format": "gray8", "width": W - 1, "height": H, "bytes": (W - 1) * H}},
     "size_mismatch"),
    ({"region": {"x": 0, "y": 0, "width": 0, "height": H}}, "bad_region"),
    ({"region": {"x": 10, "y": 0, "width": W, "height": H}}, "bad_region"),
    ({"image": {"stream": "i", "format": "rgba8", "width": W, "height": H, "bytes": 5}}, "upload_size_mismatch"),
    ({"mode": "generate"}, "unsupported_mode"),
    ({"params": {"engine": "dreamy"}}, "unknown_engine"),
    ({"params": {"model": "sdxl-turbo"}}, "unknown_model"),
    ({"mask": None}, "invalid_message"),
    ({"mode": "expand", "params": {"expand": {"left": 0}}}, "invalid_message"),
    ({"image": {"stream": "same", "format": "rgba8", "width": W, "height": H, "bytes": W * H * 4},
      "mask": {"stream": "same", "format": "gray8", "width": W, "height": H, "bytes": W * H}}, "invalid_message"),
], ids=["mask-size", "zero-area", "out-of-bounds", "wrong-byte-count", "mode", "engine", "model", "no-mask",
        "expand-without-margins", "one-stream-for-two"])
async def test_requests_the_agent_cannot_run_are_refused_before_any_upload(
        agent: RunningAgent, changes: dict[str, Any], code: str) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(submit_with(**changes)))
    error = await expect_error(ws, code)
    assert error["retryable"] is False and error.get("seq") is None  # refused at submit, never queued
    await still_serving(ws)


async def test_a_region_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, max_pixels=W * H - 1), {"classic": ClassicEngine()})
    try:
        ws = await open_raw(agent.ws_url)
        await ws.send(json.dumps(submit_with()))
        error = await expect_error(ws, "too_many_pixels")
        assert str(W * H - 1) in error["message"]
    finally:
        await agent.stop()


async def test_an_empty_mask_is_refused_after_upload(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await send_fill(ws, "empty", IMAGE, MASK * 0)
    await expect_error(ws, "empty_mask")
    await still_serving(ws)


async def test_a_corrupt_png_is_refused_as_bad_image(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    garbage = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    message = submit_with(image={"stream": "png", "format": "png", "width": W, "height": H, "bytes": len(garbage)})
    await ws.send(json.dumps(message))
    await ws.send(encode_frame("png", 0, 1, garbage))
    await ws.send(encode_frame("bad-1/mask", 0, 1, MASK.tobytes()))
    await expect_error(ws, "bad_image")
    await still_serving(ws)


async def test_chunks_out_of_order_are_refused(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(submit_with()))
    data = IMAGE.tobytes()
    await ws.send(encode_frame("bad-1/image", 1, 2, data[len(data) // 2:]))
    await expect_error(ws, "chunk_out_of_order")
    await ws.send(encode_frame("bad-1/image", 0, 2, data[: len(data) // 2]))  # ignored: upload dropped
    await still_serving(ws)


async def test_more_bytes_than_announced_are_refused(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps(submit_with()))
    await ws.send(encode_frame("bad-1/image", 0, 1, IMAGE.tobytes() + b"extra"))
    await expect_error(ws, "upload_size_mismatch")
    await still_serving(ws)


async def test_an_upload_that_stops_halfway_times_out(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, upload_timeout=0.3), {"classic": ClassicEngine()})
    try:
        ws = await open_raw(agent.ws_url)
        await ws.send(json.dumps(submit_with()))
        await ws.send(encode_frame("bad-1/image", 0, 2, IMAGE.tobytes()[:100]))
        error = await expect_error(ws, "upload_timeout")
        assert error["retryable"] is True
        await still_serving(ws)
    finally:
        await agent.stop()


async def test_a_frame_for_a_stream_nobody_announced_is_refused(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(encode_frame("who", 0, 1, b"1234"))
    await expect_error(ws, "unknown_stream")
    await still_serving(ws)


async def test_a_frame_without_a_valid_header_is_refused(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(b"\x00\x00\x00\x05{bad}")
    await expect_error(ws, "bad_frame")
    await still_serving(ws)


async def test_a_frame_over_the_message_limit_closes_only_that_connection(agent: RunningAgent) -> None:
    bystander = await AgentClient.connect(agent.ws_url, TOKEN)
    ws = await open_raw(agent.ws_url)
    await ws.send(encode_frame("big", 0, 1, bytes(3 << 20)))
    with pytest.raises(ConnectionClosed) as closed:
        await recv_json(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert (await bystander.list_jobs()) == []
    await bystander.close()


async def test_a_client_vanishing_mid_upload_does_not_disturb_another_clients_job(agent: RunningAgent) -> None:
    other = await AgentClient.connect(agent.ws_url, TOKEN)
    await other.submit("other-job", Mode.FILL, Size(width=W, height=H), Rect(x=0, y=0, width=W, height=H),
                       Params(variants=2), IMAGE, MASK)
    leaver = await open_raw(agent.ws_url)
    await leaver.send(json.dumps(fill_submit("left", IMAGE, MASK)))
    await leaver.send(encode_frame("left/image", 0, 3, IMAGE.tobytes()[:1000]))
    await leaver.close()
    outcome = await other.follow("other-job")
    jobs = await other.list_jobs()
    await other.close()
    assert outcome.state == "done" and len(outcome.variants) == 2
    assert [job.job_id for job in jobs] == ["other-job"], "the half-uploaded job never became a job"


async def test_a_plan_for_a_selection_outside_the_document_is_refused(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url)
    await ws.send(json.dumps({"type": "plan", "request_id": "p", "mode": "fill",
                              "document": {"width": 100, "height": 100},
                              "selection": {"x": 200, "y": 200, "width": 10, "height": 10}}))
    await expect_error(ws, "empty_mask")
    await still_serving(ws)


async def test_a_plan_returns_a_context_around_the_selection(agent: RunningAgent) -> None:
    client = await AgentClient.connect(agent.ws_url, TOKEN)
    planned = await client.plan(Mode.FILL, Size(width=4000, height=3000), Rect(x=1800, y=1300, width=400, height=300))
    await client.close()
    context = planned.context
    assert context.x < 1800 and context.y < 1300
    assert context.right > 2200 and context.bottom > 1600
    assert context.right <= 4000 and context.bottom <= 3000


async def test_a_hello_with_the_wrong_token_is_refused_and_closed(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url, hello=False)
    await ws.send(json.dumps({"type": "hello", "protocol": "1.0", "client": {"name": "t"}, "token": "guess"}))
    await expect_error(ws, "unauthorized")
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 4401


async def test_a_client_of_another_major_version_gets_a_clear_error(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url, hello=False)
    await ws.send(json.dumps({"type": "hello", "protocol": "2.0", "client": {"name": "t"}, "token": TOKEN}))
    error = await expect_error(ws, "unsupported_version")
    assert "1.0" in error["message"] and "2.0" in error["message"]
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 4002


async def test_a_message_before_hello_is_refused_and_closed(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url, hello=False)
    await ws.send(json.dumps({"type": "list_jobs"}))
    await expect_error(ws, "handshake_required")
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 4400
