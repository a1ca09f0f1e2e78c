"""The history as the page's gallery reads it: keyset pages, filters, picks and costs, in real SQLite."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from underpaint.core import Mode, Params, Rect, Size
from underpaint.jobs.curation import Curation, GalleryQuery, Pick
from underpaint.jobs.history import HistoryStore
from underpaint.results.recipe import ModelRef, Recipe


class History:
    """A history file with the job room's writer and the page's reader on their own connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs = HistoryStore(path)
        self.curation = Curation(path)

    def job(self, job_id: str, prompt: str = "a red kite", mode: Mode = Mode.FILL, model: str | None = "sd15",
            style: str | None = None, set_id: str | None = None, source: str = "websocket", state: str = "done",
            variants: int = 2) -> None:
        """A job as the manager records it: added, started, ended with its recipe."""
        self.jobs.add(job_id, mode, prompt, variants, "pytest", source, {}, "digest", set_id)
        if state == "queued":
            return
        self.jobs.mark_running(job_id)
        if state == "running":
            return
        params = Params(prompt=prompt, variants=variants, seed=10)
        recipe = Recipe(engine="diffusers" if model else "classic", model=ModelRef(name=model) if model else None,
                        mode=mode, params=params, seeds=params.seeds(), document=Size(width=64, height=64),
                        region=Rect(x=0, y=0, width=64, height=64), style=style, set_id=set_id)
        self.jobs.finish(job_id, state, 3, recipe_json=recipe.model_dump_json() if state == "done" else None)

    def ids(self, **filters: Any) -> list[str]:
        return [job.job_id for job in self.curation.page(GalleryQuery(**filters)).jobs]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    made = History(tmp_path / "history.sqlite3")
    yield made
    made.curation.close()
    made.jobs.close()


def test_pages_are_newest_first_and_each_continues_where_the_last_ended(history: History) -> None:
    for index in range(5):
        history.job(f"job-{index}")
    seen: list[str] = []
    before = None
    for _ in range(3):
        page = history.curation.page(GalleryQuery(limit=2, before=before))
        seen += [job.job_id for job in page.jobs]
        before = page.next_before
    assert seen == ["job-4", "job-3", "job-2", "job-1", "job-0"]
    assert before is None


def test_waiting_and_running_jobs_stay_out_of_the_gallery(history: History) -> None:
    history.job("waiting", state="queued")
    history.job("running", state="running")
    history.job("failed", state="error")
    history.job("made")
    assert history.ids() == ["made", "failed"]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"text": "Kite"}, ["kite-job"]),
    ({"mode": "remove"}, ["remove-job"]),
    ({"model": "sdxl"}, ["sdxl-job"]),
    ({"model": "classic"}, ["classic-job"]),
    ({"style": "brand"}, ["styled-job"]),
    ({"set_id": "campaign"}, ["set-job"]),
    ({"source": "hotfolder"}, ["hot-job"]),
])
def test_each_filter_narrows_the_gallery_to_its_jobs(history: History, filters: dict[str, str],
                                                     expected: list[str]) -> None:
    history.job("kite-job", prompt="a red kite over the bay")
    history.job("remove-job", prompt="", mode=Mode.REMOVE)
    history.job("sdxl-job", prompt="a lighthouse", model="sdxl")
    history.job("classic-job", prompt="a wall", model=None)
    history.job("styled-job", prompt="a boat", style="brand")
    history.job("set-job", prompt="a banner", set_id="campaign")
    history.job("hot-job", prompt="a poster", source="hotfolder")
    assert history.ids(**filters) == expected


def test_search_text_matches_percent_and_underscore_as_themselves(history: History) -> None:
    history.job("literal", prompt="50% off_sale")
    history.job("other", prompt="500 off sale")
    assert history.ids(text="50% off_") == ["literal"]


def test_the_date_filter_keeps_jobs_made_from_the_chosen_time_on(history: History) -> None:
    history.job("older")
    time.sleep(0.01)
    since = time.time()
    history.job("newer")
    assert history.ids(since=since) == ["newer"]
    assert history.ids(until=since) == ["older"]


