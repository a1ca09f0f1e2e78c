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


class Journal:
    def __init__(self, path: Path, folder: Path) -> None:
        self.folder = str(folder)
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, job_id: str, name: str, members: list[str]) -> None:
        self._db.execute(
            "INSERT INTO hotfolder_jobs (job_id, folder, name, members_json, state, claimed_at) "
            "VALUES (?, ?, ?, ?, 'claiming', ?)",
            (job_id, self.folder, name, json.dumps(members), time.time()),
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


def _row(row: sqlite3.Row) -> JournalRow:
    return JournalRow(
        job_id=row["job_id"], folder=row["folder"], name=row["name"], members=json.loads(row["members_json"]),
        state=row["state"], attempts=row["attempts"], agent_job_id=row["agent_job_id"], out_dir=row["out_dir"],
        error_code=row["error_code"], error_message=row["error_message"], claimed_at=row["claimed_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
    )
