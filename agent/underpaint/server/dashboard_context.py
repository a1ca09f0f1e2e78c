"""What the page's routes share: the settings, the job manager, the curation queries on their own thread,
and the checks of the ids a route is given."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from underpaint.config import Settings
from underpaint.core import ErrorCode
from underpaint.jobs.curation import Curation
from underpaint.jobs.manager import JobManager
from underpaint.server.dashboard_auth import refusal
from underpaint.wire.messages import JobId, SetId

DASHBOARD_CLIENT = "underpaint-dashboard"
"""The client name of jobs submitted from the page."""
DASHBOARD_SOURCE = "dashboard"
"""The front door those jobs came through, as the history records it."""
T = TypeVar("T")
_JOB_ID: TypeAdapter[str] = TypeAdapter(JobId)
_SET_ID: TypeAdapter[str] = TypeAdapter(SetId)


@dataclass
class Dashboard:
    settings: Settings
    app: web.Application
    manager_key: web.AppKey[JobManager]
    curation: Curation | None = None
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    # One thread: the curation connection is used by one thread at a time, and pages queue behind each other
    # rather than behind the jobs' events on the event loop.
    thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="underpaint-dashboard"))

    @property
    def manager(self) -> JobManager:
        return self.app[self.manager_key]

    async def query(self, work: Callable[[Curation], T]) -> T:
        """`work(curation)` on the dashboard's thread."""
        curation = self.curation
        if curation is None:
            raise refusal(503, ErrorCode.INTERNAL, "The agent is starting or stopping; try again.")
        return await asyncio.get_running_loop().run_in_executor(self.thread, work, curation)


DASHBOARD = web.AppKey("dashboard", Dashboard)


def dashboard_of(request: web.Request) -> Dashboard:
    return request.app[DASHBOARD]


def job_id_of(request: web.Request) -> str:
    """The route's job id, checked against the protocol's pattern before it names anything on disk."""
    return _checked(_JOB_ID, request.match_info["job_id"], "job")


def set_id_of(request: web.Request) -> str:
    return _checked(_SET_ID, request.match_info["set_id"], "set")


def _checked(adapter: TypeAdapter[str], value: str, what: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        code = ErrorCode.UNKNOWN_JOB if what == "job" else ErrorCode.BAD_SET
        raise refusal(404, code, f"No {what} '{value[:80]}': ids are letters, digits, '.', '_' and '-'.") from None
