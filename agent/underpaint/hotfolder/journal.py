"""The hot folder's journal: one table in the agent's history database.

It lives in the same SQLite file as the job history (`Settings.history_path`),
in its own table, so a restart finds every claimed job and knows how far it
got. States, in order:

    claiming   a job id is chosen and its files are being renamed into processing/<id>/
    claimed    all its files are in processing/<id>/; not yet in the agent's queue
    submitted  in the agent's queue (or running) as `agent_job_id`
    finishing  outputs are complete in out/<...>/; originals are moving to done/
    failing    an error is decided; originals are moving to failed/
    done | failed

A set (hotfolder.sets) has a row of its own in `hotfolder_sets`, and each of its
images a job row carrying its `set_id`. Set states, in order:

    claiming   the set id is chosen and the set's folder is being renamed into processing/<set id>/
    splitting  its images are becoming member jobs, one at a time (each a job row, from `claiming` on)
    split      every image is a member job
    ending     every member is done or failed; the set's shared files are moving to done/ or failed/
    done

Used from the event loop thread only; every write commits at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from underpaint.jobs.history import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hotfolder_jobs (
    job_id TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    members_json TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    agent_job_id TEXT,
    out_dir TEXT,
    error_code TEXT,
    error_message TEXT,
    claimed_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS hotfolder_jobs_folder ON hotfolder_jobs(folder, state);
CREATE TABLE IF NOT EXISTS hotfolder_sets (
    set_id TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    out_name TEXT,
    claimed_at REAL NOT NULL,
    finished_at REAL
);
"""

FINAL_STATES = ("done", "failed")


@dataclass(frozen=True)
class JournalRow:
    job_id: str
    folder: str
    name: str
    members: list[str]
    state: str
    attempts: int
    agent_job_id: str | None
    out_dir: str | None
    error_code: str | None
    error_message: str | None
    claimed_at: float
    started_at: float | None
    finished_at: float | None
    set_id: str | None = None


@dataclass(frozen=True)
class SetRow:
    set_id: str
    name: str
    state: str
    out_name: str | None
    """The set's folder name under out/, done/ and failed/ (its name, or `name-2`, ... when taken)."""


class Journal:
    def __init__(self, path: Path, folder: Path) -> None:
        self.folder = str(folder)
        self._db = open_database(path, _SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(hotfolder_jobs)")}
        if "set_id" not in columns:  # a journal from before sets: its jobs belong to none
            self._db.execute("ALTER TABLE hotfolder_jobs ADD COLUMN set_id TEXT")

    def close(self) -> None:
        self._db.close()

    def add(self, job_id: str, name: str, members: list[str], set_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO hotfolder_jobs (job_id, folder, name, members_json, state, claimed_at, set_id) "
            "VALUES (?, ?, ?, ?, 'claiming', ?, ?)",
            (job_id, self.folder, name, json.dumps(members), time.time(), set_id),
        )

    def set_state(self, job_id: str, state: str) -> None:
        finished = time.time() if state in FINAL_STATES else None
        self._db.execute("UPDATE hotfolder_jobs SET state=?, finished_at=COALESCE(?, finished_at) WHERE job_id=?",
                         (state, finished, job_id))

    def submitted(self, job_id: str, agent_job_id: str) -> None:
        self._db.execute(
            "UPDATE hotfolder_jobs SET state='submitted', agent_job_id=?, attempts=attempts+1, started_at=NULL "
            "WHERE job_id=?", (agent_job_id, job_id))

    def started(self, job_id: str) -> None:
        self._db.execute("UPDATE hotfolder_jobs SET started_at=? WHERE job_id=? AND started_at IS NULL",
                         (time.time(), job_id))

    def set_out_dir(self, job_id: str, out_dir: Path) -> None:
        self._db.execute("UPDATE hotfolder_jobs SET out_dir=? WHERE job_id=?", (str(out_dir), job_id))

    def failing(self, job_id: str, code: str, message: str) -> None:
        self._db.execute("UPDATE hotfolder_jobs SET state='failing', error_code=?, error_message=? WHERE job_id=?",
                         (code, message, job_id))

    def get(self, job_id: str) -> JournalRow | None:
        row = self._db.execute("SELECT * FROM hotfolder_jobs WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else _row(row)

    def unfinished(self) -> list[JournalRow]:
        rows = self._db.execute(
            "SELECT * FROM hotfolder_jobs WHERE folder=? AND state NOT IN (?, ?) ORDER BY claimed_at",
            (self.folder, *FINAL_STATES)).fetchall()
        return [_row(row) for row in rows]

    def all(self) -> list[JournalRow]:
        rows = self._db.execute("SELECT * FROM hotfolder_jobs WHERE folder=? ORDER BY claimed_at",
                                (self.folder,)).fetchall()
        return [_row(row) for row in rows]


    # sets

    def add_set(self, set_id: str, name: str) -> None:
        self._db.execute("INSERT INTO hotfolder_sets (set_id, folder, name, state, claimed_at) "
                         "VALUES (?, ?, ?, 'claiming', ?)", (set_id, self.folder, name, time.time()))

    def set_split_state(self, set_id: str, state: str, out_name: str | None = None) -> None:
        finished = time.time() if state == "done" else None
        self._db.execute("UPDATE hotfolder_sets SET state=?, out_name=COALESCE(?, out_name), "
                         "finished_at=COALESCE(?, finished_at) WHERE set_id=?", (state, out_name, finished, set_id))

    def get_set(self, set_id: str) -> SetRow | None:
        row = self._db.execute("SELECT * FROM hotfolder_sets WHERE set_id=?", (set_id,)).fetchone()
        return None if row is None else _set_row(row)

    def unfinished_sets(self) -> list[SetRow]:
        rows = self._db.execute("SELECT * FROM hotfolder_sets WHERE folder=? AND state != 'done' ORDER BY claimed_at",
                                (self.folder,)).fetchall()
        return [_set_row(row) for row in rows]

    def members(self, set_id: str) -> list[JournalRow]:
        rows = self._db.execute("SELECT * FROM hotfolder_jobs WHERE set_id=? ORDER BY claimed_at",
                                (set_id,)).fetchall()
        return [_row(row) for row in rows]


def _set_row(row: sqlite3.Row) -> SetRow:
    return SetRow(set_id=row["set_id"], name=row["name"], state=row["state"], out_name=row["out_name"])


def _row(row: sqlite3.Row) -> JournalRow:
    return JournalRow(
        job_id=row["job_id"], folder=row["folder"], name=row["name"], members=json.loads(row["members_json"]),
        state=row["state"], attempts=row["attempts"], agent_job_id=row["agent_job_id"], out_dir=row["out_dir"],
        error_code=row["error_code"], error_message=row["error_message"], claimed_at=row["claimed_at"],
        started_at=row["started_at"], finished_at=row["finished_at"], set_id=row["set_id"],
    )
