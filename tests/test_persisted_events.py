"""The event log's copy in the history database: what is kept, when it is written, old databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from underpaint.jobs.events import Event, EventArchive
from underpaint.jobs.history import HistoryStore
from underpaint.wire.messages import Accepted, Blob, Cancelled, JobEvent, Preview, Progress

# The jobs table as the agent created it before events were kept.
_OLD_SCHEMA = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, state TEXT NOT NULL, mode TEXT NOT NULL, prompt TEXT NOT NULL,
    variants INTEGER NOT NULL, client TEXT NOT NULL, source TEXT NOT NULL, request_json TEXT NOT NULL,
    request_digest TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    recipe_json TEXT, files_json TEXT, error_code TEXT, error_message TEXT, last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_created ON jobs(created_at);
INSERT INTO jobs (job_id, state, mode, prompt, variants, client, source, request_json, request_digest,
                  created_at, last_seq) VALUES ('old', 'cancelled', 'fill', '', 1, 'cli', 'websocket', '{}', 'd', 1, 2);
"""


def progress(seq: int) -> Progress:
    return Progress(job_id="j", seq=seq, variant=0, step=seq, steps=20, fraction=seq / 20)


def archived(messages: list[JobEvent]) -> list[list[int]]:
    """The batches an archive writes for `messages`, as lists of seq numbers."""
    batches: list[list[int]] = []
    archive = EventArchive(lambda batch: batches.append([message.seq for message in batch if message.seq]))
    for message in messages:
        assert message.seq is not None
        archive(Event(message.seq, message))
    return batches


def test_progress_is_written_with_the_next_other_event() -> None:
    messages: list[JobEvent] = [Accepted(job_id="j", seq=1, queue_position=0), progress(2), progress(3),
                                Cancelled(job_id="j", seq=4)]
    assert archived(messages) == [[1], [2, 3, 4]]


def test_previews_are_not_kept() -> None:
    image = Blob(stream="j/0/preview", format="png", width=4, height=4, bytes=60)
    messages: list[JobEvent] = [Preview(job_id="j", seq=1, variant=0, step=1, image=image),
                                Cancelled(job_id="j", seq=2)]
    assert archived(messages) == [[2]]


def test_a_history_from_before_the_event_log_keeps_its_jobs_and_gains_the_log(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(_OLD_SCHEMA)
    history = HistoryStore(path)
    try:
        history.save_events([Cancelled(job_id="old", seq=2)])
        row = history.get("old")
        assert row is not None and row["state"] == "cancelled"
        assert history.events("old") == [Cancelled(job_id="old", seq=2)]
    finally:
        history.close()
