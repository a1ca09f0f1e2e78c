"""One agent per hot folder: two watchers would each re-queue the other's jobs at start."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".underpaint.lock"


class FolderBusy(Exception):
    """Another agent already watches this folder."""


class FolderLock:
    """An OS lock on DIR/.underpaint.lock (flock on POSIX, LockFileEx on Windows, through filelock),
    released by the OS even when the agent is killed."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_NAME
        # Not a singleton: a second FolderLock on the same folder, even in this process, is a second agent.
        self._lock = FileLock(self.path, timeout=0, is_singleton=False, thread_local=False)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except Timeout:
            raise FolderBusy(f"Another Underpaint agent is already watching {self.path.parent}.") from None

    def release(self) -> None:
        self._lock.release(force=True)
