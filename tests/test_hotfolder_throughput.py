"""Hot folder throughput stays flat: the result store's check after each job does not grow with the kept results.

The agent runs `ResultStore.cleanup` after every saved job (the user's age and
size limits). It used to read every kept job folder each time, so a run of
hundreds of hot-folder jobs slowed as out/ grew; now it reads the folders
once and keeps their ages and sizes up to date from its own writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import make_result
from underpaint.results import store as store_module
from underpaint.results.store import ResultStore

DAY = 86400.0


def _fake_job(store: ResultStore, job_id: str, age_days: float, size: int = 1000) -> None:
    folder = store.root / job_id
    folder.mkdir(parents=True)
    (folder / "result.psd").write_bytes(b"x" * size)
    stamp = os.path.getmtime(folder) - age_days * DAY
    os.utime(folder / "result.psd", (stamp, stamp))
    os.utime(folder, (stamp, stamp))


@pytest.fixture
def folder_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each job folder the store walks, in order."""
    reads: list[str] = []
    walk = Path.rglob

    def counted(self: Path, pattern: str) -> Iterator[Path]:
        reads.append(self.name)
        return walk(self, pattern)

    monkeypatch.setattr(Path, "rglob", counted)
    return reads


def _reads_for_one_more_job(store: ResultStore, job_id: str, folder_reads: list[str]) -> list[str]:
    folder_reads.clear()
    store.save(make_result(1), job_id)
    store.cleanup(keep={job_id})
    return list(folder_reads)


@pytest.mark.parametrize("kept", [5, 60])
def test_the_check_after_a_saved_job_reads_only_that_jobs_folder_however_many_are_kept(
    tmp_path: Path, folder_reads: list[str], kept: int
) -> None:
    store = ResultStore(tmp_path / "results", max_age_days=7, max_total_mb=100)
    for index in range(kept):
        _fake_job(store, f"kept-{index}", age_days=1)
    store.cleanup()  # the first check reads every folder once
    for index in range(3):
        assert _reads_for_one_more_job(store, f"new-{index}", folder_reads) == [f"new-{index}"]


def test_jobs_saved_since_the_first_check_still_count_towards_the_size_limit(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results", max_age_days=7, max_total_mb=100)
    _fake_job(store, "oldest", age_days=2, size=1024 * 1024)
    store.cleanup()
    store.save(make_result(1), "newest")
    size = sum(f.stat().st_size for f in (store.root / "newest").iterdir())
    store.max_total_mb = (size + 1024) / (1024 * 1024)  # room for the newest job alone
    assert store.cleanup() == ["oldest"]
    assert (store.root / "newest").is_dir()


def test_a_job_folder_removed_by_hand_does_not_break_the_check(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results", max_age_days=7, max_total_mb=100)
    _fake_job(store, "gone", age_days=9)
    store.cleanup(now=0.0)  # an early clock: nothing is old yet, every folder is now known
    (store.root / "gone" / "result.psd").unlink()
    (store.root / "gone").rmdir()
    store.cleanup()
    assert store.cleanup() == []
    assert not (store.root / "gone").exists()


def test_folders_changed_by_hand_count_from_the_next_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path / "results", max_age_days=7, max_total_mb=100)
    store.cleanup()
    _fake_job(store, "copied-in", age_days=30)
    assert store.cleanup() == []  # not read yet: the last full scan is recent
    monkeypatch.setattr(store_module, "FULL_SCAN_SECONDS", 0.0)
    assert store.cleanup() == ["copied-in"]
