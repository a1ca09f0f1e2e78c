"""A protocol v1 client on the `websockets` library: what the CLI, the tests
and the benchmarks use to talk to a running agent, exactly as a plugin does."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from underpaint.core import Mode, Params, Rect, Size
from underpaint.imaging.codec import decode_pixels, encode_png, raw_bytes
from underpaint.version import __version__
from underpaint.wire.frames import DEFAULT_CHUNK_BYTES, StreamAssembler, chunk_frames, decode_frame
from underpaint.wire.messages import (
    PROTOCOL_VERSION,
    Blob,
    Cancel,
    ClientInfo,
    Done,
    Error,
    Hello,
    Jobs,
    JobSummary,
    ListJobs,
    Plan,
    Planned,
    Preview,
    Result,
    Resume,
    SetTarget,
    Submit,
    SubmitSet,
    Welcome,
    agent_message_adapter,
)

AgentEvent = Any


class AgentRefused(Exception):
    """The agent answered with an error message; `error` holds it."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


@dataclass
class Variant:
    index: int
    seed: int
    name: str
    bounds: Rect
    visible: bool
    pixels: np.ndarray
    mask: np.ndarray


@dataclass
class JobOutcome:
    job_id: str
    state: str
    variants: list[Variant] = field(default_factory=list)
    done: Done | None = None
    error: Error | None = None
    last_seq: int = 0


@dataclass(frozen=True, eq=False)
class Target:
    """One target of a set: where its result goes and its own pixels (RGBA8 image, Gray8 mask, an RGBA8
    image per control of the set's params, None for one derived from the source)."""

    job_id: str
    document: Size
    region: Rect
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    control_images: tuple[np.ndarray | None, ...] = ()


Upload = tuple[str, bytes | memoryview]


def _with_given_params(message: Submit | SubmitSet, params: Params) -> str:
    """`message` as JSON with only the params fields the caller set, so the agent fills the others from
    the job's style (a field sent with its default value counts as set)."""
    data = message.model_dump(mode="json")
    data["params"] = params.model_dump(mode="json", exclude_unset=True)
    return json.dumps(data)


def _decode_blob(blob: Blob, data: bytearray, channels: int) -> np.ndarray:
    return decode_pixels(data, blob.format, blob.width, blob.height, channels)[0]


def _encoded(array: np.ndarray, stream: str, upload_format: str, uploads: list[Upload]) -> Blob:
    """The Blob announcing `array` (RGBA8 or Gray8) as `upload_format` ('raw' or 'png'); its bytes join `uploads`."""
    raw: Literal["rgba8", "gray8"] = "gray8" if array.ndim == 2 else "rgba8"
    data = encode_png(array) if upload_format == "png" else raw_bytes(array)
    uploads.append((stream, data))
    return Blob(stream=stream, format="png" if upload_format == "png" else raw, width=array.shape[1],
                height=array.shape[0], bytes=len(data))


def _own_blobs(prefix: str, image: np.ndarray | None, mask: np.ndarray | None,
               controls: Sequence[np.ndarray | None], upload_format: str, uploads: list[Upload]) -> dict[str, Any]:
    """The image, mask and controls fields of a submit or set target, streams named after `prefix`."""
    return {
        "image": None if image is None else _encoded(image, f"{prefix}/image", upload_format, uploads),
        "mask": None if mask is None else _encoded(mask, f"{prefix}/mask", upload_format, uploads),
        "controls": [None if array is None else _encoded(array, f"{prefix}/control-{index}", upload_format, uploads)
                     for index, array in enumerate(controls)],
    }


def _reference_blobs(prefix: str, references: Sequence[np.ndarray], upload_format: str,
                     uploads: list[Upload]) -> list[Blob]:
    return [_encoded(array, f"{prefix}/reference-{index}", upload_format, uploads)
            for index, array in enumerate(references)]


