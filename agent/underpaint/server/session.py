"""One websocket connection: handshake, uploads, job subscriptions.

Messages are handled in arrival order; everything the agent sends goes
through one outbox drained by one writer task, so a job's events and their
binary frames never interleave with another's. Uploads hold room in the
agent's upload budget from their submit until their bytes are decoded. A
submit_set is its members' submits sharing one upload, refused or queued whole.
The hello's token says who is connected (a named user, or the agent's owner),
and so which jobs the connection sees and in whose lane of the queue it waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from underpaint.cluster.users import Caller
from underpaint.cluster.users_watch import SignedInConnections
from underpaint.config import Settings
from underpaint.core import ErrorCode, JobSpec, RequestError
from underpaint.core.errors import request_error_from
from underpaint.imaging.planner import plan_context, working_size
from underpaint.jobs.events import Event
from underpaint.jobs.manager import JobManager
from underpaint.jobs.sets import SetMember, submit_set
from underpaint.results.delivery.export import deliver_job
from underpaint.results.delivery.library import PresetLibrary
from underpaint.server.capabilities import capabilities, cluster_view, sees_cluster, waiting_limit
from underpaint.server.pending import PendingJob, PendingUpload, SetRefused
from underpaint.server.security import identify
from underpaint.server.upload_budget import UploadBudget
from underpaint.server.uploads import (
    announced,
    check_blobs,
    check_streams,
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
    CLIENT_MESSAGES,
    PROTOCOL_VERSION,
    Accepted,
    AgentInfo,
    Blob,
    Cancel,
    Error,
    Export,
    Exported,
    ExportedFile,
    Hello,
    Jobs,
    ListJobs,
    Plan,
    Planned,
    Resume,
    Submit,
    SubmitSet,
    Train,
    Welcome,
    client_message_adapter,
)

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT = 10.0
CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, CLOSE_BAD_VERSION = 4400, 4401, 4002
_FORGOTTEN_STREAMS = 256
_CLIENT_MODELS = {model.model_fields["type"].default: model for model in CLIENT_MESSAGES}


def _blamed(data: dict[str, Any], exc: ValidationError) -> str | None:
    """The job id an invalid message names: its own, or in a set, that of the target whose field is bad."""
    job_id = data.get("job_id")
    loc, targets = exc.errors()[0]["loc"], data.get("targets")
    if job_id is None and loc[:1] == ("targets",) and len(loc) > 1 and isinstance(targets, list):
        index = loc[1]
        target = targets[index] if isinstance(index, int) and index < len(targets) else None
        job_id = target.get("job_id") if isinstance(target, dict) else None
    return job_id if isinstance(job_id, str) else None


class Session:
    def __init__(self, ws: web.WebSocketResponse, manager: JobManager, settings: Settings,
                 budget: UploadBudget, signed_in: SignedInConnections) -> None:
        self.ws = ws
        self.manager = manager
        self.settings = settings
        self.budget = budget
        self.signed_in = signed_in
        self.owner = f"ws-{uuid.uuid4().hex[:12]}"
        self.client_name = "unknown"
        self.caller = Caller(None, admin=False)
        self._viewer: tuple[str | None, str | None] = (self.client_name, None)
        """The (client, user) whose jobs this connection sees, from its hello (Caller.viewer)."""
        self._watched: object | None = None
        self._queue_limit = waiting_limit(settings)
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
            if self._watched is not None:
                self.signed_in.discard(self._watched)
            self.manager.queue.sign_out(self.owner)
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
        set_id = exc.set_id if isinstance(exc, SetRefused) else None
        self.send(Error(job_id=exc.job_id, set_id=set_id, code=exc.code, message=exc.message,
                        retryable=exc.retryable))

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
        caller = identify(hello.token, self.settings, self.signed_in.store)
        if caller is None:
            return await self._refuse(
                ErrorCode.UNAUTHORIZED,
                "Wrong token. Paste your own token (a studio admin makes it with `underpaint users add`), "
                "or on your own machine the pairing token (`underpaint token`), into the plugin.",
                CLOSE_UNAUTHORIZED,
            )
        self.client_name = hello.client.name
        self.caller = caller
        self._viewer = caller.viewer(self.client_name)
        if caller.user is not None:
            self.manager.queue.sign_in(self.owner, caller.user.name, caller.user.limits)
            self._watched = self.signed_in.add(caller.user.token_digest, self._token_revoked)
        self.send(Welcome(protocol=PROTOCOL_VERSION, agent=AgentInfo(version=__version__),
                          capabilities=capabilities(self.manager.intake, self.settings,
                                                    cluster_view(self.manager) if sees_cluster(caller) else None)))
        return True

    async def _token_revoked(self) -> None:
        """The user was removed or given a new token while connected: the connection ends (their jobs run on)."""
        self._watched = None
        await self._refuse(ErrorCode.UNAUTHORIZED, "Your token was revoked (your user was removed or given a "
                           "new token); ask the studio's admin for a new one.", CLOSE_UNAUTHORIZED)

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
            message = _CLIENT_MODELS[data["type"]].model_validate(data)
        except ValidationError as exc:
            # Each bad field with its own code (too_many_controls, weight_out_of_range, ...), not just invalid_message.
            error = request_error_from(exc, _blamed(data, exc), data["type"])
            set_id = data.get("set_id") if isinstance(data.get("set_id"), str) else None
            raise (SetRefused(error, set_id) if data["type"] == "submit_set" else error) from None
        if isinstance(message, Hello):
            raise RequestError(ErrorCode.INVALID_MESSAGE, "This connection has already said hello.")
        if isinstance(message, Plan):
            self._on_plan(message)
        elif isinstance(message, Submit):
            await self._receive([message], None)
        elif isinstance(message, SubmitSet):
            await self._on_submit_set(message)
        elif isinstance(message, Cancel):
            self.manager.cancel(message.job_id, *self._viewer)
        elif isinstance(message, Resume):
            self._subscribe(message.job_id, message.after_seq)
        elif isinstance(message, ListJobs):
            client, user = self._viewer
            self.send(Jobs(jobs=self.manager.recent(message.limit, client, message.set_id, user)))
        elif isinstance(message, Export):
            await self._on_export(message)
        elif isinstance(message, Train):
            self._on_train(message)

    def _on_train(self, message: Train) -> None:
        """A training of a dataset folder in the agent's datasets folder (the name cannot leave it)."""
        folder = self.settings.datasets_dir / message.dataset
        if self.manager.trainings is None:
            raise RequestError(ErrorCode.UNSUPPORTED_FEATURE, "This agent does not train.", message.job_id)
        if not folder.resolve().is_relative_to(self.settings.datasets_dir.resolve()):  # a link leading out
            raise RequestError(ErrorCode.EMPTY_DATASET, f"The dataset '{message.dataset}' is not a folder inside "
                                                        "the agent's datasets folder.", message.job_id)
        try:
            self.manager.trainings.submit(message.job_id, message.recipe(), folder, self.client_name, "websocket",
                                          message.previews, self.owner)
        except RequestError as exc:
            raise RequestError(exc.code, exc.message, message.job_id) from None
        self._subscribe(message.job_id, 0)

    async def _on_export(self, message: Export) -> None:
        """A finished job's variant as each preset's file, kept in the job's folder and answered as downloads."""
        job_id = message.job_id
        if not self.manager.visible(job_id, *self._viewer):
            raise RequestError(ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' is known to this agent.", job_id)
        library = PresetLibrary(self.settings.presets_dir)
        try:
            presets = [library.get(name) for name in message.presets]
            await self.manager.wait_for_files(job_id)
            delivery = await asyncio.to_thread(deliver_job, self.manager.store, job_id, message.variant, presets)
        except RequestError as exc:
            raise RequestError(exc.code, exc.message, job_id) from None
        files = [ExportedFile(preset=file.preset, url=f"/v1/jobs/{job_id}/{file.path.name}",
                              name=preset.file_name(job_id, message.variant, file.size.width, file.size.height),
                              format=preset.format, width=file.size.width, height=file.size.height, bytes=file.bytes)
                 for file, preset in zip(delivery.files, presets, strict=True)]
        self.send(Exported(job_id=job_id, variant=message.variant, files=files, warnings=delivery.warnings))

    def _on_plan(self, plan: Plan) -> None:
        _, caps = self.manager.intake.resolve(plan.params)
        context = plan_context(plan.document, plan.selection, caps, plan.params)
        working = working_size(context.width, context.height, caps)
        self.send(Planned(request_id=plan.request_id, context=context, working=working))

    async def _on_submit_set(self, message: SubmitSet) -> None:
        if len(message.targets) > self._queue_limit:
            self._forget([blob.stream for blob in announced(message.members())])
            raise SetRefused(RequestError(ErrorCode.BAD_SET,
                                          f"A set may have at most {self._queue_limit} targets on this agent (the "
                                          f"jobs one connection may have waiting), not {len(message.targets)}."),
                             message.set_id)
        await self._receive(message.members(), message.set_id)

    async def _receive(self, submits: list[Submit], set_id: str | None) -> None:
        """Announce the upload of one submit, or of a set's members (refused whole, queued whole)."""
        streams = announced(submits)
        names = [blob.stream for blob in streams]
        try:
            try:
                jobs = [self._job(submit) for submit in submits]
                pending = self._announce(jobs, streams, set_id)
            except RequestError:
                self._forget(names)
                raise
            if not names:
                await self._complete(pending)
                return
        except RequestError as exc:
            raise self._refusal(set_id, exc) from None
        self._uploads.add(pending)
        for stream in names:
            self._pending[stream] = pending
        pending.timer = asyncio.get_running_loop().call_later(
            self.settings.upload_timeout, self._upload_timed_out, pending)

    def _job(self, submit: Submit) -> PendingJob:
        request = request_digest(submit)
        bound = self.manager.claim(submit.job_id, *self._viewer)
        if bound is not None and request_part(bound) != request:
            # Settled by the request alone: other parameters than the job of that id had.
            self._check_resubmit(submit, bound, job_digest(request, []))
        return PendingJob(submit, request, bound)

    def _announce(self, jobs: list[PendingJob], streams: list[Blob], set_id: str | None) -> PendingUpload:
        """The upload jobs announce: checked, its bytes kept and budgeted, when any job is new; only hashed
        (costing no memory) when every one resubmits a taken id."""
        pending = PendingUpload(jobs, {}, set_id)
        check_streams(streams, pending.blame())
        if any(blob.stream in self._pending for blob in streams):
            raise RequestError(ErrorCode.INVALID_MESSAGE, "A stream name is already in use.", pending.blame())
        keep = any(job.bound is None for job in jobs)
        pending.assemblers = {blob.stream: StreamAssembler(blob.stream, blob.bytes, keep=keep, hashed=True)
                              for blob in streams}
        if not keep:
            return pending
        for job in jobs:
            if job.bound is None:
                job.engine = self.manager.intake.check(job_request(job.submit))
                check_blobs(job.submit)
        size = sum(blob.bytes for blob in streams)
        self.budget.reserve(self.owner, size, pending.blame())
        pending.reserved = size
        return pending

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
            raise self._refusal(pending.set_id, exc, pending.blame(chunk.stream)) from None
        if assembler.complete:
            del self._pending[chunk.stream]
        if not pending.complete:
            return
        try:
            await self._complete(pending)
        except RequestError as exc:
            raise self._refusal(pending.set_id, exc) from None
        finally:
            self._end_upload(pending)

    async def _complete(self, pending: PendingUpload) -> None:
        """Every byte is in: resubmits re-attach, new jobs are decoded, checked and queued (a set's together)."""
        for job in pending.jobs:
            if job.bound is not None:
                self._check_resubmit(job.submit, job.bound, pending.digest(job))
        fresh = [job for job in pending.jobs if job.bound is None]
        if fresh:
            data = {stream: assembler.data() for stream, assembler in pending.assemblers.items()}
            decoded = await asyncio.to_thread(decode_uploads, [job.submit for job in fresh], data)
            specs = [self.manager.intake.spec(job_request(job.submit), pixels.image, pixels.mask, "websocket",
                                              self.client_name, pixels.notes, pixels.controls, pixels.references)
                     for job, pixels in zip(fresh, decoded, strict=True)]
            # Another connection may have taken an id while these bytes arrived.
            for job in fresh:
                job.bound = self.manager.claim(job.submit.job_id, *self._viewer)
                if job.bound is not None:
                    self._check_resubmit(job.submit, job.bound, pending.digest(job))
            self._queue([(job, spec) for job, spec in zip(fresh, specs, strict=True) if job.bound is None],
                        pending)
        for job in pending.jobs:
            if job.bound is not None:
                self._resubmitted(job.submit, job.bound, pending.digest(job))

    def _queue(self, jobs: list[tuple[PendingJob, JobSpec]], pending: PendingUpload) -> None:
        if not jobs:
            return
        first = jobs[0][0].submit
        members = []
        for job, spec in jobs:
            assert job.engine is not None, "new jobs are checked at their announcement"
            members.append(SetMember(spec, job.engine, pending.digest(job), job.submit.model_dump(mode="json")))
        if pending.set_id is None:
            member = members[0]
            self.manager.submit(member.spec, member.engine, self.owner, member.digest, member.request,
                                first.result_format, first.previews, owner_limit=self._queue_limit)
        else:
            room = self.manager.queue.user_room(self.owner)
            if room is not None and len(members) > room:
                # Checked before any member is queued: a set is queued whole or not at all.
                raise RequestError(ErrorCode.USER_QUEUE_FULL, f"Your user may have {room} more jobs waiting; "
                                   f"the set's {len(members)} do not fit until some have started.")
            submit_set(self.manager, members, self.owner, first.result_format, first.previews, self._queue_limit)
        for member in members:
            self._subscribe(member.spec.job_id, after_seq=0)

    def _refusal(self, set_id: str | None, exc: RequestError, job_id: str | None = None) -> RequestError:
        """`exc` as the refusal of the upload: a set's carries the set id; a stream's error names the job
        the stream is for."""
        refused = RequestError(exc.code, exc.message, exc.job_id or job_id)
        return refused if set_id is None else SetRefused(refused, set_id)

    def _check_resubmit(self, submit: Submit, bound: str, digest: str) -> None:
        if digest != bound:
            raise RequestError(ErrorCode.JOB_ID_CONFLICT,
                               f"Job id '{submit.job_id}' was used for a different request or different pixels; "
                               "choose a new id.", submit.job_id)

    def _resubmitted(self, submit: Submit, bound: str, digest: str) -> None:
        """A submit of a taken id: the same request and pixels re-attach to the job; anything else is refused."""
        self._check_resubmit(submit, bound, digest)
        self.send(Accepted(job_id=submit.job_id, seq=0, queue_position=self._position(submit.job_id),
                           duplicate=True))
        self._subscribe(submit.job_id, after_seq=1)

    def _subscribe(self, job_id: str, after_seq: int) -> None:
        self.manager.attach(job_id, after_seq, self._deliver, *self._viewer)
        self._subscriptions.add(job_id)

    def _position(self, job_id: str) -> int:
        return self.manager.queue.position(job_id) or 0

    def _upload_timed_out(self, pending: PendingUpload) -> None:
        self._drop(pending)
        self._error(self._refusal(pending.set_id, RequestError(
            ErrorCode.UPLOAD_TIMEOUT, f"The upload did not complete within {self.settings.upload_timeout:g} s.",
            pending.blame())))

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
