"""How many bytes announced uploads may hold before they finish: per connection and in all.

A submit reserves the bytes it announces; the memory itself grows only as bytes
arrive, so the budget bounds what unfinished uploads can ever hold, however many
are announced. Lives on the event loop thread, like the sessions that use it.
"""

from __future__ import annotations

from underpaint.config import Settings
from underpaint.core import ErrorCode, RequestError

_MB = 1024 * 1024


class UploadBudget:
    def __init__(self, total: int, per_connection: int) -> None:
        self.total = total
        self.per_connection = per_connection
        self._held: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadBudget:
        return cls(int(settings.upload_memory_mb * _MB), int(settings.upload_memory_per_connection_mb * _MB))

    @property
    def held(self) -> int:
        return sum(self._held.values())

    def reserve(self, owner: str, size: int, job_id: str | None) -> None:
        """Hold `size` bytes for `owner`, or refuse: retryably while other uploads hold the room."""
        largest = min(self.total, self.per_connection)
        if size > largest:
            raise RequestError(ErrorCode.UPLOAD_TOO_LARGE,
                               f"The upload announces {size} bytes; this agent takes at most {largest} at a time "
                               "from one connection.", job_id)
        mine = self._held.get(owner, 0)
        if mine + size > self.per_connection:
            raise RequestError(ErrorCode.UPLOAD_BUDGET_EXCEEDED,
                               f"This connection's unfinished uploads already announce {mine} of its "
                               f"{self.per_connection} bytes; send their bytes before announcing more.", job_id)
        if self.held + size > self.total:
            raise RequestError(ErrorCode.UPLOAD_BUDGET_EXCEEDED,
                               "Other uploads in progress hold the agent's upload memory; try again shortly.", job_id)
        self._held[owner] = mine + size

    def release(self, owner: str, size: int) -> None:
        left = self._held.get(owner, 0) - size
        if left > 0:
            self._held[owner] = left
        else:
            self._held.pop(owner, None)
