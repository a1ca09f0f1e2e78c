"""Consistent sets: one recipe over many targets, queued as ordinary jobs that share a set id.

A set is queued whole or not at all: every job id must be free and the queue must
have room for every member before the first is queued, so a refused set leaves
nothing behind. Runs on the event loop thread, like the manager it queues into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from underpaint.core import ErrorCode, JobSpec, RequestError
from underpaint.jobs.manager import Job, JobManager, ResultFormat


@dataclass(frozen=True, eq=False)
class SetMember:
    """One target of a set, ready to queue: what `JobManager.submit` takes for it."""

    spec: JobSpec
    engine: str
    digest: str
    request: dict[str, Any]


def submit_set(manager: JobManager, members: Sequence[SetMember], owner: str, result_format: ResultFormat = "raw",
               previews: bool = False, owner_limit: int | None = None) -> list[Job]:
    """Queue every member, in order, or raise (with the refused member's job id where one is to blame)
    and queue none. `owner_limit` caps the owner's waiting jobs, the set's included."""
    for member in members:
        if not manager.is_free(member.spec.job_id):
            raise RequestError(ErrorCode.JOB_ID_CONFLICT, f"Job id '{member.spec.job_id}' is already taken.",
                               member.spec.job_id)
    count = len(members)
    if len(manager.queue) + count > manager.queue.max_size:
        raise RequestError(ErrorCode.QUEUE_FULL,
                           f"The queue has no room for the set's {count} jobs ({len(manager.queue)} of "
                           f"{manager.queue.max_size} places taken); try again when some have finished.")
    waiting = sum(job.owner == owner and job.state == "queued" for job in manager.jobs.values())
    if owner_limit is not None and waiting + count > owner_limit:
        raise RequestError(ErrorCode.CLIENT_QUEUE_FULL,
                           f"This connection has {waiting} jobs waiting and may have {owner_limit}; the set's "
                           f"{count} do not fit until some have started.")
    return [manager.submit(member.spec, member.engine, owner, member.digest, member.request, result_format,
                           previews, owner_limit) for member in members]
