"""The job history in SQLite: survives restarts, feeds `underpaint jobs`."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from underpaint.wire.messages import JobEvent, JobSummary

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    mode TEXT NOT NULL,
    prompt TEXT NOT NULL,
    variants INTEGER NOT NULL,
    client TEXT NOT NULL,
    source TEXT NOT NULL,
    request_json TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    recipe_json TEXT,
    files_json TEXT,
    error_code TEXT,
    error_message TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    set_id TEXT,
    engine_seconds REAL,
    device TEXT,
    worker TEXT,
    user TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
-- Each job's events as sent (result pixels live in the job's files), so a resume after a restart
-- misses nothing; IF NOT EXISTS adds the table to a history from before it.
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_json TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
-- What a person decided about each variant on the agent's page (jobs/curation.py): a star, a pick or a
-- reject, and a note. Kept apart from the job's row, which the job room writes.
CREATE TABLE IF NOT EXISTS picks (
    job_id TEXT NOT NULL,
    variant INTEGER NOT NULL,
    starred INTEGER NOT NULL DEFAULT 0,
    verdict TEXT CHECK (verdict IN ('pick', 'reject')),
    note TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (job_id, variant)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS picks_starred ON picks(starred, job_id);
CREATE INDEX IF NOT EXISTS picks_verdict ON picks(verdict, job_id);
"""

MODEL_OF_JOB = "COALESCE(json_extract(recipe_json, '$.model.name'), json_extract(recipe_json, '$.engine'))"
"""A finished job's model, or its engine for engines without models (classic), from its recipe."""
STYLE_OF_JOB = "json_extract(recipe_json, '$.style')"
# The gallery's pages are newest first, each filter narrowing by one column; these indexes end in
# (created_at, job_id) so a page of any one filter is read in order, never sorted (a set's few jobs,
# found by jobs_set, are).
GALLERY_INDEXES = f"""
CREATE INDEX IF NOT EXISTS jobs_page ON jobs(created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_mode ON jobs(mode, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_source ON jobs(source, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_model ON jobs({MODEL_OF_JOB}, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_style ON jobs({STYLE_OF_JOB}, created_at, job_id);
"""
ACTIVE_STATES = ("queued", "running")
_JOB_EVENT: TypeAdapter[JobEvent] = TypeAdapter(Annotated[JobEvent, Field(discriminator="type")])


