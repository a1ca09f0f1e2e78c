"""One agent per hot folder: two watchers would each re-queue the other's jobs at start."""

from __future__ import annotations

import os
from pathlib import Path

LOCK_NAME = ".underpaint.lock"


class FolderBusy(Exception):
    """Another agent already watches this folder."""


class FolderLock:
    """An advisory lock on DIR/.underpaint.lock, released by the OS even when the agent is killed."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; one agent per folder is then the user's job
            self._fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderBusy(f"Another Underpaint agent is already watching {self.path.parent}.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
