"""One websocket connection: handshake, uploads, job subscriptions.

Messages are handled in arrival order; everything the agent sends goes
through one outbox drained by one writer task, so a job's events and their
binary frames never interleave with another's. Uploads hold room in the
agent's upload budget from their submit until their bytes are decoded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from underpaint.config import Settings
from underpaint.core import ErrorCode, RequestError
from underpaint.imaging.planner import plan_context, working_size
from underpaint.jobs.events import Event
from underpaint.jobs.manager import JobManager
from underpaint.server.capabilities import capabilities
from underpaint.server.upload_budget import UploadBudget
from underpaint.server.uploads import (
    blobs,
    check_blobs,
    decode_uploads,
    job_digest,
    job_request,
    request_digest,
    request_part,
)
from underpaint.version import __version__
from underpaint.wire.frames import StreamAssembler, decode_frame
from underpaint.wire.messages import (
    CLIENT_KINDS,
    PROTOCOL_VERSION,
    Accepted,
    AgentInfo,
    Blob,
    Cancel,
    Error,
    Hello,
    Jobs,
    ListJobs,
    Plan,
    Planned,
    Resume,
    Submit,
    Welcome,
    client_message_adapter,
)

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT = 10.0
CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, CLOSE_BAD_VERSION = 4400, 4401, 4002
_FORGOTTEN_STREAMS = 256


@dataclass(eq=False)
class PendingUpload:
    """An announced upload: its streams, and what their bytes are for once all have arrived."""

    submit: Submit
    request: str  # request_digest(submit)
    assemblers: dict[str, StreamAssembler]
    engine: str | None  # where a new job runs; None for a resubmit of a taken id
    bound: str | None = None  # the taken id's digest, which a resubmit's pixels are hashed to compare with
    reserved: int = 0  # bytes held in the upload budget
    timer: asyncio.TimerHandle | None = None

    @property
    def complete(self) -> bool:
        return all(assembler.complete for assembler in self.assemblers.values())

    def digest(self) -> str:
        return job_digest(self.request, [assembler.sha256 for assembler in self.assemblers.values()])


class Session:
    def __init__(self, ws: web.WebSocketResponse, manager: JobManager, settings: Settings,
                 budget: UploadBudget) -> None:
        self.ws = ws
        self.manager = manager
        self.settings = settings
        self.budget = budget
        self.owner = f"ws-{uuid.uuid4().hex[:12]}"
        self.client_name = "unknown"
        self._queue_limit = max(1, int(settings.queue_size * settings.queue_share))
        self._outbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._uploads: set[PendingUpload] = set()
        self._pending: dict[str, PendingUpload] = {}  # stream -> its upload, until the stream is complete
        self._forgotten: dict[str, None] = {}
        self._subscriptions: set[str] = set()

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            if await self._handshake():
                async for message in self.ws:
                    if message.type == WSMsgType.TEXT:
                        await self._guard(self._on_text(message.data))
                    elif message.type == WSMsgType.BINARY:
                        await self._guard(self._on_binary(message.data))
                    elif message.type == WSMsgType.ERROR:
                        break
        finally:
            for pending in list(self._uploads):
                self._end_upload(pending)
            for job_id in self._subscriptions:
                self.manager.detach(job_id, self._deliver)
            self._outbox.put_nowait(None)
            await writer

    # sending

    def send(self, message: Any) -> None:
        self._outbox.put_nowait(message.model_dump_json(exclude_none=False))

    def _deliver(self, event: Event) -> None:
        self.send(event.message)
        for frame in event.frames:
            self._outbox.put_nowait(frame)

    async def _write(self) -> None:
        while (item := await self._outbox.get()) is not None:
            if self.ws.closed:
                continue
            try:
                if isinstance(item, str):
                    await self.ws.send_str(item)
                else:
                    await self.ws.send_bytes(item)
            except (ConnectionError, RuntimeError):
                log.debug("client %s went away while sending", self.owner)

    def _error(self, exc: RequestError) -> None:
        self.send(Error(job_id=exc.job_id, code=exc.code, message=exc.message, retryable=exc.retryable))

    async def _guard(self, handler: Any) -> None:
        """Bad input becomes an error message; it never ends the connection or the agent."""
        try:
            await handler
        except RequestError as exc:
            self._error(exc)
        except Exception:
            log.exception("unexpected error handling a message from %s", self.owner)
            self._error(RequestError(ErrorCode.INTERNAL, "The agent hit an internal error; see its log."))

    # handshake

    async def _handshake(self) -> bool:
        try:
            first = await self.ws.receive(timeout=HANDSHAKE_TIMEOUT)
        except TimeoutError:
            return await self._refuse(ErrorCode.HANDSHAKE_REQUIRED, "No hello within 10 seconds.", CLOSE_BAD_REQUEST)
        if first.type != WSMsgType.TEXT:
            return False if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING) else \
                await self._refuse(ErrorCode.HANDSHAKE_REQUIRED, "Send hello first.", CLOSE_BAD_REQUEST)
        try:
            hello = client_message_adapter.validate_json(first.data)
        except ValidationError:
            return await self._refuse(ErrorCode.HANDSHAKE_REQUIRED,
                                      "The first message must be a valid hello.", CLOSE_BAD_REQUEST)
        if not isinstance(hello, Hello):
            return await self._refuse(ErrorCode.HANDSHAKE_REQUIRED, "Send hello first.", CLOSE_BAD_REQUEST)
        major = hello.protocol.split(".")[0]
        if major != PROTOCOL_VERSION.split(".")[0]:
            return await self._refuse(
                ErrorCode.UNSUPPORTED_VERSION,
                f"This agent speaks protocol {PROTOCOL_VERSION}; the client speaks {hello.protocol}. "
                "Update the plugin or the agent so their major versions match.",
                CLOSE_BAD_VERSION,
            )
        expected = self.settings.token or ""
        if self.settings.require_token and not secrets.compare_digest(hello.token.encode(), expected.encode()):
            return await self._refuse(
                ErrorCode.UNAUTHORIZED,
                "Wrong pairing token. Run `underpaint token` and paste the token into the plugin.",
                CLOSE_UNAUTHORIZED,
            )
        self.client_name = hello.client.name
        self.send(Welcome(protocol=PROTOCOL_VERSION, agent=AgentInfo(version=__version__),
                          capabilities=capabilities(self.manager.engines, self.settings)))
        return True

    async def _refuse(self, code: ErrorCode, message: str, close_code: int) -> bool:
        # Sent directly, not through the outbox: the close must follow the error on the wire.
        error = RequestError(code, message)
        await self.ws.send_str(Error(code=code, message=message, retryable=error.retryable).model_dump_json())
        await self.ws.close(code=close_code, message=code.value.encode())
        return False

    # messages

    async def _on_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise RequestError(ErrorCode.BAD_JSON, "A text frame was not valid JSON (or was nested too deeply).") \
                from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise RequestError(ErrorCode.INVALID_MESSAGE, "A message must be a JSON object with a string 'type'.")
        if data["type"] not in CLIENT_KINDS:
            raise RequestError(ErrorCode.UNKNOWN_TYPE, f"Unknown message type '{data['type']}'.")
        try:
            message = client_message_adapter.validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'message'}: {e['msg']}"
                                 for e in exc.errors()[:5])
            job_id = data.get("job_id") if isinstance(data.get("job_id"), str) else None
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"Invalid {data['type']}: {problems}.",
                                job_id) from None
        if isinstance(message, Hello):
            raise RequestError(ErrorCode.INVALID_MESSAGE, "This connection has already said hello.")
        if isinstance(message, Plan):
            self._on_plan(message)
        elif isinstance(message, Submit):
            await self._on_submit(message)
        elif isinstance(message, Cancel):
            self.manager.cancel(message.job_id, self.client_name)
        elif isinstance(message, Resume):
            self._subscribe(message.job_id, message.after_seq)
        elif isinstance(message, ListJobs):
            self.send(Jobs(jobs=self.manager.recent(message.limit, self.client_name)))

    def _on_plan(self, plan: Plan) -> None:
        _, caps = self.manager.intake.resolve(plan.params)
        context = plan_context(plan.document, plan.selection, caps, plan.params)
        working = working_size(context.width, context.height, caps)
        self.send(Planned(request_id=plan.request_id, context=context, working=working))

    async def _on_submit(self, submit: Submit) -> None:
        announced = blobs(submit)
        streams = [blob.stream for blob in announced]
        request = request_digest(submit)
        try:
            bound = self.manager.claim(submit.job_id, self.client_name)
            if bound is not None and (not streams or request_part(bound) != request):
                # Settled by the request alone: it has no pixels to compare, or other parameters.
                self._forget(streams)
                self._resubmitted(submit, bound, job_digest(request, []))
                return
            pending = self._announce(submit, request, announced, bound)
        except RequestError:
            self._forget(streams)
            raise
        if not streams:
            await self._start(pending)
            return
        self._uploads.add(pending)
        for stream in streams:
            self._pending[stream] = pending
        pending.timer = asyncio.get_running_loop().call_later(
            self.settings.upload_timeout, self._upload_timed_out, pending)

    def _announce(self, submit: Submit, request: str, announced: list[Blob], bound: str | None) -> PendingUpload:
        """The upload a submit announces: a new job's (checked, its bytes kept and budgeted) or a
        resubmit's of a taken id (its bytes only hashed, so it costs no memory)."""
        if any(blob.stream in self._pending for blob in announced):
            raise RequestError(ErrorCode.INVALID_MESSAGE, "A stream name is already in use.", submit.job_id)
        keep = bound is None
        assemblers = {blob.stream: StreamAssembler(blob.stream, blob.bytes, keep=keep, hashed=True)
                      for blob in announced}
        if not keep:
            return PendingUpload(submit, request, assemblers, None, bound)
        engine = self.manager.intake.check(job_request(submit))
        check_blobs(submit)
        size = sum(blob.bytes for blob in announced)
        self.budget.reserve(self.owner, size, submit.job_id)
        return PendingUpload(submit, request, assemblers, engine, reserved=size)

    async def _on_binary(self, frame: bytes) -> None:
        chunk = decode_frame(frame)
        pending = self._pending.get(chunk.stream)
        if pending is None:
            if chunk.stream in self._forgotten:
                return
            raise RequestError(ErrorCode.UNKNOWN_STREAM,
                                f"Binary frame for stream '{chunk.stream}', which no submit announced.")
        assembler = pending.assemblers[chunk.stream]
        try:
            assembler.add(chunk)
        except RequestError as exc:
            self._drop(pending)
            raise RequestError(exc.code, exc.message, pending.submit.job_id) from None
        if assembler.complete:
            del self._pending[chunk.stream]
        if not pending.complete:
            return
        try:
            if pending.bound is not None:
                self._resubmitted(pending.submit, pending.bound, pending.digest())
            else:
                await self._start(pending)
        finally:
            self._end_upload(pending)

    async def _start(self, pending: PendingUpload) -> None:
        submit = pending.submit
        assert pending.engine is not None, "only new jobs start"
        data = {stream: assembler.data() for stream, assembler in pending.assemblers.items()}
        image, mask, notes = await asyncio.to_thread(decode_uploads, submit, data)
        spec = self.manager.intake.spec(job_request(submit), image, mask, "websocket", self.client_name, notes)
        digest = pending.digest()
        # Another connection may have taken the id while these bytes arrived.
        bound = self.manager.claim(submit.job_id, self.client_name)
        if bound is not None:
            self._resubmitted(submit, bound, digest)
            return
        self.manager.submit(spec, pending.engine, self.owner, digest, submit.model_dump(mode="json"),
                            submit.result_format, submit.previews, owner_limit=self._queue_limit)
        self._subscribe(submit.job_id, after_seq=0)

    def _resubmitted(self, submit: Submit, bound: str, digest: str) -> None:
        """A submit of a taken id: the same request and pixels re-attach to the job; anything else is refused."""
        if digest != bound:
            raise RequestError(ErrorCode.JOB_ID_CONFLICT,
                               f"Job id '{submit.job_id}' was used for a different request or different pixels; "
                               "choose a new id.", submit.job_id)
        self.send(Accepted(job_id=submit.job_id, seq=0, queue_position=self._position(submit.job_id),
                           duplicate=True))
        self._subscribe(submit.job_id, after_seq=1)

    def _subscribe(self, job_id: str, after_seq: int) -> None:
        self.manager.attach(job_id, after_seq, self._deliver, self.client_name)
        self._subscriptions.add(job_id)

    def _position(self, job_id: str) -> int:
        return self.manager.queue.position(job_id) or 0

    def _upload_timed_out(self, pending: PendingUpload) -> None:
        self._drop(pending)
        self._error(RequestError(ErrorCode.UPLOAD_TIMEOUT,
                                  f"The upload did not complete within {self.settings.upload_timeout:g} s.",
                                  pending.submit.job_id))

    def _drop(self, pending: PendingUpload) -> None:
        self._end_upload(pending)
        self._forget(list(pending.assemblers))

    def _end_upload(self, pending: PendingUpload) -> None:
        """Stop waiting for an upload's bytes and give its room in the budget back (once)."""
        if pending.timer:
            pending.timer.cancel()
        for stream in pending.assemblers:
            if self._pending.get(stream) is pending:
                del self._pending[stream]
        if pending in self._uploads:
            self._uploads.discard(pending)
            self.budget.release(self.owner, pending.reserved)

    def _forget(self, streams: list[str]) -> None:
        """Frames still in flight for a refused upload are dropped quietly, not answered one by one."""
        for stream in streams:
            self._pending.pop(stream, None)
            self._forgotten[stream] = None
        while len(self._forgotten) > _FORGOTTEN_STREAMS:
            self._forgotten.pop(next(iter(self._forgotten)))
