"""Binary frames: layout, chunking, reassembly and the documented example frames."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from underpaint.core import ErrorCode, RequestError
from underpaint.wire.frames import (
    DEFAULT_CHUNK_BYTES,
    Chunk,
    StreamAssembler,
    chunk_frames,
    decode_frame,
    encode_frame,
)
from underpaint.wire.messages import Blob

FRAMES = Path(__file__).resolve().parents[1] / "protocol" / "examples" / "frames"
HEADER_SCHEMA = FRAMES.parents[1] / "schemas" / "binary-frame-header.schema.json"


def _raw(header: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(header)) + header + payload


def _assemble(stream: str, frames: list[bytes], expected: int) -> bytes:
    assembler = StreamAssembler(stream, expected)
    for frame in frames:
        chunk = decode_frame(frame)
        assert chunk.stream == stream
        assembler.add(chunk)
    assert assembler.complete
    return assembler.data()


def test_encode_decode_round_trip() -> None:
    payload = bytes(range(256)) * 3
    frame = encode_frame("job-1/image", 2, 5, payload)
    (size,) = struct.unpack_from(">I", frame)
    assert json.loads(frame[4 : 4 + size]) == {"stream": "job-1/image", "index": 2, "count": 5}
    assert frame[4 + size :] == payload
    chunk = decode_frame(frame)
    assert (chunk.stream, chunk.index, chunk.count) == ("job-1/image", 2, 5)
    assert bytes(chunk.payload) == payload


def test_header_is_compact_and_non_ascii_stream_ids_survive() -> None:
    frame = encode_frame("ébauche/0/pixels", 0, 1, b"\x01")
    chunk = decode_frame(frame)
    assert chunk.stream == "ébauche/0/pixels"
    assert b" " not in frame[4 : 4 + struct.unpack_from(">I", frame)[0]]


def test_encode_accepts_memoryview() -> None:
    data = memoryview(b"abcdef")[2:5]
    assert bytes(decode_frame(encode_frame("s", 0, 1, data)).payload) == b"cde"


@pytest.mark.parametrize(
    ("size", "chunk_bytes", "expected_count"),
    [
        (0, 4, 1),  # an empty payload is still one (empty) chunk
        (1, 4, 1),
        (4, 4, 1),  # exactly one chunk
        (12, 4, 3),  # exact multiple: no trailing empty chunk
        (13, 4, 4),
        (3 * DEFAULT_CHUNK_BYTES + 17, DEFAULT_CHUNK_BYTES, 4),  # large, default ~1 MiB chunks
    ],
)
def test_chunking(size: int, chunk_bytes: int, expected_count: int) -> None:
    data = bytes(i % 251 for i in range(size))
    frames = list(chunk_frames("s", data, chunk_bytes))
    assert len(frames) == expected_count
    chunks = [decode_frame(f) for f in frames]
    assert [c.index for c in chunks] == list(range(expected_count))
    assert {c.count for c in chunks} == {expected_count}
    assert all(len(c.payload) <= chunk_bytes for c in chunks)
    assert all(len(c.payload) == chunk_bytes for c in chunks[:-1])
    assert b"".join(bytes(c.payload) for c in chunks) == data
    if size:
        assert _assemble("s", frames, size) == data


def test_default_chunk_size_is_one_mib() -> None:
    data = b"\x00" * (DEFAULT_CHUNK_BYTES + 1)
    sizes = [len(decode_frame(f).payload) for f in chunk_frames("s", data)]
    assert sizes == [DEFAULT_CHUNK_BYTES, 1]


def _chunk(index: int, count: int, payload: bytes, stream: str = "s") -> Chunk:
    return Chunk(stream, index, count, memoryview(payload))


def _code(excinfo: pytest.ExceptionInfo[RequestError]) -> ErrorCode:
    return excinfo.value.code


def test_assembler_rejects_out_of_order_and_repeated_chunks() -> None:
    assembler = StreamAssembler("s", 8)
    with pytest.raises(RequestError) as excinfo:
        assembler.add(_chunk(1, 2, b"abcd"))
    assert _code(excinfo) is ErrorCode.CHUNK_OUT_OF_ORDER
    assert not excinfo.value.retryable
    assembler = StreamAssembler("s", 8)
    assembler.add(_chunk(0, 2, b"abcd"))
    with pytest.raises(RequestError) as excinfo:
        assembler.add(_chunk(0, 2, b"abcd"))
    assert _code(excinfo) is ErrorCode.CHUNK_OUT_OF_ORDER
    assert not assembler.complete


def test_assembler_rejects_more_bytes_than_announced() -> None:
    assembler = StreamAssembler("s", 6)
    assembler.add(_chunk(0, 2, b"abcd"))
    with pytest.raises(RequestError) as excinfo:
        assembler.add(_chunk(1, 2, b"efg"))
    assert _code(excinfo) is ErrorCode.UPLOAD_SIZE_MISMATCH
    with pytest.raises(RequestError) as excinfo:
        StreamAssembler("s", 3).add(_chunk(0, 1, b"abcd"))
    assert _code(excinfo) is ErrorCode.UPLOAD_SIZE_MISMATCH


def test_assembler_rejects_short_final_chunk() -> None:
    assembler = StreamAssembler("s", 10)
    assembler.add(_chunk(0, 2, b"abcd"))
    with pytest.raises(RequestError) as excinfo:
        assembler.add(_chunk(1, 2, b"ef"))
    assert _code(excinfo) is ErrorCode.UPLOAD_SIZE_MISMATCH
    assert "10" in excinfo.value.message
    assert not assembler.complete


def test_assembler_completes_exactly() -> None:
    assembler = StreamAssembler("s", 6)
    assembler.add(_chunk(0, 2, b"abcd"))
    assert not assembler.complete
    assembler.add(_chunk(1, 2, b"ef"))
    assert assembler.complete
    assert assembler.data() == b"abcdef"


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00\x00\x01", id="shorter-than-length"),
        pytest.param(struct.pack(">I", 50) + b'{"stream":"s"}', id="length-past-end"),
        pytest.param(struct.pack(">I", 2000) + b"x" * 2100, id="header-too-long"),
        pytest.param(_raw(b"not json"), id="not-json"),
        pytest.param(_raw(b"\xff\xfe"), id="not-utf8"),
        pytest.param(_raw(b"[1, 2, 3]"), id="array-header"),
        pytest.param(_raw(b'{"stream":"s","index":0}'), id="missing-count"),
        pytest.param(_raw(b'{"index":0,"count":1}'), id="missing-stream"),
        pytest.param(_raw(b'{"stream":7,"index":0,"count":1}'), id="stream-not-string"),
        pytest.param(_raw(b'{"stream":"s","index":"0","count":1}'), id="index-not-int"),
        pytest.param(_raw(b'{"stream":"s","index":0.5,"count":1}'), id="index-float"),
        pytest.param(_raw(b'{"stream":"s","index":1,"count":1}'), id="index-equals-count"),
        pytest.param(_raw(b'{"stream":"s","index":-1,"count":1}'), id="negative-index"),
        pytest.param(_raw(b'{"stream":"s","index":0,"count":0}'), id="zero-count"),
    ],
)
def test_bad_headers_are_bad_frame(frame: bytes) -> None:
    with pytest.raises(RequestError) as excinfo:
        decode_frame(frame)
    assert _code(excinfo) is ErrorCode.BAD_FRAME


def _example(name: str) -> dict[str, Any]:
    data = json.loads((FRAMES / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_example_frames_decode_as_documented() -> None:
    validator = Draft202012Validator(json.loads(HEADER_SCHEMA.read_text(encoding="utf-8")))
    names = sorted(p.stem for p in FRAMES.glob("*.bin"))
    assert names and names == sorted(p.stem for p in FRAMES.glob("*.json"))
    for name in names:
        frame = (FRAMES / f"{name}.bin").read_bytes()
        doc = _example(name)
        assert frame.hex() == doc["frame_hex"]
        assert struct.unpack_from(">I", frame)[0] == doc["header_length"]
        validator.validate(doc["header"])
        chunk = decode_frame(frame)
        assert {"stream": chunk.stream, "index": chunk.index, "count": chunk.count} == doc["header"]
        assert bytes(chunk.payload).hex() == doc["payload_hex"]
        # The encoder writes byte-for-byte what the example shows (other implementations compare to it).
        assert encode_frame(chunk.stream, chunk.index, chunk.count, chunk.payload) == frame
        blob = Blob.model_validate(doc["blob"])
        assert blob.stream == chunk.stream


def test_example_image_frame_is_a_2x2_rgba8_image() -> None:
    doc = _example("image-rgba8-2x2")
    blob = Blob.model_validate(doc["blob"])
    data = _assemble(blob.stream, [(FRAMES / "image-rgba8-2x2.bin").read_bytes()], blob.bytes)
    assert blob.format == "rgba8" and len(data) == blob.width * blob.height * 4
    pixels = [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]
    assert pixels == [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (255, 255, 255, 128)]


def test_example_mask_chunks_reassemble() -> None:
    doc = _example("mask-gray8-3x2.chunk-0")
    blob = Blob.model_validate(doc["blob"])
    frames = [(FRAMES / f"mask-gray8-3x2.chunk-{i}.bin").read_bytes() for i in range(2)]
    data = _assemble(blob.stream, frames, blob.bytes)
    assert blob.format == "gray8" and data == bytes([0, 64, 128, 192, 255, 255])
    assert data == b"".join(bytes.fromhex(_example(f"mask-gray8-3x2.chunk-{i}")["payload_hex"]) for i in range(2))
    # Out of order is refused.
    with pytest.raises(RequestError) as excinfo:
        StreamAssembler(blob.stream, blob.bytes).add(decode_frame(frames[1]))
    assert _code(excinfo) is ErrorCode.CHUNK_OUT_OF_ORDER