class AgentClient:
    def __init__(self, ws: ClientConnection, welcome: Welcome) -> None:
        self.ws = ws
        self.welcome = welcome
        self._sets: dict[str, list[str]] = {}  # set id -> its job ids, to end them all when the set is refused

    @classmethod
    async def connect(cls, url: str, token: str, client_name: str = "underpaint-cli",
                      protocol: str = PROTOCOL_VERSION, **options: Any) -> AgentClient:
        limits = {"max_size": 64 << 20, "compression": None, "open_timeout": 10}
        ws = await connect(url, **(limits | options))
        await ws.send(Hello(protocol=protocol, client=ClientInfo(name=client_name, version=__version__),
                            token=token).model_dump_json())
        reply = agent_message_adapter.validate_json(await ws.recv())
        if isinstance(reply, Error):
            await ws.close()
            raise AgentRefused(reply)
        assert isinstance(reply, Welcome)
        return cls(ws, reply)

    @property
    def chunk_bytes(self) -> int:
        return self.welcome.capabilities.limits.chunk_bytes or DEFAULT_CHUNK_BYTES

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # requests

    async def plan(self, mode: Mode, document: Size, selection: Rect, params: Params | None = None) -> Planned:
        await self.ws.send(Plan(request_id=uuid.uuid4().hex[:8], mode=mode, document=document,
                                selection=selection, params=params or Params()).model_dump_json())
        reply, _ = await self.next_event()
        if isinstance(reply, Error):
            raise AgentRefused(reply)
        assert isinstance(reply, Planned)
        return reply

    async def submit(self, job_id: str, mode: Mode, document: Size, region: Rect, params: Params,
                     image: np.ndarray | None = None, mask: np.ndarray | None = None,
                     upload_format: str = "raw", result_format: str = "raw", previews: bool = False,
                     control_images: Sequence[np.ndarray | None] = (), reference_images: Sequence[np.ndarray] = (),
                     set_id: str | None = None) -> None:
        """Send the submit message and its streams: image, mask, each control image (None for a control
        derived from the source), each reference image."""
        uploads: list[Upload] = []
        own = _own_blobs(job_id, image, mask, control_images, upload_format, uploads)
        submit = Submit(job_id=job_id, mode=mode, params=params, document=document, region=region,
                        references=_reference_blobs(job_id, reference_images, upload_format, uploads),
                        set_id=set_id, result_format=result_format, previews=previews,  # type: ignore[arg-type]
                        **own)
        await self.ws.send(_with_given_params(submit, params))
        await self._send_uploads(uploads)

    async def submit_set(self, set_id: str, mode: Mode, params: Params, targets: Sequence[Target],
                         reference_images: Sequence[np.ndarray] = (), upload_format: str = "raw",
                         result_format: str = "raw", previews: bool = False) -> None:
        """Send one recipe over `targets` (each becomes a job carrying `set_id`) and every stream: each
        target's own, then the shared reference images, once."""
        uploads: list[Upload] = []
        members = [SetTarget(job_id=target.job_id, document=target.document, region=target.region,
                             **_own_blobs(target.job_id, target.image, target.mask, target.control_images,
                                          upload_format, uploads))
                   for target in targets]
        message = SubmitSet(set_id=set_id, mode=mode, params=params, targets=members,
                            references=_reference_blobs(set_id, reference_images, upload_format, uploads),
                            result_format=result_format, previews=previews)  # type: ignore[arg-type]
        self._sets[set_id] = [target.job_id for target in targets]
        await self.ws.send(_with_given_params(message, params))
        await self._send_uploads(uploads)

    async def _send_uploads(self, uploads: list[Upload]) -> None:
        for stream, data in uploads:
            await self.send_stream(stream, data)

    async def send_stream(self, stream: str, data: bytes | memoryview) -> None:
        for frame in chunk_frames(stream, data, self.chunk_bytes):
            await self.ws.send(frame)

    async def cancel(self, job_id: str) -> None:
        await self.ws.send(Cancel(job_id=job_id).model_dump_json())

    async def resume(self, job_id: str, after_seq: int) -> None:
        await self.ws.send(Resume(job_id=job_id, after_seq=after_seq).model_dump_json())

    async def list_jobs(self, limit: int = 50, set_id: str | None = None) -> list[JobSummary]:
        """The newest jobs this client may see; only those of `set_id` when given."""
        await self.ws.send(ListJobs(limit=limit, set_id=set_id).model_dump_json())
        reply, _ = await self.next_event()
        if isinstance(reply, Error):
            raise AgentRefused(reply)
        assert isinstance(reply, Jobs)
        return reply.jobs

    # events

    async def next_event(self) -> tuple[AgentEvent, dict[str, bytearray]]:
        """The next message and, for result and preview messages, their streams' bytes."""
        message = agent_message_adapter.validate_json(await self.ws.recv())
        blobs: list[Blob] = []
        if isinstance(message, Result):
            blobs = [message.pixels, message.mask]
        elif isinstance(message, Preview):
            blobs = [message.image]
        assemblers = {blob.stream: StreamAssembler(blob.stream, blob.bytes) for blob in blobs}
        while not all(a.complete for a in assemblers.values()):
            frame = await self.ws.recv()
            if isinstance(frame, str):
                raise RuntimeError(f"expected binary frames for {list(assemblers)}, got a text message")
            chunk = decode_frame(frame)
            assemblers[chunk.stream].add(chunk)
        return message, {stream: a.data() for stream, a in assemblers.items()}

    async def job_events(self, job_ids: Sequence[str]) -> AsyncIterator[tuple[AgentEvent, dict[str, bytearray]]]:
        """The events of `job_ids` until each has ended (done, error or cancelled). A refused set ends
        every job of it that this client submitted with `submit_set`: its error comes once for each."""
        waiting = set(job_ids)
        while waiting:
            message, payloads = await self.next_event()
            if isinstance(message, Error) and message.seq is None and message.set_id in self._sets:
                for job_id in self._sets[message.set_id]:
                    if job_id in waiting:
                        waiting.discard(job_id)
                        yield message.model_copy(update={"job_id": job_id}), payloads
                continue
            if isinstance(message, Error) and message.job_id is None:
                raise AgentRefused(message)
            if getattr(message, "job_id", None) not in waiting:
                continue
            yield message, payloads
            if message.type in ("done", "error", "cancelled"):
                waiting.discard(message.job_id)

    async def follow(self, job_id: str, on_event: Callable[[AgentEvent], None] | None = None) -> JobOutcome:
        """Collect a job's variants and its final message."""
        return (await self.follow_all([job_id], on_event))[job_id]

    async def follow_all(self, job_ids: Sequence[str], on_event: Callable[[AgentEvent], None] | None = None
                         ) -> dict[str, JobOutcome]:
        """Collect each job's variants and final message, whatever order their events come in (a set's jobs)."""
        outcomes = {job_id: JobOutcome(job_id, "running") for job_id in job_ids}
        async for message, payloads in self.job_events(job_ids):
            if on_event:
                on_event(message)
            outcome = outcomes[message.job_id]
            outcome.last_seq = max(outcome.last_seq, message.seq or 0)
            if isinstance(message, Result):
                outcome.variants.append(Variant(
                    message.variant, message.seed, message.layer.name, message.layer.bounds, message.layer.visible,
                    _decode_blob(message.pixels, payloads[message.pixels.stream], 4),
                    _decode_blob(message.mask, payloads[message.mask.stream], 1),
                ))
            elif isinstance(message, Done):
                outcome.state, outcome.done = "done", message
            elif isinstance(message, Error):
                outcome.state, outcome.error = "error", message
            elif message.type == "cancelled":
                outcome.state = "cancelled"
        return outcomes
