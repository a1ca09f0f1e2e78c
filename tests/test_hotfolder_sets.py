"""Consistent sets in the hot folder: a folder with set.json makes each of its images a job of one set."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
from pathlib import Path
from typing import Any

from PIL import Image

from conftest import TOKEN, textured_rgba
from hotfolder_support import (
    AdmittingClassicEngine,
    error_of,
    history,
    journal,
    live_agent,
    names,
    set_folder,
    small_job,
    until,
    wait_until,
    watch_process,
)
from underpaint.client.agent_client import AgentClient
from underpaint.engines.base import Engine
from underpaint.results.recipe import pixels_sha256

MEMBERS = ["a", "b", "c"]
DONE = sorted([*(f"{n}{suffix}" for n in MEMBERS for suffix in (".mask.png", ".png")), "set.json"])


def recipes(out: Path) -> dict[str, dict[str, Any]]:
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(out.glob("*/recipe.json"))}


def sets_journal(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM hotfolder_sets")]


async def test_a_set_of_three_images_runs_three_jobs_sharing_one_set_id_and_the_same_recipe(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    set_folder(stage / "spring", MEMBERS, {"params": {"seed": 11, "variants": 2, "grow": 2}})
    async with live_agent(tmp_path) as agent:
        (stage / "spring").rename(hot / "in" / "spring")
        await until(lambda: names(hot / "done" / "spring") == DONE, 60, "the set to finish")
        made = recipes(hot / "out" / "spring")
        [set_id] = {recipe["set_id"] for recipe in made.values()}
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            listed = await client.list_jobs(10, set_id=set_id)
    assert re.fullmatch(r"spring-[0-9a-f]{8}", set_id) and sorted(made) == MEMBERS
    assert len({json.dumps(recipe["params"], sort_keys=True) for recipe in made.values()}) == 1
    assert {tuple(recipe["seeds"]) for recipe in made.values()} == {(11, 12)}
    assert len({recipe["image_sha256"] for recipe in made.values()}) == 3
    assert sorted((s.source, s.state, s.set_id) for s in listed) == [("hotfolder", "done", set_id)] * 3
    assert names(hot / "in") == [] and names(hot / "processing") == [] and names(hot / "failed") == []


async def test_a_control_image_of_the_wrong_size_fails_its_member_with_its_code_and_the_others_still_run(
        tmp_path: Path) -> None:
    hot, spring = tmp_path / "hot", tmp_path / "stage" / "spring"
    recipe = {"params": {"controls": [{"kind": "canny"}], "seed": 3}, "control_images": ["guides/edges.png"]}
    set_folder(spring, ["a", "b"], recipe)
    small_job(spring, "wide", side=48, seed=7)  # the edges cover 32x32 images only
    (spring / "guides").mkdir()
    edges = textured_rgba(32, 32, seed=9)
    Image.fromarray(edges).save(spring / "guides" / "edges.png")
    async with live_agent(tmp_path, {"classic": AdmittingClassicEngine()}) as agent:
        del agent
        spring.rename(hot / "in" / "spring")
        await until(lambda: "set.json" in names(hot / "done" / "spring"), 60, "the set to finish")
    assert error_of(hot / "failed" / "spring", "wide")["code"] == "control_size_mismatch"
    assert names(hot / "failed" / "spring") == ["wide.error.json", "wide.mask.png", "wide.png"]
    made = recipes(hot / "out" / "spring")
    assert sorted(made) == ["a", "b"]
    assert {recipe["params"]["controls"][0]["image_sha256"] for recipe in made.values()} == {pixels_sha256(edges)}
    assert names(hot / "done" / "spring" / "guides") == ["edges.png"]


async def test_a_set_folder_without_images_fails_with_missing_image_and_keeps_its_files(tmp_path: Path) -> None:
    hot, empty = tmp_path / "hot", tmp_path / "stage" / "empty"
    set_folder(empty, [], {"params": {"seed": 1}})
    async with live_agent(tmp_path) as agent:
        del agent
        empty.rename(hot / "in" / "empty")
        await until(lambda: "set.error.json" in names(hot / "failed" / "empty"), 30, "the empty set to fail")
    assert error_of(hot / "failed" / "empty", "set")["code"] == "missing_image"
    assert names(hot / "failed" / "empty") == ["set.error.json", "set.json"] and names(hot / "out") == []


def test_an_agent_killed_while_splitting_a_set_finishes_it_as_one_set_after_a_restart(tmp_path: Path) -> None:
    hot, db = tmp_path / "hot", tmp_path / "data" / "history.sqlite3"
    set_folder(hot / "in" / "spring", MEMBERS, {"params": {"seed": 4}})
    dying = watch_process(hot, tmp_path, {"UNDERPAINT_HOTFOLDER_KILL_AT": "splitting-set"})
    assert dying.wait(timeout=60) == -signal.SIGKILL
    [half] = journal(db)
    assert half["state"] == "claiming" and half["set_id"] == sets_journal(db)[0]["set_id"]

    again = watch_process(hot, tmp_path)
    try:
        wait_until(lambda: names(hot / "done" / "spring") == DONE, 60, "the set to finish after the restart")
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0
    [spring] = sets_journal(db)
    rows = journal(db)
    assert (spring["state"], spring["name"]) == ("done", "spring")
    assert sorted((r["name"], r["state"], r["attempts"], r["set_id"]) for r in rows) == [
        (name, "done", 1, spring["set_id"]) for name in MEMBERS]
    assert {recipe["set_id"] for recipe in recipes(hot / "out" / "spring").values()} == {spring["set_id"]}
    assert sorted(j["set_id"] for j in history(db)) == [spring["set_id"]] * 3


async def test_a_set_runs_on_a_diffusion_model_with_one_prompt_and_seed_for_every_member(
        tmp_path: Path, engine: Engine) -> None:
    hot, spring = tmp_path / "hot", tmp_path / "stage" / "spring"
    set_folder(spring, ["a", "b"], {"params": {"prompt": "a red kite", "steps": 2, "seed": 5}}, side=64)
    async with live_agent(tmp_path, {"diffusers": engine}) as agent:
        del agent
        spring.rename(hot / "in" / "spring")
        await until(lambda: "set.json" in names(hot / "done" / "spring"), 120, "the set to finish")
    made = recipes(hot / "out" / "spring")
    assert sorted(made) == ["a", "b"] and len({recipe["set_id"] for recipe in made.values()}) == 1
    assert {(r["engine"], r["model"]["name"], r["params"]["prompt"], tuple(r["seeds"])) for r in made.values()} == {
        ("diffusers", "sd15", "a red kite", (5,))}
