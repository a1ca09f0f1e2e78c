"""Turning a submitted request into a JobSpec, refusing bad input early.

Every front door goes through here: `check_request` runs before any pixels
are uploaded (so a doomed upload is never accepted), `build_spec` after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from underpaint.engines.base import Engine, EngineCapabilities, capabilities_for
from underpaint.imaging.canvas import check_expand
from underpaint.imaging.codec import CHANNELS, decode_pixels
from underpaint.jobs.spec import JobSpec, Mode, Params, Rect, Size
from underpaint.wire.errors import ErrorCode, ProtocolError
from underpaint.wire.messages import Blob, Submit

NEEDS_SOURCE = frozenset({Mode.FILL, Mode.REMOVE, Mode.EXPAND, Mode.REFINE})
NEEDS_MASK = frozenset({Mode.FILL, Mode.REMOVE})
_PNG_OVERHEAD = 1 << 16


@dataclass(frozen=True)
class IntakeLimits:
    max_pixels: int
    max_variants: int


def resolve_engine(params: Params, engines: Mapping[str, Engine], default_engine: str) -> str:
    name = params.engine or default_engine
    if name not in engines:
        raise ProtocolError(ErrorCode.UNKNOWN_ENGINE, f"No engine named '{name}'; this agent has {sorted(engines)}.")
    return name


def check_request(
    submit: Submit, limits: IntakeLimits, engines: Mapping[str, Engine], default_engine: str
) -> None:
    """Everything that can be refused from the request alone."""
    job = submit.job_id
    region = submit.region
    engine = engines[resolve_engine(submit.params, engines, default_engine)]
    check_mode(submit.mode, capabilities_for(engine, submit.params.model), job)
    check_region(region, submit.document, job)
    if region.area > limits.max_pixels:
        raise ProtocolError(
            ErrorCode.TOO_MANY_PIXELS,
            f"The region has {region.area} pixels; this agent takes at most {limits.max_pixels}.",
            job,
        )
    if submit.params.variants > limits.max_variants:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"At most {limits.max_variants} variants per job.", job
        )
    if submit.mode in NEEDS_SOURCE and submit.image is None:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"Mode '{submit.mode}' needs an image.", job)
    if submit.mode in NEEDS_MASK and submit.mask is None:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"Mode '{submit.mode}' needs a mask.", job)
    if submit.mode is Mode.EXPAND:
        grown = check_expand(submit.document, region, submit.params.expand, job)
        if grown.area > limits.max_pixels:
            raise ProtocolError(
                ErrorCode.TOO_MANY_PIXELS,
                f"The expanded region has {grown.area} pixels; this agent takes at most {limits.max_pixels}.",
                job,
            )
    for name, blob, channels in (("image", submit.image, 4), ("mask", submit.mask, 1)):
        if blob is not None:
            _check_blob(job, name, blob, region, channels)
    if submit.image and submit.mask and submit.image.stream == submit.mask.stream:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "The image and the mask need different streams.", job)


def check_mode(mode: Mode, caps: EngineCapabilities, job_id: str) -> None:
    if mode not in caps.modes:
        supported = ", ".join(sorted(caps.modes))
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_MODE, f"The {caps.name} engine cannot do '{mode}'; it supports {supported}.", job_id
        )


def check_region(region: Rect, document: Size, job_id: str) -> None:
    if region.area == 0:
        raise ProtocolError(ErrorCode.BAD_REGION, "The region has zero area.", job_id)
    if region.intersect(Rect(x=0, y=0, width=document.width, height=document.height)) != region:
        raise ProtocolError(
            ErrorCode.BAD_REGION,
            f"The region {region.width}x{region.height} at ({region.x}, {region.y}) lies outside "
            f"the {document.width}x{document.height} document.",
            job_id,
        )


def _check_blob(job: str, name: str, blob: Blob, region: Rect, channels: int) -> None:
    if (blob.width, blob.height) != (region.width, region.height):
        raise ProtocolError(
            ErrorCode.SIZE_MISMATCH,
            f"The {name} is {blob.width}x{blob.height} but the region is {region.width}x{region.height}.",
            job,
        )
    if blob.format == "png":
        if blob.bytes > blob.width * blob.height * 8 + _PNG_OVERHEAD:
            raise ProtocolError(ErrorCode.UPLOAD_SIZE_MISMATCH, f"The {name} PNG is implausibly large.", job)
        return
    if CHANNELS[blob.format] != channels:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"The {name} cannot be sent as {blob.format}.", job)
    expected = blob.width * blob.height * channels
    if blob.bytes != expected:
        raise ProtocolError(
            ErrorCode.UPLOAD_SIZE_MISMATCH,
            f"The {name} as {blob.format} at {blob.width}x{blob.height} is {expected} bytes, "
            f"not the {blob.bytes} announced.",
            job,
        )


def build_spec(
    submit: Submit,
    uploads: Mapping[str, bytes | bytearray],
    engine_name: str,
    source: str,
    client: str,
) -> JobSpec:
    """Decode the uploaded streams into a JobSpec; `check_request` must have passed."""
    notes: list[str] = []
    image = mask = None
    try:
        if submit.image is not None:
            image, found = decode_pixels(
                uploads[submit.image.stream], submit.image.format, submit.image.width, submit.image.height, 4
            )
            notes += found
        if submit.mask is not None:
            mask, found = decode_pixels(
                uploads[submit.mask.stream], submit.mask.format, submit.mask.width, submit.mask.height, 1
            )
            notes += found
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, submit.job_id) from exc
    return spec_from_arrays(
        submit.job_id, submit.mode, submit.params.model_copy(update={"engine": engine_name}),
        submit.document, submit.region, image, mask, source, client, notes,
    )


def spec_from_arrays(
    job_id: str,
    mode: Mode,
    params: Params,
    document: Size,
    region: Rect,
    image: np.ndarray | None,
    mask: np.ndarray | None,
    source: str,
    client: str,
    notes: list[str] | None = None,
) -> JobSpec:
    if mode in NEEDS_MASK and (mask is None or not mask.any()):
        raise ProtocolError(ErrorCode.EMPTY_MASK, "The mask selects nothing: every pixel is 0.", job_id)
    return JobSpec(
        job_id=job_id, mode=mode, params=params, document=document, region=region,
        image=image, mask=mask, source=source, client=client, input_warnings=tuple(notes or ()),
    )
