"""A submit message as a JobRequest, and its uploaded streams as pixels.

What belongs to the wire alone (pixel formats, announced byte counts, stream
names) is checked here; everything about the job itself is jobs.intake's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

import numpy as np

from underpaint.core import ErrorCode, RequestError, Size
from underpaint.imaging.codec import CHANNELS, decode_pixels
from underpaint.jobs.intake import JobRequest
from underpaint.wire.messages import Blob, Submit

_PNG_OVERHEAD = 1 << 16


def job_request(submit: Submit) -> JobRequest:
    def size(blob: Blob | None) -> Size | None:
        return None if blob is None else Size(width=blob.width, height=blob.height)

    return JobRequest(submit.job_id, submit.mode, submit.params, submit.document, submit.region,
                      size(submit.image), size(submit.mask))


def blobs(submit: Submit) -> list[Blob]:
    """The streams a submit announces, in the order they follow it (image, then mask)."""
    return [blob for blob in (submit.image, submit.mask) if blob is not None]


def request_digest(submit: Submit) -> str:
    """Identifies a request apart from its pixels; stream names are the sender's business."""
    body = submit.model_dump(mode="json", exclude={"image": {"stream"}, "mask": {"stream"}})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def job_digest(request: str, pixels: Iterable[str]) -> str:
    """What a job id stands for: the request's digest, then each stream's (`request:image:mask`).

    The request part comes first so that a resubmit with other parameters is refused
    before its upload; the same parameters with other pixels only once the bytes are in.
    """
    return ":".join((request, *pixels))


def request_part(digest: str) -> str:
    return digest.partition(":")[0]


def check_blobs(submit: Submit) -> None:
    """Refuse uploads whose announced format or byte count cannot be the image they claim to be."""
    if submit.image and submit.mask and submit.image.stream == submit.mask.stream:
        raise RequestError(ErrorCode.INVALID_MESSAGE, "The image and the mask need different streams.",
                           submit.job_id)
    for name, blob, channels in (("image", submit.image, 4), ("mask", submit.mask, 1)):
        if blob is not None:
            _check_blob(submit.job_id, name, blob, channels)


def _check_blob(job: str, name: str, blob: Blob, channels: int) -> None:
    if blob.format == "png":
        if blob.bytes > blob.width * blob.height * 8 + _PNG_OVERHEAD:
            raise RequestError(ErrorCode.UPLOAD_SIZE_MISMATCH, f"The {name} PNG is implausibly large.", job)
        return
    if CHANNELS[blob.format] != channels:
        raise RequestError(ErrorCode.INVALID_MESSAGE, f"The {name} cannot be sent as {blob.format}.", job)
    expected = blob.width * blob.height * channels
    if blob.bytes != expected:
        raise RequestError(
            ErrorCode.UPLOAD_SIZE_MISMATCH,
            f"The {name} as {blob.format} at {blob.width}x{blob.height} is {expected} bytes, "
            f"not the {blob.bytes} announced.",
            job,
        )


def decode_uploads(submit: Submit, uploads: Mapping[str, bytes | bytearray]
                   ) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """The image (RGBA8) and mask (Gray8) from their streams, with notes on lossy conversions."""
    notes: list[str] = []
    decoded: list[np.ndarray | None] = []
    for blob, channels in ((submit.image, 4), (submit.mask, 1)):
        if blob is None:
            decoded.append(None)
            continue
        try:
            array, found = decode_pixels(uploads[blob.stream], blob.format, blob.width, blob.height, channels)
        except RequestError as exc:
            raise RequestError(exc.code, exc.message, submit.job_id) from exc
        decoded.append(array)
        notes += found
    return decoded[0], decoded[1], notes
