"""Binary frames: image bytes in chunks, each tagged with its stream.

Layout of one frame: a 4-byte big-endian header length N, N bytes of UTF-8
JSON `{"stream": str, "index": int, "count": int}`, then the payload.
A JSON header keeps frames self-describing and debuggable at a cost of
a few dozen bytes per ~1 MiB chunk.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from underpaint.core import ErrorCode, RequestError

DEFAULT_CHUNK_BYTES = 1 << 20
_MAX_HEADER = 1024


@dataclass(frozen=True)
class Chunk:
    stream: str
    index: int
    count: int
    payload: memoryview


def encode_frame(stream: str, index: int, count: int, payload: bytes | memoryview) -> bytes:
    header = json.dumps({"stream": stream, "index": index, "count": count}, separators=(",", ":")).encode()
    return b"".join((struct.pack(">I", len(header)), header, payload))


def chunk_frames(stream: str, data: bytes | bytearray | memoryview, chunk_bytes: int = DEFAULT_CHUNK_BYTES
                 ) -> Iterator[bytes]:
    view = memoryview(data).cast("B")
    count = max(1, -(-len(data) // chunk_bytes))
    for index in range(count):
        yield encode_frame(stream, index, count, view[index * chunk_bytes : (index + 1) * chunk_bytes])


def decode_frame(frame: bytes) -> Chunk:
    if len(frame) < 4:
        raise RequestError(ErrorCode.BAD_FRAME, "A binary frame is shorter than its 4-byte header length.")
    (size,) = struct.unpack_from(">I", frame)
    if size > _MAX_HEADER or 4 + size > len(frame):
        raise RequestError(ErrorCode.BAD_FRAME, "A binary frame's header length is out of range.")
    try:
        header = json.loads(frame[4 : 4 + size])
        stream, index, count = header["stream"], header["index"], header["count"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RequestError(ErrorCode.BAD_FRAME, "A binary frame's header is not the protocol's JSON.") from exc
    if not (isinstance(stream, str) and stream and _is_int(index) and _is_int(count)):
        raise RequestError(ErrorCode.BAD_FRAME, "A binary frame's header has fields of the wrong type.")
    if not 0 <= index < count:
        raise RequestError(ErrorCode.BAD_FRAME, f"Chunk index {index} is outside 0..{count - 1}.")
    return Chunk(stream, index, count, memoryview(frame)[4 + size :])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class StreamAssembler:
    """Collects the chunks of one announced stream, in order, up to its declared size.

    The buffer grows as chunks arrive and is never reserved from the announced size:
    an announcement costs nothing until its bytes come. With `hashed`, the bytes are
    hashed as they pass (no second pass); with `keep=False` they are only hashed.
    """

    def __init__(self, stream: str, expected_bytes: int, *, keep: bool = True, hashed: bool = False) -> None:
        self.stream = stream
        self.expected_bytes = expected_bytes
        self._buffer = bytearray()
        self._keep = keep
        self._hash = hashlib.sha256() if hashed or not keep else None
        self._filled = 0
        self._next_index = 0
        self._count: int | None = None
        self.complete = False

    def add(self, chunk: Chunk) -> None:
        if chunk.stream != self.stream:
            raise RequestError(ErrorCode.UNKNOWN_STREAM, f"Chunk of '{chunk.stream}' given to '{self.stream}'.")
        if self._count is not None and chunk.count != self._count:
            raise RequestError(ErrorCode.BAD_FRAME, f"Stream '{self.stream}' changed its chunk count mid-stream.")
        self._count = chunk.count
        if chunk.index != self._next_index:
            raise RequestError(
                ErrorCode.CHUNK_OUT_OF_ORDER,
                f"Stream '{self.stream}' expected chunk {self._next_index} but got {chunk.index}.",
            )
        end = self._filled + len(chunk.payload)
        if end > self.expected_bytes:
            raise RequestError(
                ErrorCode.UPLOAD_SIZE_MISMATCH,
                f"Stream '{self.stream}' sent more than the {self.expected_bytes} bytes it announced.",
            )
        if self._keep:
            self._buffer += chunk.payload
        if self._hash is not None:
            self._hash.update(chunk.payload)
        self._filled = end
        self._next_index += 1
        if self._next_index == chunk.count:
            if self._filled != self.expected_bytes:
                raise RequestError(
                    ErrorCode.UPLOAD_SIZE_MISMATCH,
                    f"Stream '{self.stream}' ended after {self._filled} bytes; "
                    f"{self.expected_bytes} were announced.",
                )
            self.complete = True

    def data(self) -> bytearray:
        """The assembled bytes, without a copy; callers must not keep adding chunks."""
        return self._buffer

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes so far (only for assemblers made with `hashed` or `keep=False`)."""
        assert self._hash is not None, "this stream is not hashed"
        return self._hash.hexdigest()