def open_database(path: Path, schema: str, *, any_thread: bool = False) -> sqlite3.Connection:
    """The agent's SQLite file in autocommit and WAL mode, so the history and the hot-folder
    journal can share it from their own connections; `timeout` waits out the other's writes.
    `any_thread` lets a connection that one worker thread uses at a time be opened elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=not any_thread)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class HistoryStore:
    """One connection, used from the event loop thread only; writes are small and committed at once."""

    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "set_id" not in columns:
            # A history from before sets: its jobs belong to none.
            self._db.execute("ALTER TABLE jobs ADD COLUMN set_id TEXT")
        # engine_seconds and device: a history from before engine timing, whose jobs' cost is their time from
        # start to finish; worker: one from before studio mode, whose jobs all ran in the agent's own process;
        # user: one from before named users, whose jobs were all the pairing token's.
        for column, kind in (("engine_seconds", "REAL"), ("device", "TEXT"), ("worker", "TEXT"), ("user", "TEXT")):
            if column not in columns:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_set ON jobs(set_id, created_at)")
        # After the columns they cover exist: a history from before sets has no set_id until just above.
        self._db.executescript(GALLERY_INDEXES)

    def close(self) -> None:
        self._db.close()

    def fail_interrupted(self, code: str, message: str) -> list[str]:
        """Jobs left queued or running by a dead agent end as errors, never hang."""
        rows = self._db.execute(
            "SELECT job_id FROM jobs WHERE state IN (?, ?)", ACTIVE_STATES
        ).fetchall()
        # The error is numbered after the last event kept of the job.
        self._db.execute(
            "UPDATE jobs SET state='error', error_code=?, error_message=?, finished_at=?, last_seq=1 + "
            "COALESCE((SELECT MAX(seq) FROM events WHERE events.job_id = jobs.job_id), last_seq) "
            "WHERE state IN (?, ?)",
            (code, message, time.time(), *ACTIVE_STATES),
        )
        return [row["job_id"] for row in rows]

    def add(
        self, job_id: str, mode: str, prompt: str, variants: int, client: str, source: str,
        request: dict[str, Any], digest: str, set_id: str | None = None, user: str | None = None,
    ) -> None:
        """`user`: the named user who submitted the job (None: the pairing token or the agent's own doors)."""
        self._db.execute(
            "INSERT INTO jobs (job_id, state, mode, prompt, variants, client, source, request_json, "
            "request_digest, created_at, set_id, user) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, mode, prompt, variants, client, source, json.dumps(request), digest, time.time(), set_id,
             user),
        )

    def mark_running(self, job_id: str) -> None:
        self._db.execute("UPDATE jobs SET state='running', started_at=? WHERE job_id=?", (time.time(), job_id))

    def record_engine(self, job_id: str, seconds: float, device: str, worker: str | None = None) -> None:
        """What the job cost: the seconds its engine worked (the files not counted), and where: the device,
        and the studio worker (None: the agent's own process)."""
        self._db.execute("UPDATE jobs SET engine_seconds=?, device=?, worker=? WHERE job_id=?",
                         (seconds, device, worker, job_id))

    def finish(
        self, job_id: str, state: str, last_seq: int, *, recipe_json: str | None = None,
        files: dict[str, Any] | None = None, error_code: str | None = None, error_message: str | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE jobs SET state=?, finished_at=?, last_seq=?, recipe_json=?, files_json=?, error_code=?, "
            "error_message=? WHERE job_id=?",
            (state, time.time(), last_seq, recipe_json, json.dumps(files) if files else None,
             error_code, error_message, job_id),
        )

    def set_files(self, job_id: str, files: dict[str, Any]) -> None:
        self._db.execute("UPDATE jobs SET files_json=? WHERE job_id=?", (json.dumps(files), job_id))

    def save_events(self, messages: list[JobEvent]) -> None:
        """One transaction, so a batch of progress costs one commit."""
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO events (job_id, seq, message_json) VALUES (?, ?, ?)",
                [(message.job_id, message.seq, message.model_dump_json()) for message in messages],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def events(self, job_id: str) -> list[JobEvent]:
        rows = self._db.execute("SELECT message_json FROM events WHERE job_id=? ORDER BY seq", (job_id,))
        return [_JOB_EVENT.validate_json(row["message_json"]) for row in rows]

    def get(self, job_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return row

    def recent(self, limit: int, client: str | None = None, shared_source: str = "",
               set_id: str | None = None, user: str | None = None) -> list[JobSummary]:
        """Newest first; with `user`, only that user's jobs and those from `shared_source`; else with
        `client`, only that client's jobs of no user and those from `shared_source`; with `set_id`, only
        that set's."""
        where: list[str] = []
        args: list[object] = []
        if user is not None:
            where.append("(user=? OR source=?)")
            args += [user, shared_source]
        elif client is not None:
            where.append("((client=? AND user IS NULL) OR source=?)")
            args += [client, shared_source]
        if set_id is not None:
            where.append("set_id=?")
            args.append(set_id)
        condition = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._db.execute(f"SELECT * FROM jobs {condition}ORDER BY created_at DESC LIMIT ?",
                                (*args, limit)).fetchall()
        return [summary(row) for row in rows]

    def forget(self, job_id: str) -> None:
        """Drop a job and its events, so that its id can name a new run (a retry of a failed one)."""
        self._db.execute("DELETE FROM events WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM picks WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))


def summary(row: sqlite3.Row) -> JobSummary:
    return JobSummary(
        job_id=row["job_id"], state=row["state"], mode=row["mode"], prompt=row["prompt"],
        variants=row["variants"], client=row["client"], source=row["source"],
        created_at=row["created_at"], finished_at=row["finished_at"], error_code=row["error_code"],
        last_seq=row["last_seq"], set_id=row["set_id"],
    )
