"""What a connection waits for between a submit (or submit_set) and the last byte of its streams."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from underpaint.core import RequestError
from underpaint.server.uploads import blobs, job_digest, own_blobs
from underpaint.wire.frames import StreamAssembler
from underpaint.wire.messages import Submit


@dataclass(eq=False)
class PendingJob:
    """A job an upload is for: a new one, or a resubmit of a taken id."""

    submit: Submit
    request: str  # request_digest(submit)
    bound: str | None  # the taken id's digest, which a resubmit's pixels are hashed to compare with
    engine: str | None = None  # where a new job runs, once checked


@dataclass(eq=False)
class PendingUpload:
    """An announced upload: its streams, and the jobs their bytes are for (a submit's, or a set's targets)."""

    jobs: list[PendingJob]
    assemblers: dict[str, StreamAssembler]
    set_id: str | None = None  # a submit_set's, whose jobs are refused or queued together
    reserved: int = 0  # bytes held in the upload budget
    timer: asyncio.TimerHandle | None = None

    @property
    def complete(self) -> bool:
        return all(assembler.complete for assembler in self.assemblers.values())

    def digest(self, job: PendingJob) -> str:
        return job_digest(job.request, [self.assemblers[blob.stream].sha256 for blob in blobs(job.submit)])

    def blame(self, stream: str | None = None) -> str | None:
        """The job id an error about `stream` (None: about the whole upload) names: a submit's own; in a set,
        the target whose stream it is (a shared reference, or the whole set, names none)."""
        if self.set_id is None:
            return self.jobs[0].submit.job_id
        return next((job.submit.job_id for job in self.jobs
                     if stream in {blob.stream for blob in own_blobs(job.submit)}), None)


class SetRefused(RequestError):
    """A submit_set refused whole: its error carries the set id (and the job id of the target to blame)."""

    def __init__(self, exc: RequestError, set_id: str | None) -> None:
        super().__init__(exc.code, exc.message, exc.job_id)
        self.set_id = set_id
