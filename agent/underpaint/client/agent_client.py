"""A protocol v1 client on the `websockets` library: what the CLI, the tests
and the benchmarks use to talk to a running agent, exactly as a plugin does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

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
    Submit,
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


def _decode_blob(blob: Blob, data: bytearray, channels: int) -> np.ndarray:
    return decode_pixels(data, blob.format, blob.width, blob.height, channels)[0]


class AgentClient:
    def __init__(self, ws: ClientConnection, welcome: Welcome) -> None:
        self.ws = ws
        self.welcome = welcome

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
                     upload_format: str = "raw", result_format: str = "raw", previews: bool = False) -> None:
        """Send the submit message and the image and mask streams."""
        uploads: list[tuple[str, bytes | memoryview]] = []
        blobs: dict[str, Blob] = {}
        for name, array, raw in (("image", image, "rgba8"), ("mask", mask, "gray8")):
            if array is None:
                continue
            data = encode_png(array) if upload_format == "png" else raw_bytes(array)
            stream = f"{job_id}/{name}"
            blobs[name] = Blob(stream=stream, format="png" if upload_format == "png" else raw,  # type: ignore[arg-type]
                               width=array.shape[1], height=array.shape[0], bytes=len(data))
            uploads.append((stream, data))
        submit = Submit(job_id=job_id, mode=mode, params=params, document=document, region=region,
                        result_format=result_format, previews=previews, **blobs)  # type: ignore[arg-type]
        await self.ws.send(submit.model_dump_json())
        for stream, data in uploads:
            await self.send_stream(stream, data)

    async def send_stream(self, stream: str, data: bytes | memoryview) -> None:
        for frame in chunk_frames(stream, data, self.chunk_bytes):
            await self.ws.send(frame)

    async def cancel(self, job_id: str) -> None:
        await self.ws.send(Cancel(job_id=job_id).model_dump_json())

    async def resume(self, job_id: str, after_seq: int) -> None:
        await self.ws.send(Resume(job_id=job_id, after_seq=after_seq).model_dump_json())

    async def list_jobs(self, limit: int = 50) -> list[JobSummary]:
        await self.ws.send(ListJobs(limit=limit).model_dump_json())
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

    async def events(self, job_id: str) -> AsyncIterator[tuple[AgentEvent, dict[str, bytearray]]]:
        """This job's events until it ends (done, error or cancelled)."""
        while True:
            message, payloads = await self.next_event()
            if isinstance(message, Error) and message.job_id is None:
                raise AgentRefused(message)
            if getattr(message, "job_id", None) != job_id:
                continue
            yield message, payloads
            if message.type in ("done", "error", "cancelled"):
                return

    async def follow(self, job_id: str, on_event: Callable[[AgentEvent], None] | None = None) -> JobOutcome:
        """Collect a job's variants and its final message."""
        outcome = JobOutcome(job_id, "running")
        async for message, payloads in self.events(job_id):
            if on_event:
                on_event(message)
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
        return outcome