@pytest.mark.parametrize(("keep", "expected"), [("starred", ["starred"]), ("picked", ["picked"]),
                                                ("rejected", ["rejected"])])
def test_the_keep_filter_finds_starred_picked_and_rejected_variants(history: History, keep: str,
                                                                    expected: list[str]) -> None:
    for job_id in ("starred", "picked", "rejected", "untouched"):
        history.job(job_id)
    history.curation.set_pick("starred", Pick(variant=1, starred=True))
    history.curation.set_pick("picked", Pick(variant=0, verdict="pick"))
    history.curation.set_pick("rejected", Pick(variant=0, verdict="reject", note="hands"))
    assert history.ids(keep=keep) == expected


def test_a_variant_undecided_again_leaves_no_pick(history: History) -> None:
    history.job("job")
    history.curation.set_pick("job", Pick(variant=0, starred=True, note="maybe"))
    history.curation.set_pick("job", Pick(variant=0))
    found = history.curation.job("job")
    assert found is not None and found.picks == []


def test_a_job_reports_its_engine_seconds_and_model_and_seeds(history: History) -> None:
    history.job("job", model="sd15")
    found = history.curation.job("job")
    assert found is not None
    assert found.engine_seconds is not None and found.started_at is not None and found.finished_at is not None
    assert found.engine_seconds == pytest.approx(found.finished_at - found.started_at, abs=1e-3)
    assert (found.engine, found.model, found.seeds) == ("diffusers", "sd15", [10, 11])


def test_a_job_costs_its_engines_own_seconds_on_its_device_when_they_were_recorded(history: History) -> None:
    history.job("job")
    history.jobs.record_engine("job", 12.5, "cuda/float16")
    found = history.curation.job("job")
    assert found is not None and (found.engine_seconds, found.device) == (12.5, "cuda/float16")
    (day,) = history.curation.cost_by_day()
    assert day.engine_seconds == 12.5


def test_cost_sums_engine_seconds_per_day_and_per_set(history: History) -> None:
    history.job("a", set_id="campaign", variants=2)
    history.job("b", set_id="campaign", variants=3)
    history.job("c", variants=1)
    each = {job.job_id: job.engine_seconds or 0.0 for job in history.curation.page(GalleryQuery()).jobs}
    (day,) = history.curation.cost_by_day()
    (campaign,) = history.curation.cost_by_set()
    assert (day.key, day.jobs, day.variants) == (time.strftime("%Y-%m-%d"), 3, 6)
    assert day.engine_seconds == pytest.approx(sum(each.values()), abs=1e-2)
    assert (campaign.key, campaign.engine, campaign.jobs, campaign.variants) == ("campaign", "diffusers", 2, 5)
    assert campaign.engine_seconds == pytest.approx(each["a"] + each["b"], abs=1e-2)


def test_facets_list_the_values_each_filter_can_take(history: History) -> None:
    history.job("a", model="sd15", style="brand", set_id="campaign")
    history.job("b", model=None, mode=Mode.REMOVE, source="hotfolder")
    facets = history.curation.facets()
    assert (facets.modes, facets.models, facets.styles) == (["fill", "remove"], ["classic", "sd15"], ["brand"])
    assert (facets.sources, facets.sets) == (["hotfolder", "websocket"], ["campaign"])


def test_the_gallery_query_uses_an_index_for_every_filter(history: History) -> None:
    history.job("a")
    db = sqlite3.connect(history.path)
    for filters in ({}, {"mode": "fill"}, {"model": "sd15"}, {"style": "brand"}, {"source": "websocket"}):
        where, args = GalleryQuery(**filters).where()
        plan = " ".join(str(row[3]) for row in db.execute(
            f"EXPLAIN QUERY PLAN SELECT job_id FROM jobs WHERE {where} ORDER BY created_at DESC, job_id DESC LIMIT 25",
            args))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (filters, plan)
    db.close()
