"""A submit message as a JobRequest, and its uploaded streams as pixels.

What belongs to the wire alone (pixel formats, announced byte counts, stream
names) is checked here; everything about the job itself is jobs.intake's.
A submit_set is handled as the submits of its members (`SubmitSet.members`),
whose shared reference streams are received and decoded once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from underpaint.core import ErrorCode, RequestError, Size
from underpaint.imaging.codec import CHANNELS, decode_pixels
from underpaint.jobs.intake import JobRequest
from underpaint.wire.messages import Blob, Submit

_PNG_OVERHEAD = 1 << 16
# Stream ids are the sender's business, not part of what a job id stands for.
_STREAM_NAMES = {"image": {"stream"}, "mask": {"stream"}, "controls": {"__all__": {"stream"}},
                 "references": {"__all__": {"stream"}}}


def _size(blob: Blob) -> Size:
    return Size(width=blob.width, height=blob.height)


def job_request(submit: Submit) -> JobRequest:
    return JobRequest(submit.job_id, submit.mode, submit.params, submit.document, submit.region,
                      None if submit.image is None else _size(submit.image),
                      None if submit.mask is None else _size(submit.mask),
                      tuple(None if blob is None else _size(blob) for blob in submit.controls),
                      tuple(_size(blob) for blob in submit.references), submit.set_id)


def own_blobs(submit: Submit) -> list[Blob]:
    """The streams of a submit's own pixels, in the order they follow it: image, mask, then each sent control."""
    return [blob for blob in (submit.image, submit.mask, *submit.controls) if blob is not None]


def blobs(submit: Submit) -> list[Blob]:
    """Every stream a submit's job needs: its own, then its reference images."""
    return [*own_blobs(submit), *submit.references]


def announced(submits: Sequence[Submit]) -> list[Blob]:
    """The streams that follow one submit, or a set's members (each target's own, then the references they
    share, once), in the order they are sent."""
    return [*(blob for submit in submits for blob in own_blobs(submit)), *submits[0].references]


def request_digest(submit: Submit) -> str:
    """Identifies a request apart from its pixels (its set id included)."""
    body = submit.model_dump(mode="json", exclude=_STREAM_NAMES)  # type: ignore[arg-type]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def job_digest(request: str, pixels: Iterable[str]) -> str:
    """What a job id stands for: the request's digest, then each of its streams' (`blobs` order).

    The request part comes first so that a resubmit with other parameters is refused
    before its upload; the same parameters with other pixels only once the bytes are in.
    """
    return ":".join((request, *pixels))


def request_part(digest: str) -> str:
    return digest.partition(":")[0]


def check_streams(streams: Sequence[Blob], job_id: str | None) -> None:
    names = [blob.stream for blob in streams]
    if len(set(names)) != len(names):
        raise RequestError(ErrorCode.INVALID_MESSAGE, "Each image, mask, control and reference needs a stream of "
                                                      "its own.", job_id)


def check_blobs(submit: Submit) -> None:
    """Refuse uploads whose announced format or byte count cannot be the image they claim to be."""
    named = [("image", submit.image, 4), ("mask", submit.mask, 1),
             *((f"control {index + 1}'s image", blob, 4) for index, blob in enumerate(submit.controls)),
             *((f"reference image {index + 1}", blob, 4) for index, blob in enumerate(submit.references))]
    for name, blob, channels in named:
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


@dataclass(frozen=True, eq=False)
class JobPixels:
    """One job's decoded uploads: RGBA8 image, Gray8 mask, an RGBA8 image per control (None for one
    derived from the source) and per reference, with notes on lossy conversions."""

    image: np.ndarray | None
    mask: np.ndarray | None
    controls: tuple[np.ndarray | None, ...]
    references: tuple[np.ndarray, ...]
    notes: tuple[str, ...]


def decode_uploads(submits: Sequence[Submit], uploads: Mapping[str, bytes | bytearray]) -> list[JobPixels]:
    """Each submit's pixels from its streams; a stream several submits share is decoded once."""
    decoded: dict[str, tuple[np.ndarray, list[str]]] = {}

    def pixels(submit: Submit, blob: Blob, channels: int, name: str, notes: list[str]) -> np.ndarray:
        if blob.stream not in decoded:
            try:
                decoded[blob.stream] = decode_pixels(uploads[blob.stream], blob.format, blob.width, blob.height,
                                                     channels)
            except RequestError as exc:
                message = exc.message if name in ("image", "mask") else f"The {name}: {exc.message}"
                raise RequestError(exc.code, message, submit.job_id) from exc
        array, found = decoded[blob.stream]
        notes += found
        return array

    jobs = []
    for submit in submits:
        notes: list[str] = []
        image = None if submit.image is None else pixels(submit, submit.image, 4, "image", notes)
        mask = None if submit.mask is None else pixels(submit, submit.mask, 1, "mask", notes)
        controls = tuple(None if blob is None else pixels(submit, blob, 4, f"control {index + 1}'s image", notes)
                         for index, blob in enumerate(submit.controls))
        references = tuple(pixels(submit, blob, 4, f"reference image {index + 1}", notes)
                           for index, blob in enumerate(submit.references))
        jobs.append(JobPixels(image, mask, controls, references, tuple(notes)))
    return jobs
