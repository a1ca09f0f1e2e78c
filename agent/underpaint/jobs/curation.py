"""The history as a person curates it: gallery pages, picks and notes per variant, what jobs cost.

The agent's page reads tens of thousands of jobs through this, so every page is
one indexed query in keyset order (newest first, `(created_at, job_id)` as the
cursor), never an OFFSET that rereads what came before. It has its own
connection to the history's SQLite file, used by one worker thread at a time,
so a slow page never holds the event loop that streams jobs to the plugins.

A job's engine seconds are the time from its start on the engine to its end
(its files written): what the job held the engine and its writer for.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from underpaint.jobs.history import ACTIVE_STATES, MODEL_OF_JOB, STYLE_OF_JOB, open_database

Keep = Literal["starred", "picked", "rejected"]
Verdict = Literal["pick", "reject"]
MAX_NOTE = 2000
PAGE_LIMIT = 100
_SECONDS = "COALESCE(engine_seconds, finished_at - started_at)"
"""A job's engine time; jobs from before it was recorded count from start to finish."""
_KEEP_CONDITION: dict[str, str] = {
    "starred": "job_id IN (SELECT job_id FROM picks WHERE starred = 1)",
    "picked": "job_id IN (SELECT job_id FROM picks WHERE verdict = 'pick')",
    "rejected": "job_id IN (SELECT job_id FROM picks WHERE verdict = 'reject')",
}
_COLUMNS = (f"job_id, state, mode, prompt, variants, client, source, created_at, started_at, finished_at, "
            f"error_code, error_message, set_id, {_SECONDS} AS seconds, device, "
            f"json_extract(recipe_json, '$.engine') AS engine, "
            f"{MODEL_OF_JOB} AS model, {STYLE_OF_JOB} AS style, json_extract(recipe_json, '$.seeds') AS seeds")


class Pick(BaseModel):
    """What a person decided about one variant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: int = Field(ge=0, description="0-based variant index.")
    starred: bool = False
    verdict: Verdict | None = None
    note: str = Field(default="", max_length=MAX_NOTE)


class GalleryJob(BaseModel):
    """One finished job as the gallery shows it."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    state: str
    mode: str
    prompt: str
    variants: int
    client: str
    source: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    engine_seconds: float | None
    device: str | None
    error_code: str | None
    error_message: str | None
    set_id: str | None
    engine: str | None
    model: str | None
    style: str | None
    seeds: list[int]
    picks: list[Pick]


