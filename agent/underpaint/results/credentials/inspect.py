"""What any image file says of its making: the IPTC disclosure, the C2PA manifest and whether it
validates, and the webui parameters text; read back for `underpaint verify`."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from underpaint.core import ErrorCode
from underpaint.results.credentials.containers import PNG_MAGIC, find_xmp
from underpaint.results.credentials.keys import CredentialsError
from underpaint.results.credentials.manifest import ManifestReport, read
from underpaint.results.credentials.parameters import EXIF_IFD, PARAMETERS_KEY, USER_COMMENT, user_comment_text
from underpaint.results.credentials.xmp import source_type_of


@dataclass(frozen=True)
class FileCredentials:
    fmt: str
    source_type: str | None
    manifest: ManifestReport
    parameters: str | None


def inspect_file(data: bytes, trust_anchors: bytes | None, sidecar: bytes | None = None) -> FileCredentials:
    """The credentials of the file `data`, with `sidecar` the manifest store found beside it (NAME.c2pa).
    Raises CredentialsError (code bad_image) for bytes that are not a complete image in a format
    Underpaint writes."""
    fmt = sniff_format(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            parameters = _parameters(image, fmt)
            avif_xmp = image.info.get("xmp") if fmt == "avif" else None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise CredentialsError(ErrorCode.BAD_IMAGE, f"The {fmt.upper()} file is damaged or cut short ({error}).") \
            from None
    packet = avif_xmp if isinstance(avif_xmp, bytes) else find_xmp(data, fmt)
    source_type = source_type_of(packet) if packet else None
    return FileCredentials(fmt, source_type, read(data, fmt, trust_anchors, sidecar), parameters)


def sniff_format(data: bytes) -> str:
    """The format of `data` from its first bytes, one of those Underpaint writes."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"8BPS":
        return "psd"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "avif"
    raise CredentialsError(ErrorCode.BAD_IMAGE, "Not an image file Underpaint reads credentials of "
                                                "(PNG, JPEG, WebP, TIFF, PSD or AVIF).")


def _parameters(image: Image.Image, fmt: str) -> str | None:
    if fmt == "png":
        text = image.info.get(PARAMETERS_KEY)
        return text if isinstance(text, str) else None
    if fmt in ("jpeg", "webp"):
        return user_comment_text(image.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT))
    return None
