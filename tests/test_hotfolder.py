"""The hot folder with a live agent and real folders: arrival, outputs, names, polling, the shared queue."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TOKEN, textured_rgba
from hotfolder_support import big_job, check_psd, drop, history, journal, live_agent, names, small_job, until
from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.hotfolder.lock import FolderBusy
from underpaint.results.png import read_png_recipe


async def test_a_file_written_slowly_in_chunks_is_processed_once_after_it_is_complete(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path, hot_folder_stable_seconds=1.0) as agent:
        del agent
        small_job(tmp_path / "stage", "slow", side=64)
        (tmp_path / "stage" / "slow.mask.png").rename(hot / "in" / "slow.mask.png")
        data = (tmp_path / "stage" / "slow.png").read_bytes()
        chunks = [data[i:i + len(data) // 10 + 1] for i in range(0, len(data), len(data) // 10 + 1)]
        with (hot / "in" / "slow.png").open("wb") as file:
            for chunk in chunks:  # about 3 s of writing, 0.3 s between chunks
                file.write(chunk)
                file.flush()
                await asyncio.sleep(0.3)
                assert names(hot / "processing") == [] and names(hot / "done") == []
        completed = time.time()
        await until(lambda: len(names(hot / "done")) == 2, 30, "the job to finish")
        await asyncio.sleep(1.5)  # time enough for a second (wrong) pick-up
        rows = journal(tmp_path / "data" / "history.sqlite3")
        assert [(r["name"], r["state"], r["attempts"]) for r in rows] == [("slow", "done", 1)]
        assert rows[0]["claimed_at"] >= completed
        assert names(hot / "out") == ["slow"]
        psd = check_psd(hot / "out" / "slow" / "slow.psd", variants=1)
        background = np.asarray(next(iter(psd)).topil().convert("RGBA"))
        assert np.array_equal(background, np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")))


async def test_two_hundred_files_dropped_at_once_are_each_processed_exactly_once(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    for index in range(200):
        small_job(stage, f"img{index:03d}", seed=index)
    async with live_agent(tmp_path, hot_folder_stable_seconds=0.3) as agent:
        del agent
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 400, 600, "200 jobs to finish")
        await asyncio.sleep(1.0)
    assert names(hot / "in") == [] and names(hot / "processing") == [] and names(hot / "failed") == []
    assert names(hot / "out") == [f"img{i:03d}" for i in range(200)]
    for folder in (hot / "out").iterdir():
        assert len(list(folder.glob("*.psd"))) == 1
    rows = journal(tmp_path / "data" / "history.sqlite3")
    assert len(rows) == 200 and {(r["state"], r["attempts"]) for r in rows} == {("done", 1)}
    jobs = history(tmp_path / "data" / "history.sqlite3")
    assert len(jobs) == 200 and {(j["state"], j["source"]) for j in jobs} == {("done", "hotfolder")}


async def test_polling_mode_alone_finds_and_processes_files(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    # No native events and a rescan far beyond the test: only the poller can find the file.
    async with live_agent(tmp_path, hot_folder_poll=0.2, hot_folder_rescan_seconds=3600) as agent:
        del agent
        await asyncio.sleep(0.5)
        small_job(tmp_path / "stage", "polled")
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: names(hot / "done") == ["polled.mask.png", "polled.png"], 30, "the polled job")
    check_psd(hot / "out" / "polled" / "polled.psd", variants=1)


async def test_outputs_hold_a_layered_psd_variant_pngs_with_recipes_the_recipe_and_a_contact_sheet(
        tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        small_job(tmp_path / "stage", "card", side=48, recipe={"params": {"variants": 3, "seed": 40}})
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 3, 30, "the job")
    out = hot / "out" / "card"
    assert names(out) == ["card.c2pa", "card.contact.png", "card.psd", "card.variant-1.png", "card.variant-2.png",
                          "card.variant-3.png", "recipe.json"]
    psd = check_psd(out / "card.psd", variants=3)
    assert [layer.name for layer in list(psd)[1]] == [f"Fill #{i} (seed {39 + i})" for i in (3, 2, 1)]  # bottom to top
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["seeds"] == [40, 41, 42] and recipe["mode"] == "fill"
    assert read_png_recipe(out / "card.variant-2.png").seeds == [40, 41, 42]
    with Image.open(out / "card.contact.png") as sheet:
        assert sheet.width > 3 * 48 and sheet.height > 48


async def test_a_second_job_with_the_same_name_gets_its_own_folders_and_overwrites_nothing(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        for round_ in (1, 2):
            small_job(tmp_path / "stage", "same", seed=round_)
            drop(tmp_path / "stage", hot / "in")
            await until(lambda n=round_: len(names(hot / "done")) == 2 * n, 30, f"job {round_}")
    assert names(hot / "out") == ["same", "same-2"]
    assert names(hot / "done") == ["same-2.mask.png", "same-2.png", "same.mask.png", "same.png"]
    first = np.asarray(Image.open(hot / "done" / "same.png"))
    assert np.array_equal(first, textured_rgba(32, 32, 1))


async def test_a_subfolder_job_starts_when_its_ready_marker_appears(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path, hot_folder_stable_seconds=30) as agent:
        del agent
        shoot = hot / "in" / "shoot"
        small_job(shoot, "photo", recipe={"params": {"variants": 2}})
        await asyncio.sleep(1.0)
        assert names(hot / "processing") == [] and names(shoot) != []
        (shoot / "READY").touch()
        await until(lambda: names(hot / "done") == ["shoot"], 30, "the folder job")
    assert names(hot / "done" / "shoot") == ["READY", "photo.json", "photo.mask.png", "photo.png"]
    check_psd(hot / "out" / "shoot" / "shoot.psd", variants=2)


async def test_temporary_and_hidden_names_are_left_alone(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        del agent
        for name in ("photo.png.part", ".hidden.png", "~$draft.png", "upload.tmp"):
            (hot / "in" / name).write_bytes(b"partial")
        small_job(tmp_path / "stage", "real")
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the real job")
    assert names(hot / "in") == [".hidden.png", "photo.png.part", "upload.tmp", "~$draft.png"]
    assert names(hot / "failed") == []


async def test_hot_folder_jobs_share_the_queue_and_show_in_the_agents_job_list(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path) as agent:
        big_job(tmp_path / "stage", "listed", side=128, variants=1)
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 3, 60, "the job")
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            summaries = await client.list_jobs(10)
    assert [(s.source, s.state, s.mode) for s in summaries] == [("hotfolder", "done", "fill")]
    assert summaries[0].job_id.startswith("hf-listed-")


async def test_folder_defaults_apply_and_a_sidecar_overrides_them(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "defaults.json").write_text(json.dumps({"params": {"variants": 2, "seed": 5, "prompt": "sky"}}))
    async with live_agent(tmp_path) as agent:
        del agent
        small_job(tmp_path / "stage", "plain")
        small_job(tmp_path / "stage", "own", recipe={"params": {"seed": 9}})
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 5, 30, "both jobs")
    plain = json.loads((hot / "out" / "plain" / "recipe.json").read_text())
    own = json.loads((hot / "out" / "own" / "recipe.json").read_text())
    assert (plain["seeds"], plain["params"]["prompt"]) == ([5, 6], "sky")
    assert (own["seeds"], own["params"]["prompt"]) == ([9, 10], "sky")


async def test_a_second_agent_on_a_watched_folder_is_refused_and_the_first_goes_on(tmp_path: Path) -> None:
    async with live_agent(tmp_path):
        second = tmp_path / "second"
        with pytest.raises(FolderBusy, match="already watching"):
            async with live_agent(second, hot_folder=tmp_path / "hot"):
                pass
        small_job(tmp_path / "hot" / "in", "after")
        await until(lambda: names(tmp_path / "hot" / "done") != [], 30, "the first agent to finish a job")


async def test_a_result_recipe_json_dropped_with_its_inputs_remakes_the_result(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    # A plugin's job: only a 64x48 region of a 300x200 document travelled.
    image, mask = textured_rgba(48, 64, seed=2), np.zeros((48, 64), np.uint8)
    mask[16:32, 20:44] = 255
    region = Rect(x=180, y=120, width=64, height=48)
    async with live_agent(tmp_path) as agent:
        async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
            await client.submit("plugin-job", Mode.FILL, Size(width=300, height=200), region,
                                Params(variants=2, seed=21), image, mask)
            outcome = await client.follow("plugin-job")
        assert outcome.done is not None
        results = tmp_path / "data" / "results" / "plugin-job"
        await until(lambda: (results / "recipe.json").is_file(), 30, "the websocket job's files")
        stage.mkdir()
        Image.fromarray(image).save(stage / "again.png")
        Image.fromarray(mask).save(stage / "again.mask.png")
        (stage / "again.json").write_bytes((results / "recipe.json").read_bytes())
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 3, 30, "the replay")
    out = hot / "out" / "again"
    assert json.loads((out / "recipe.json").read_text())["region"] == region.model_dump()
    for index in (1, 2):
        first = np.asarray(Image.open(results / f"variant-{index}.png"))
        again = np.asarray(Image.open(out / f"again.variant-{index}.png"))
        assert np.array_equal(first, again)
