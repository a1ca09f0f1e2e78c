"""The one set of request checks every front door runs before a job is queued.

The websocket, the hot folder and the Python API each describe what they
received as a JobRequest and hand it to the same Intake: `check` runs before
any pixels are decoded (so the websocket never accepts a doomed upload),
`spec` after, and a job that names an unknown engine, model, scheduler or
LoRA (or a LoRA its model cannot take) is refused here with its own code
rather than queued to fail later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.spec import LoraRef
from underpaint.engines.base import Engine
from underpaint.imaging.canvas import check_expand

NEEDS_SOURCE = frozenset({Mode.FILL, Mode.REMOVE, Mode.EXPAND, Mode.REFINE})
NEEDS_MASK = frozenset({Mode.FILL, Mode.REMOVE})


@dataclass(frozen=True)
class JobRequest:
    """A job as a front door received it, before its pixels are decoded: `image` and `mask`
    are the sizes of what comes with it (None when it comes without)."""

    job_id: str
    mode: Mode
    params: Params
    document: Size
    region: Rect
    image: Size | None = None
    mask: Size | None = None


@dataclass(frozen=True)
class Intake:
    engines: Mapping[str, Engine]
    default_engine: str
    max_pixels: int
    max_variants: int

    def resolve(self, params: Params, job_id: str | None = None) -> tuple[str, EngineCapabilities]:
        """The engine a job with `params` runs on, and its capabilities for the job's model."""
        name = params.engine or self.default_engine
        if name not in self.engines:
            raise RequestError(ErrorCode.UNKNOWN_ENGINE,
                               f"No engine named '{name}'; this agent has {sorted(self.engines)}.", job_id)
        caps = self.engines[name].capabilities_for(params.model)
        if params.model is not None and params.model not in caps.models:
            known = ", ".join(caps.models) or "none"
            raise RequestError(ErrorCode.UNKNOWN_MODEL,
                               f"The {name} engine has no model '{params.model}' (it has: {known}); "
                               "add one with `underpaint models add NAME PATH`.", job_id)
        if caps.schedulers and params.scheduler not in caps.schedulers:
            raise RequestError(ErrorCode.UNKNOWN_SCHEDULER,
                               f"The {name} engine has no scheduler '{params.scheduler}'; choose one of "
                               f"{', '.join(caps.schedulers)}.", job_id)
        return name, caps

    def check(self, request: JobRequest) -> str:
        """Everything that can be refused from the request alone; returns the engine name."""
        return self._checked(request)[0]

    def _checked(self, request: JobRequest) -> tuple[str, Params]:
        """The engine name, and the params with each LoRA's content hash pinned."""
        job = request.job_id
        name, caps = self.resolve(request.params, job)
        loras = pin_loras(self.engines[name], request.params, job)
        check_mode(request.mode, caps, job)
        check_region(request.region, request.document, job)
        self._check_pixels(request.region, "region", job)
        if request.params.variants > self.max_variants:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"At most {self.max_variants} variants per job.", job)
        if request.mode in NEEDS_SOURCE and request.image is None:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"Mode '{request.mode}' needs an image.", job)
        if request.mode in NEEDS_MASK and request.mask is None:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"Mode '{request.mode}' needs a mask.", job)
        if request.mode is Mode.EXPAND:
            grown = check_expand(request.document, request.region, request.params.expand, job)
            self._check_pixels(grown, "expanded region", job)
        for what, size in (("image", request.image), ("mask", request.mask)):
            if size is not None and (size.width, size.height) != (request.region.width, request.region.height):
                raise RequestError(ErrorCode.SIZE_MISMATCH,
                                   f"The {what} is {size.width}x{size.height} but the region is "
                                   f"{request.region.width}x{request.region.height}.", job)
        return name, request.params.model_copy(update={"engine": name, "loras": loras})

    def spec(self, request: JobRequest, image: np.ndarray | None, mask: np.ndarray | None, source: str,
             client: str, notes: Sequence[str] = ()) -> JobSpec:
        """The JobSpec for `request` with its decoded pixels, checked like `check` does."""
        _, params = self._checked(request)
        if image is not None and (image.dtype != np.uint8 or image.shape[2:] != (4,)):
            raise RequestError(ErrorCode.BAD_IMAGE, "The image must be RGBA8.", request.job_id)
        if mask is not None and (mask.dtype != np.uint8 or mask.ndim != 2):
            raise RequestError(ErrorCode.BAD_IMAGE, "The mask must be Gray8.", request.job_id)
        sizes = [(a.shape[1], a.shape[0]) for a in (image, mask) if a is not None]
        announced = [(s.width, s.height) for s in (request.image, request.mask) if s is not None]
        if sizes != announced:
            raise RequestError(ErrorCode.SIZE_MISMATCH, "The decoded pixels are not the sizes announced.",
                               request.job_id)
        if request.mode in NEEDS_MASK and (mask is None or not mask.any()):
            raise RequestError(ErrorCode.EMPTY_MASK, "The mask selects nothing: every pixel is 0.", request.job_id)
        return JobSpec(
            job_id=request.job_id, mode=request.mode, params=params,
            document=request.document, region=request.region, image=image, mask=mask, source=source,
            client=client, input_warnings=tuple(notes),
        )

    def _check_pixels(self, rect: Rect, what: str, job_id: str) -> None:
        if rect.area > self.max_pixels:
            raise RequestError(ErrorCode.TOO_MANY_PIXELS,
                               f"The {what} has {rect.area} pixels; this agent takes at most {self.max_pixels}.",
                               job_id)


def pin_loras(engine: Engine, params: Params, job_id: str) -> tuple[LoraRef, ...]:
    """The job's LoRAs with their content hashes, or the engine's refusal as this job's (also run by the
    pipeline, for JobSpecs built in code)."""
    try:
        return engine.pin_loras(params.model, params.loras)
    except RequestError as exc:
        raise RequestError(exc.code, exc.message, job_id) from None


def check_mode(mode: Mode, caps: EngineCapabilities, job_id: str) -> None:
    """Refuse a mode the engine cannot do (also run by the pipeline, for JobSpecs built in code)."""
    if mode not in caps.modes:
        supported = ", ".join(sorted(caps.modes))
        raise RequestError(ErrorCode.UNSUPPORTED_MODE,
                           f"The {caps.name} engine cannot do '{mode}'; it supports {supported}.", job_id)


def check_region(region: Rect, document: Size, job_id: str) -> None:
    """Refuse an empty region or one outside the document (also run by the pipeline)."""
    if region.area == 0:
        raise RequestError(ErrorCode.BAD_REGION, "The region has zero area.", job_id)
    if region.intersect(Rect(x=0, y=0, width=document.width, height=document.height)) != region:
        raise RequestError(
            ErrorCode.BAD_REGION,
            f"The region {region.width}x{region.height} at ({region.x}, {region.y}) lies outside "
            f"the {document.width}x{document.height} document.",
            job_id,
        )
