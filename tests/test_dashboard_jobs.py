"""The page's routes on real jobs: thumbnails, picks kept across a restart, exported picks, re-runs, the live
queue with cancel, and what the agent has."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
from PIL import Image

from conftest import TOKEN, GatedEngine, soft_ellipse, textured_rgba
from dashboard_support import API, SIDE, ended, get_json, post_json, run_fill, signed_in
from underpaint.client.agent_client import AgentClient
from underpaint.config import Settings
from underpaint.core import Mode, Params, Rect, Size
from underpaint.engines.classic import ClassicEngine
from underpaint.results.thumbnails import THUMBNAIL_SIDE
from underpaint.server.serve import RunningAgent, start_agent


async def test_each_saved_variant_has_a_small_webp_thumbnail(agent: RunningAgent, settings: Settings) -> None:
    await run_fill(agent, "job", variants=2)
    for index in (1, 2):
        with Image.open(settings.results_dir / "job" / f"thumb-{index}.webp") as thumbnail:
            assert thumbnail.format == "WEBP"
            assert max(thumbnail.size) <= THUMBNAIL_SIDE
    session = await signed_in(agent)
    async with session, session.get(f"{API}/jobs/job/files/thumb-2.webp") as response:
        assert (response.status, response.content_type) == (200, "image/webp")


async def test_a_job_saved_without_thumbnails_gets_them_from_its_png_on_first_request(
        agent: RunningAgent, settings: Settings) -> None:
    await run_fill(agent, "job", variants=1)
    thumbnail = settings.results_dir / "job" / "thumb-1.webp"
    thumbnail.unlink()
    session = await signed_in(agent)
    async with session, session.get(f"{API}/jobs/job/files/thumb-1.webp") as response:
        assert response.status == 200
        with Image.open(io.BytesIO(await response.read())) as image:
            assert image.format == "WEBP"
    assert thumbnail.is_file()


async def test_the_source_of_a_job_is_served_for_comparing(agent: RunningAgent) -> None:
    await run_fill(agent, "job", variants=1)
    session = await signed_in(agent)
    async with session, session.get(f"{API}/jobs/job/files/source.png") as response:
        assert response.status == 200
        with Image.open(io.BytesIO(await response.read())) as source:
            assert np.array_equal(np.asarray(source), textured_rgba(SIDE, SIDE))


async def test_stars_and_notes_survive_a_restart_and_are_found_by_filter(settings: Settings) -> None:
    first = await start_agent(settings, {"classic": ClassicEngine()})
    await run_fill(first, "starred-job", variants=2)
    await run_fill(first, "plain-job", variants=1)
    async with await signed_in(first) as session:
        assert (await post_json(session, "/jobs/starred-job/picks/1", {"starred": True, "note": "the one"}))[0] == 200
        assert (await post_json(session, "/jobs/starred-job/picks/1", {"verdict": "pick"}))[0] == 200
    await first.stop()
    again = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        async with await signed_in(again) as session:
            found = await get_json(session, "/jobs?keep=starred")
    finally:
        await again.stop()
    assert [job["job_id"] for job in found["jobs"]] == ["starred-job"]
    assert found["jobs"][0]["picks"] == [{"variant": 1, "starred": True, "verdict": "pick", "note": "the one"}]


async def test_picks_of_bad_variants_or_fields_are_refused_with_their_code(agent: RunningAgent) -> None:
    await run_fill(agent, "job", variants=1)
    async with await signed_in(agent) as session:
        assert (await post_json(session, "/jobs/job/picks/5", {"starred": True}))[1]["error"] == "unknown_job"
        assert (await post_json(session, "/jobs/job/picks/0", {"verdict": "maybe"}))[1]["error"] == "invalid_message"
        assert (await post_json(session, "/jobs/job/picks/0", {"stars": 5}))[1]["error"] == "invalid_message"
        assert (await post_json(session, "/jobs/job/picks/0", ["starred"]))[1]["error"] == "invalid_message"


async def test_bad_filter_values_are_refused_with_invalid_message(agent: RunningAgent) -> None:
    async with await signed_in(agent) as session:
        for query in ("mode=paint", "keep=loved", "since=yesterday", "before=nonsense", "limit=many"):
            async with session.get(f"{API}/jobs?{query}") as response:
                assert (response.status, (await response.json())["error"]) == (400, "invalid_message"), query


async def test_export_picks_zips_the_picked_variants_of_a_set_with_their_notes(agent: RunningAgent) -> None:
    await run_fill(agent, "poster-a", variants=2, set_id="spring")
    await run_fill(agent, "poster-b", variants=2, set_id="spring")
    async with await signed_in(agent) as session:
        await post_json(session, "/jobs/poster-a/picks/1", {"verdict": "pick", "note": "best sky"})
        await post_json(session, "/jobs/poster-b/picks/0", {"verdict": "reject"})
        await post_json(session, "/jobs/poster-b/picks/1", {"verdict": "pick"})
        async with session.get(f"{API}/sets/spring/picks.zip") as response:
            assert response.status == 200
            archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        async with session.get(f"{API}/sets/autumn/picks.zip") as unknown:
            assert (unknown.status, (await unknown.json())["error"]) == (404, "bad_set")
    assert sorted(archive.namelist()) == ["picks.json", "poster-a-variant-2.png", "poster-b-variant-2.png"]
    manifest = json.loads(archive.read("picks.json"))
    assert [(p["job_id"], p["variant"], p["seed"], p["note"]) for p in manifest["picks"]] == [
        ("poster-a", 1, 8, "best sky"), ("poster-b", 1, 8, "")]
    assert archive.read("poster-a-variant-2.png").startswith(b"\x89PNG")


async def test_a_rerun_with_a_new_seed_is_a_new_job_of_the_page_with_that_seed(agent: RunningAgent) -> None:
    await run_fill(agent, "job", variants=1, seed=7)
    async with await signed_in(agent) as session:
        status, queued = await post_json(session, "/jobs/job/rerun", {"seed": 99})
        assert status == 200, queued
        rerun = await ended(session, queued["job_id"])
    assert (rerun["state"], rerun["seeds"], rerun["client"], rerun["source"]) == (
        "done", [99], "underpaint-dashboard", "dashboard")
    assert rerun["recipe"]["image_sha256"] is not None


async def test_a_rerun_refuses_fields_it_does_not_change_and_bad_values(agent: RunningAgent) -> None:
    await run_fill(agent, "job", variants=1)
    async with await signed_in(agent) as session:
        assert (await post_json(session, "/jobs/job/rerun", {"steps": 3}))[1]["error"] == "invalid_message"
        assert (await post_json(session, "/jobs/job/rerun", {"strength": 7}))[1]["error"] == "invalid_message"
        assert (await post_json(session, "/jobs/job/rerun", {"style": "nope"}))[1]["error"] == "unknown_style"


async def test_the_live_stream_shows_a_waiting_job_and_cancel_takes_it_out(
        gated_agent: RunningAgent, gated: GatedEngine) -> None:
    async with await AgentClient.connect(gated_agent.ws_url, TOKEN, "pytest-plugin") as client:
        for job_id in ("running-job", "waiting-job"):
            await client.submit(job_id, Mode.FILL, Size(width=SIDE, height=SIDE),
                                Rect(x=0, y=0, width=SIDE, height=SIDE), Params(),
                                textured_rgba(SIDE, SIDE), soft_ellipse(SIDE, SIDE, (12, 12, 24, 24)))
        async with await signed_in(gated_agent) as session, session.get(f"{API}/live") as stream:
            queue = await _next_event(stream, "queue", lambda views: len(views) == 2)
            assert [(v["job_id"], v["state"], v["position"]) for v in queue] == [
                ("running-job", "running", None), ("waiting-job", "queued", 1)]
            assert (await post_json(session, "/jobs/waiting-job/cancel", {}))[0] == 200
            assert await _next_event(stream, "ended", lambda ids: "waiting-job" in ids) == ["waiting-job"]
        gated.open_fully()


async def _next_event(stream: aiohttp.ClientResponse, name: str, wanted: Callable[[Any], bool]) -> Any:
    """The data of the next server-sent event `name` for which `wanted(data)` holds."""
    event = ""
    async for raw in stream.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == name:
            data = json.loads(line.removeprefix("data: "))
            if wanted(data):
                return data
    raise AssertionError(f"the stream ended before a {name} event")


async def test_a_job_records_its_engines_seconds_and_the_device_it_ran_on(agent: RunningAgent) -> None:
    await run_fill(agent, "job", variants=1)
    async with await signed_in(agent) as session:
        job = await get_json(session, "/jobs/job")
    assert job["device"] == "cpu"
    assert 0 < job["engine_seconds"] <= job["finished_at"] - job["started_at"]


async def test_the_library_lists_each_engine_with_its_device_and_the_styles(agent: RunningAgent) -> None:
    async with await signed_in(agent) as session:
        library = await get_json(session, "/library")
    assert library["devices"] == {"classic": "cpu"}
    assert [engine["name"] for engine in library["capabilities"]["engines"]] == ["classic"]
    assert library["capabilities"]["styles"] == []
