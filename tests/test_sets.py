"""Consistent sets: one recipe over many targets becomes ordinary jobs sharing a set id, queued all or none."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from conftest import TOKEN, make_settings, soft_ellipse, textured_rgba
from guide_engines import GuidesAccepted
from underpaint.client.agent_client import AgentClient, Target
from underpaint.core import Mode, Params, Rect, Size
from underpaint.core.conditioning import ReferenceRef
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.history import HistoryStore
from underpaint.results.recipe import pixels_sha256
from underpaint.server.serve import RunningAgent, start_agent
from underpaint.wire.messages import SetTarget, SubmitSet

SIZES = ((96, 64), (64, 64), (64, 96))
REFERENCE = textured_rgba(32, 32, seed=7)
PARAMS = Params(seed=5, references=(ReferenceRef(weight=0.7),))


def target(job_id: str, width: int, height: int, mask: np.ndarray | None = None) -> Target:
    return Target(job_id, Size(width=width, height=height), Rect(x=0, y=0, width=width, height=height),
                  textured_rgba(height, width, seed=width),
                  soft_ellipse(height, width, (width // 3, height // 3, width // 3, height // 3)) if mask is None
                  else mask)


TARGETS = [target(f"shot-{index}", width, height) for index, (width, height) in enumerate(SIZES)]


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[RunningAgent]:
    running = await start_agent(make_settings(tmp_path), {"classic": GuidesAccepted(ClassicEngine())})
    yield running
    await running.stop()


async def test_a_set_of_three_targets_runs_as_three_jobs_sharing_one_recipe(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, TARGETS, [REFERENCE])
        outcomes = await client.follow_all([t.job_id for t in TARGETS])
    assert [outcome.state for outcome in outcomes.values()] == ["done"] * 3
    recipes = [outcome.done.recipe for outcome in outcomes.values() if outcome.done]
    assert {recipe.set_id for recipe in recipes} == {"spring"}
    assert all(recipe.params == recipes[0].params and recipe.seeds == [5] for recipe in recipes)
    assert recipes[0].params.references[0].image_sha256 == pixels_sha256(REFERENCE), "sent once, used by each"
    assert [recipe.region.width for recipe in recipes] == [width for width, _ in SIZES]


async def test_list_jobs_with_a_set_id_lists_that_sets_jobs_only(agent: RunningAgent) -> None:
    lone = TARGETS[0]
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, TARGETS, [REFERENCE])
        await client.follow_all([t.job_id for t in TARGETS])
        await client.submit("joins-later", Mode.FILL, lone.document, lone.region, Params(), lone.image, lone.mask,
                            set_id="spring")
        await client.submit("outside", Mode.FILL, lone.document, lone.region, Params(), lone.image, lone.mask)
        await client.follow_all(["joins-later", "outside"])
        listed = await client.list_jobs(set_id="spring")
    assert sorted(job.job_id for job in listed) == ["joins-later", "shot-0", "shot-1", "shot-2"]
    assert {job.set_id for job in listed} == {"spring"}


async def test_a_set_with_one_bad_target_is_refused_whole_naming_it(agent: RunningAgent) -> None:
    bad = target("shot-1", 64, 64, mask=np.full((64, 63), 255, np.uint8))
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, [TARGETS[0], bad, TARGETS[2]], [REFERENCE])
        error, _ = await client.next_event()
        listed = await client.list_jobs()
    assert (error.type, error.code, error.job_id, error.set_id, error.seq) == (
        "error", "size_mismatch", "shot-1", "spring", None)
    assert listed == [], "nothing was queued"


async def test_a_malformed_target_refuses_the_set_naming_it(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        message = SubmitSet(set_id="spring", mode=Mode.FILL, targets=[
            SetTarget(job_id=t.job_id, document=t.document, region=t.region) for t in TARGETS]).model_dump(mode="json")
        message["targets"][2]["region"]["width"] = -1
        await client.ws.send(json.dumps(message))
        error, _ = await client.next_event()
    assert (error.code, error.job_id, error.set_id) == ("invalid_message", "shot-2", "spring")
    assert "targets.2.region.width" in error.message


async def test_following_a_refused_set_ends_each_of_its_jobs_with_the_refusal(agent: RunningAgent) -> None:
    bad = target("shot-1", 64, 64, mask=np.full((64, 63), 255, np.uint8))
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, [TARGETS[0], bad, TARGETS[2]], [REFERENCE])
        outcomes = await client.follow_all([t.job_id for t in TARGETS])
    assert [(o.state, o.error and o.error.code) for o in outcomes.values()] == [("error", "size_mismatch")] * 3


async def test_a_target_found_bad_once_its_bytes_are_in_refuses_the_set(agent: RunningAgent) -> None:
    empty = target("shot-2", 64, 96, mask=np.zeros((96, 64), np.uint8))
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, [*TARGETS[:2], empty], [REFERENCE])
        error, _ = await client.next_event()
        listed = await client.list_jobs()
    assert (error.type, error.code, error.job_id, error.set_id) == ("error", "empty_mask", "shot-2", "spring")
    assert listed == []


async def test_resubmitting_a_set_reattaches_to_its_jobs(agent: RunningAgent) -> None:
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("spring", Mode.FILL, PARAMS, TARGETS, [REFERENCE])
        await client.follow_all([t.job_id for t in TARGETS])
        seen: list[object] = []
        await client.submit_set("spring", Mode.FILL, PARAMS, TARGETS, [REFERENCE])
        outcomes = await client.follow_all([t.job_id for t in TARGETS], seen.append)
    replies = [m for m in seen if getattr(m, "type", None) == "accepted"]
    assert [(m.job_id, m.duplicate) for m in replies] == [(t.job_id, True) for t in TARGETS]  # type: ignore[attr-defined]
    assert all(outcome.state == "done" for outcome in outcomes.values())


async def test_a_set_larger_than_a_connections_share_of_the_queue_is_refused(tmp_path: Path) -> None:
    agent = await start_agent(make_settings(tmp_path, queue_size=4), {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            assert client.welcome.capabilities.limits.max_set_targets == 2
            await client.submit_set("big", Mode.FILL, Params(), TARGETS)
            error, _ = await client.next_event()
    finally:
        await agent.stop()
    assert (error.code, error.set_id, error.job_id) == ("bad_set", "big", None)


async def test_the_history_keeps_a_sets_jobs_across_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        await client.submit_set("autumn", Mode.FILL, Params(), TARGETS)
        await client.follow_all([t.job_id for t in TARGETS])
    await agent.stop()
    agent = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            listed = await client.list_jobs(set_id="autumn")
    finally:
        await agent.stop()
    assert sorted((job.job_id, job.state, job.set_id) for job in listed) == [
        (t.job_id, "done", "autumn") for t in TARGETS]


def test_a_history_from_before_sets_gains_the_set_column(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE jobs (job_id TEXT PRIMARY KEY, state TEXT NOT NULL, mode TEXT NOT NULL, "
                    "prompt TEXT NOT NULL, variants INTEGER NOT NULL, client TEXT NOT NULL, source TEXT NOT NULL, "
                    "request_json TEXT NOT NULL, request_digest TEXT NOT NULL, created_at REAL NOT NULL, "
                    "started_at REAL, finished_at REAL, recipe_json TEXT, files_json TEXT, error_code TEXT, "
                    "error_message TEXT, last_seq INTEGER NOT NULL DEFAULT 0)")
        old.execute("INSERT INTO jobs VALUES ('old', 'done', 'fill', '', 1, 'cli', 'websocket', ?, 'd', 1.0, "
                    "NULL, 2.0, NULL, NULL, NULL, NULL, 5)", (json.dumps({}),))
    history = HistoryStore(path)
    history.add("new", "fill", "", 1, "cli", "websocket", {}, "d", set_id="spring")
    assert [(job.job_id, job.set_id) for job in history.recent(10)] == [("new", "spring"), ("old", None)]
    assert [job.job_id for job in history.recent(10, set_id="spring")] == ["new"]
    history.close()
