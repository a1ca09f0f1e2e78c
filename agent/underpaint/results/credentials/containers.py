"""Metadata put into (and read from) an encoded file without touching its pixels.

Each format has its own place for XMP and for the webui parameters text:
    PNG   iTXt `XML:com.adobe.xmp`, and tEXt (iTXt if not Latin-1) `parameters`, after IHDR
    JPEG  APP1 XMP and APP1 Exif (UserComment in the Exif IFD), after SOI / JFIF
    WebP  `XMP ` and `EXIF` chunks, flagged in VP8X (made when the file is a simple one)
    TIFF  tag 700 in a copy of IFD 0 appended to the file (the old one is left unreferenced)
    PSD   image resource 1060
Existing XMP is merged (see xmp.py) and an existing Exif block keeps its other tags, so a
deliverable that kept its metadata keeps it.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image

from underpaint.core import ErrorCode
from underpaint.results.credentials.keys import CredentialsError
from underpaint.results.credentials.parameters import EXIF_IFD, PARAMETERS_KEY, USER_COMMENT, user_comment

XmpEdit = Callable[[bytes | None], bytes]
"""Given a file's XMP packet (None when it has none), the packet it should hold."""

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEY = b"XML:com.adobe.xmp"
_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_EXIF = b"Exif\x00\x00"
_TIFF_XMP_TAG = 700
_PSD_XMP_RESOURCE = 1060
_WEBP_FLAGS = {b"ICCP": 0x20, b"EXIF": 0x08, b"XMP ": 0x04, b"ANIM": 0x02}


def embed(data: bytes, fmt: str, xmp: XmpEdit | None, parameters: str | None) -> bytes:
    """`data` (a `fmt` file) with its XMP replaced by `xmp(old)` and the parameters text added."""
    try:
        if fmt == "png":
            return _png(data, xmp, parameters)
        if fmt == "jpeg":
            return _jpeg(data, xmp, parameters)
        if fmt == "webp":
            return _webp(data, xmp, parameters)
        if fmt == "tiff":
            return _tiff(data, xmp)
        if fmt == "psd":
            return _psd(data, xmp)
    except (struct.error, IndexError, ValueError) as error:
        if isinstance(error, CredentialsError):
            raise
        raise CredentialsError(ErrorCode.BAD_IMAGE, f"not a readable {fmt.upper()} file ({error})") from None
    raise CredentialsError(ErrorCode.BAD_IMAGE, f"cannot put metadata into a {fmt!r} file")


def find_xmp(data: bytes, fmt: str) -> bytes | None:
    """The XMP packet of a `fmt` file, or None."""
    found: list[bytes] = []

    # Read through `embed`, whose walk over the file already finds the packet, keeping it as it is.
    def keep(old: bytes | None) -> bytes:
        if old is not None:
            found.append(old)
        return old or b""

    if fmt in ("png", "jpeg", "webp", "tiff", "psd"):
        embed(data, fmt, keep, None)
    return found[0] if found else None


def _png(data: bytes, xmp: XmpEdit | None, parameters: str | None) -> bytes:
    if not data.startswith(PNG_MAGIC):
        raise ValueError("no PNG signature")
    chunks: list[tuple[bytes, bytes]] = []
    old_xmp = None
    at = len(PNG_MAGIC)
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if len(body) != length:
            raise ValueError("truncated chunk")
        at += 12 + length
        if kind == b"iTXt" and body.startswith(PNG_XMP_KEY + b"\x00"):
            old_xmp = _itxt_text(body)
            continue
        if parameters is not None and kind in (b"tEXt", b"iTXt") and body.startswith(PARAMETERS_KEY.encode() + b"\x00"):
            continue
        chunks.append((kind, body))
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("no IHDR or no IEND")
    added = []
    if xmp is not None:
        # iTXt: keyword, no compression, empty language tag and translated keyword, the packet.
        added.append((b"iTXt", PNG_XMP_KEY + b"\x00\x00\x00\x00\x00" + xmp(old_xmp)))
    if parameters is not None:
        added.append(_png_text(PARAMETERS_KEY, parameters))
    out = [PNG_MAGIC]
    for kind, body in chunks[:1] + added + chunks[1:]:
        out.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def _itxt_text(body: bytes) -> bytes:
    """The text of an iTXt chunk: keyword, compression flag and method, language, translated keyword, text."""
    rest = body.split(b"\x00", 1)[1]
    compressed, rest = rest[0], rest[2:]
    text = rest.split(b"\x00", 2)[2]
    return zlib.decompress(text) if compressed else text


def _png_text(key: str, text: str) -> tuple[bytes, bytes]:
    try:
        return b"tEXt", key.encode() + b"\x00" + text.encode("latin-1")
    except UnicodeEncodeError:
        return b"iTXt", key.encode() + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")


def _jpeg(data: bytes, xmp: XmpEdit | None, parameters: str | None) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no JPEG start marker")
    segments: list[bytes] = []
    old_xmp = old_exif = None
    at = 2
    while True:
        while data[at] == 0xFF and data[at + 1] == 0xFF:  # fill bytes may pad a marker
            at += 1
        if data[at] != 0xFF:
            raise ValueError(f"no marker at byte {at}")
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, copied as it is
            break
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        segment = data[at:at + 2 + length]
        payload = segment[4:]
        at += 2 + length
        if marker == 0xE1 and payload.startswith(_JPEG_XMP):
            old_xmp = payload[len(_JPEG_XMP):]
        elif marker == 0xE1 and payload.startswith(_JPEG_EXIF) and parameters is not None:
            old_exif = payload
        else:
            segments.append(segment)
    added = []
    if parameters is not None:
        added.append(_jpeg_segment(0xE1, _exif_with_comment(old_exif, parameters)))
    if xmp is not None:
        added.append(_jpeg_segment(0xE1, _JPEG_XMP + xmp(old_xmp)))
    elif old_xmp is not None:
        added.append(_jpeg_segment(0xE1, _JPEG_XMP + old_xmp))
    first = 1 if segments and segments[0][1] == 0xE0 else 0  # JFIF's APP0 must stay first
    return b"\xff\xd8" + b"".join(segments[:first] + added + segments[first:]) + data[at:]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > 65533:
        raise CredentialsError(ErrorCode.BAD_IMAGE, "metadata too large for one JPEG segment")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _exif_with_comment(old: bytes | None, parameters: str) -> bytes:
    exif = Image.Exif()
    if old is not None:
        exif.load(old)
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = user_comment(parameters)
    return exif.tobytes()