@dataclass(frozen=True)
class GalleryQuery:
    """A gallery page: the filters (None or "" leaves one out) and where the page starts."""

    text: str = ""
    mode: str | None = None
    model: str | None = None
    style: str | None = None
    set_id: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None
    keep: Keep | None = None
    before: tuple[float, str] | None = None
    limit: int = 24

    def where(self) -> tuple[str, list[Any]]:
        clauses = [f"state NOT IN {ACTIVE_STATES!r}"]
        args: list[Any] = []
        for column, value in (("mode", self.mode), (MODEL_OF_JOB, self.model), (STYLE_OF_JOB, self.style),
                              ("set_id", self.set_id), ("source", self.source)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if self.text.strip():
            clauses.append("prompt LIKE ? ESCAPE '\\'")
            args.append("%" + _escape_like(self.text.strip()) + "%")
        if self.since is not None:
            clauses.append("created_at >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            args.append(self.until)
        if self.keep is not None:
            clauses.append(_KEEP_CONDITION[self.keep])
        if self.before is not None:
            clauses.append("(created_at, job_id) < (?, ?)")
            args += list(self.before)
        return " AND ".join(clauses), args


@dataclass(frozen=True)
class Page:
    jobs: list[GalleryJob]
    next_before: tuple[float, str] | None
    """The cursor of the next page; None on the last."""


class Cost(BaseModel):
    """Engine seconds of a group of jobs (a day, a set) and the engine that ran them."""

    model_config = ConfigDict(frozen=True)

    key: str
    engine: str | None
    jobs: int
    variants: int
    engine_seconds: float


class Facets(BaseModel):
    """The values the gallery's filters can take, from the history (sets: the newest)."""

    model_config = ConfigDict(frozen=True)

    modes: list[str]
    models: list[str]
    styles: list[str]
    sources: list[str]
    sets: list[str]


class Curation:
    """Queries and picks over the history file at `path`; call from one thread at a time."""

    def __init__(self, path: Path) -> None:
        # The history made the tables and indexes; this connection only reads them and writes picks.
        self._db = open_database(path, "", any_thread=True)

    def close(self) -> None:
        self._db.close()

    def page(self, query: GalleryQuery) -> Page:
        where, args = query.where()
        limit = max(1, min(query.limit, PAGE_LIMIT))
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where} "
                                "ORDER BY created_at DESC, job_id DESC LIMIT ?", (*args, limit + 1)).fetchall()
        jobs = self._with_picks(rows[:limit])
        last = jobs[-1] if len(rows) > limit else None
        return Page(jobs, None if last is None else (last.created_at, last.job_id))

    def job(self, job_id: str) -> GalleryJob | None:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchall()
        jobs = self._with_picks(rows)
        return jobs[0] if jobs else None

    def recipe_json(self, job_id: str) -> str | None:
        row = self._db.execute("SELECT recipe_json FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else row["recipe_json"]

    def set_pick(self, job_id: str, pick: Pick) -> None:
        """Replaces what was decided about the variant; a variant with nothing decided has no row."""
        if not pick.starred and pick.verdict is None and not pick.note:
            self._db.execute("DELETE FROM picks WHERE job_id = ? AND variant = ?", (job_id, pick.variant))
            return
        self._db.execute(
            "INSERT OR REPLACE INTO picks (job_id, variant, starred, verdict, note, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, pick.variant, int(pick.starred), pick.verdict, pick.note, time.time()))

    def set_jobs(self, set_id: str) -> list[GalleryJob]:
        """Every finished job of a set, oldest first (the order its targets were given)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE set_id = ? AND state NOT IN {ACTIVE_STATES!r} "
                                "ORDER BY created_at, job_id", (set_id,)).fetchall()
        return self._with_picks(rows)

    def cost_by_day(self, days: int = 30) -> list[Cost]:
        """Engine seconds per day (the agent's local calendar) and engine, the newest `days` days."""
        return self._costs("date(started_at, 'unixepoch', 'localtime')", "", (), days)

    def cost_by_set(self, sets: int = 30) -> list[Cost]:
        """Engine seconds per set and engine, the sets with the newest jobs first."""
        return self._costs("set_id", "AND set_id IS NOT NULL", (), sets)

    def cost_of_set(self, set_id: str) -> list[Cost]:
        return self._costs("set_id", "AND set_id = ?", (set_id,), 10)

    def facets(self, sets: int = 50) -> Facets:
        def distinct(expression: str, extra: str = "") -> list[str]:
            rows = self._db.execute(f"SELECT DISTINCT {expression} AS value FROM jobs "
                                    f"WHERE {expression} IS NOT NULL {extra}").fetchall()
            return sorted(str(row["value"]) for row in rows)

        recent_sets = self._db.execute(
            "SELECT set_id FROM jobs WHERE set_id IS NOT NULL GROUP BY set_id ORDER BY MAX(created_at) DESC LIMIT ?",
            (sets,)).fetchall()
        return Facets(modes=distinct("mode"), models=distinct(MODEL_OF_JOB), styles=distinct(STYLE_OF_JOB),
                      sources=distinct("source"), sets=[row["set_id"] for row in recent_sets])

    def _costs(self, key: str, condition: str, args: tuple[Any, ...], limit: int) -> list[Cost]:
        rows = self._db.execute(
            f"SELECT {key} AS key, json_extract(recipe_json, '$.engine') AS engine, COUNT(*) AS jobs, "
            f"SUM(variants) AS variants, SUM({_SECONDS}) AS seconds, MAX(created_at) AS newest FROM jobs "
            f"WHERE started_at IS NOT NULL AND finished_at IS NOT NULL {condition} "
            "GROUP BY key, engine ORDER BY newest DESC LIMIT ?", (*args, limit)).fetchall()
        return [Cost(key=str(row["key"]), engine=row["engine"], jobs=row["jobs"], variants=row["variants"],
                     engine_seconds=round(row["seconds"] or 0.0, 3)) for row in rows]

    def _with_picks(self, rows: list[sqlite3.Row]) -> list[GalleryJob]:
        ids = [row["job_id"] for row in rows]
        picks: dict[str, list[Pick]] = {job_id: [] for job_id in ids}
        if ids:
            marks = ", ".join("?" * len(ids))
            for pick in self._db.execute(f"SELECT * FROM picks WHERE job_id IN ({marks}) ORDER BY variant", ids):
                picks[pick["job_id"]].append(Pick(variant=pick["variant"], starred=bool(pick["starred"]),
                                                  verdict=pick["verdict"], note=pick["note"]))
        return [_gallery_job(row, picks[row["job_id"]]) for row in rows]


def _gallery_job(row: sqlite3.Row, picks: list[Pick]) -> GalleryJob:
    seconds = row["seconds"]
    return GalleryJob(
        job_id=row["job_id"], state=row["state"], mode=row["mode"], prompt=row["prompt"], variants=row["variants"],
        client=row["client"], source=row["source"], created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], engine_seconds=None if seconds is None else round(seconds, 3),
        device=row["device"],
        error_code=row["error_code"], error_message=row["error_message"], set_id=row["set_id"],
        engine=row["engine"], model=row["model"], style=row["style"],
        seeds=json.loads(row["seeds"] or "[]"),
        picks=picks,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