def _webp(data: bytes, xmp: XmpEdit | None, parameters: str | None) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    chunks: list[tuple[bytes, bytes]] = []
    at = 12
    while at + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if len(body) != length:
            raise ValueError("truncated chunk")
        chunks.append((kind, body))
        at += 8 + length + (length & 1)
    old = dict(chunks)
    if b"VP8X" not in old:
        chunks.insert(0, (b"VP8X", _vp8x(data)))
    exif = old.get(b"EXIF")
    chunks = [(k, b) for k, b in chunks if k not in (b"XMP ", b"EXIF")]
    if parameters is not None:
        exif = _exif_with_comment(_JPEG_EXIF + exif if exif else None, parameters)[len(_JPEG_EXIF):]
    if exif is not None:
        chunks.append((b"EXIF", exif))
    packet = xmp(old.get(b"XMP ")) if xmp is not None else old.get(b"XMP ")
    if packet is not None:
        chunks.append((b"XMP ", packet))
    kinds = {kind for kind, _ in chunks}
    header = bytearray(chunks[0][1])
    header[0] &= ~sum(_WEBP_FLAGS.values()) & 0xFF
    header[0] |= sum(flag for kind, flag in _WEBP_FLAGS.items() if kind in kinds)
    chunks[0] = (b"VP8X", bytes(header))
    body = b"".join(struct.pack("<4sI", k, len(b)) + b + b"\x00" * (len(b) & 1) for k, b in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _vp8x(data: bytes) -> bytes:
    """The VP8X header a simple (VP8 or VP8L only) WebP needs before it can carry metadata."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        alpha = 0x10 if image.mode in ("RGBA", "LA") else 0
    return bytes([alpha, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")


def _tiff(data: bytes, xmp: XmpEdit | None) -> bytes:
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(data[:4])
    if order is None:
        raise ValueError("not a classic TIFF header (BigTIFF is not supported)")
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    entries = [data[ifd + 2 + 12 * i:ifd + 14 + 12 * i] for i in range(count)]
    (following,) = struct.unpack(order + "I", data[ifd + 2 + 12 * count:ifd + 6 + 12 * count])
    old_xmp = None
    kept = []
    for entry in entries:
        tag, _type, items, offset = struct.unpack(order + "HHII", entry)
        if tag == _TIFF_XMP_TAG:
            old_xmp = data[offset:offset + items] if items > 4 else entry[8:8 + items]
        else:
            kept.append(entry)
    if xmp is None:
        return data
    packet = xmp(old_xmp)
    out = bytearray(data)
    out += b"\x00" * (len(out) & 1)
    packet_at = len(out)
    out += packet + b"\x00" * (len(packet) & 1)
    new_entries = sorted([*kept, struct.pack(order + "HHII", _TIFF_XMP_TAG, 1, len(packet), packet_at)],
                         key=lambda entry: struct.unpack(order + "H", entry[:2])[0])
    ifd_at = len(out)
    out += struct.pack(order + "H", len(new_entries)) + b"".join(new_entries) + struct.pack(order + "I", following)
    if len(out) >= 1 << 32:
        raise CredentialsError(ErrorCode.BAD_IMAGE, "TIFF too large for its 32-bit offsets")
    out[4:8] = struct.pack(order + "I", ifd_at)
    return bytes(out)


def _psd(data: bytes, xmp: XmpEdit | None) -> bytes:
    if data[:4] != b"8BPS":
        raise ValueError("no 8BPS signature")
    (mode_length,) = struct.unpack(">I", data[26:30])
    start = 30 + mode_length
    (length,) = struct.unpack(">I", data[start:start + 4])
    blocks: list[tuple[int, bytes, bytes]] = []
    at, end = start + 4, start + 4 + length
    while at < end:
        if data[at:at + 4] != b"8BIM":
            raise ValueError("broken image resource block")
        (key,) = struct.unpack(">H", data[at + 4:at + 6])
        name_length = data[at + 6] + 1
        name = data[at + 6:at + 6 + name_length + (name_length & 1)]
        at += 6 + len(name)
        (size,) = struct.unpack(">I", data[at:at + 4])
        blocks.append((key, name, data[at + 4:at + 4 + size]))
        at += 4 + size + (size & 1)
    old = next((body for key, _, body in blocks if key == _PSD_XMP_RESOURCE), None)
    if xmp is None:
        return data
    packet = xmp(old)
    blocks = [block for block in blocks if block[0] != _PSD_XMP_RESOURCE] + [(_PSD_XMP_RESOURCE, b"\x00\x00", packet)]
    section = b"".join(b"8BIM" + struct.pack(">H", key) + name + struct.pack(">I", len(body)) + body
                       + b"\x00" * (len(body) & 1) for key, name, body in blocks)
    return data[:start] + struct.pack(">I", len(section)) + section + data[end:]
