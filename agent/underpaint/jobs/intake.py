"""The one set of request checks every front door runs before a job is queued.

The websocket, the hot folder and the Python API each describe what they
received as a JobRequest and hand it to the same Intake: `check` runs before
any pixels are decoded (so the websocket never accepts a doomed upload),
`spec` after, and a job that names an unknown engine, model, scheduler,
LoRA, ControlNet or IP-Adapter (or one its model cannot take) is refused
here with its own code rather than queued to fail later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.geometry import Margins
from underpaint.engines.base import Engine
from underpaint.engines.upscalers.book import Upscalers
from underpaint.imaging.canvas import check_expand, expanded_region
from underpaint.jobs.upscale_plan import check_upscale, check_upscale_pixels
from underpaint.results.recipe import pixels_sha256
from underpaint.styles import Resolved, StyleBook, resolve_style

NEEDS_SOURCE = frozenset({Mode.FILL, Mode.REMOVE, Mode.EXPAND, Mode.REFINE, Mode.UPSCALE, Mode.EDIT})
NEEDS_MASK = frozenset({Mode.FILL, Mode.REMOVE})
WHOLE_REGION_UNLESS_MASKED = frozenset({Mode.REFINE, Mode.EDIT})
"""Modes whose mask is optional: without one the whole region is reworked (or edited)."""


@dataclass(frozen=True)
class JobRequest:
    """A job as a front door received it, before its pixels are decoded: `image` and `mask`
    are the sizes of what comes with it (None when it comes without); `control_images` the
    size of each control's sent image (None for one derived from the source), in the order of
    `params.controls`; `reference_images` the size of each reference image."""

    job_id: str
    mode: Mode
    params: Params
    document: Size
    region: Rect
    image: Size | None = None
    mask: Size | None = None
    control_images: tuple[Size | None, ...] = ()
    reference_images: tuple[Size, ...] = ()
    set_id: str | None = None


@dataclass(frozen=True)
class Intake:
    """The checks, over the agent's engines; a job naming a style has it resolved from `styles` first, an
    upscale naming an upscaler has it checked and pinned in `upscalers`."""

    engines: Mapping[str, Engine]
    default_engine: str
    max_pixels: int
    max_variants: int
    styles: StyleBook | None = None
    upscalers: Upscalers | None = None

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
        return self._checked(self.styled(request)[0])[0]

    def styled(self, request: JobRequest) -> tuple[JobRequest, Resolved | None]:
        """`request` with the style it names resolved into its params, and the entries for the guides
        the style adds: none for its controls (derived from the source), the size of each of its
        reference images after the job's own. unknown_style when the agent has no such style."""
        name = request.params.style
        if name is None:
            return request, None
        if self.styles is None:
            raise RequestError(ErrorCode.UNKNOWN_STYLE, f"No style named '{name}': this agent keeps no styles.",
                               request.job_id)
        try:
            resolved = resolve_style(self.styles.get(name), request.params, request.mode)
        except RequestError as exc:
            raise RequestError(exc.code, exc.message, request.job_id) from None
        return replace(request, params=resolved.params,
                       control_images=(*request.control_images, *(None,) * resolved.controls),
                       reference_images=(*request.reference_images,
                                         *(reference.size for reference in resolved.references))), resolved

    def _checked(self, request: JobRequest) -> tuple[str, Params]:
        """The engine name, and the params with each LoRA's content hash pinned."""
        job = request.job_id
        name, caps = self.resolve(request.params, job)
        params = pin(self.engines[name], request.params, job)
        if request.mode is Mode.UPSCALE:
            # An upscale is the agent's own work; the engine only refines, when asked to.
            check_upscale_pixels(check_upscale(params, request.region, caps, job), self.max_pixels, job)
            params = self._pin_upscaler(params, job)
        else:
            check_mode(request.mode, caps, job)
        check_region(request.region, request.document, job)
        self._check_pixels(request.region, "region", job)
        if request.params.variants > self.max_variants:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"At most {self.max_variants} variants per job.", job)
        if request.mode in NEEDS_SOURCE and request.image is None:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"Mode '{request.mode}' needs an image.", job)
        if request.mode in NEEDS_MASK and request.mask is None:
            raise RequestError(ErrorCode.INVALID_MESSAGE, f"Mode '{request.mode}' needs a mask.", job)
        check_instruction(request.mode, params, job)
        if request.mode is Mode.EXPAND:
            grown = check_expand(request.document, request.region, request.params.expand, job)
            self._check_pixels(grown, "expanded region", job)
        for what, size in (("image", request.image), ("mask", request.mask)):
            if size is not None and (size.width, size.height) != (request.region.width, request.region.height):
                raise RequestError(ErrorCode.SIZE_MISMATCH,
                                   f"The {what} is {size.width}x{size.height} but the region is "
                                   f"{request.region.width}x{request.region.height}.", job)
        check_guides(request, params, job)
        for index, size in enumerate(request.reference_images):
            self._check_pixels(Rect(x=0, y=0, width=size.width, height=size.height), f"reference image {index + 1}",
                               job)
        return name, params.model_copy(update={"engine": name})

    def spec(self, request: JobRequest, image: np.ndarray | None, mask: np.ndarray | None, source: str,
             client: str, notes: Sequence[str] = (), control_images: Sequence[np.ndarray | None] = (),
             reference_images: Sequence[np.ndarray] = ()) -> JobSpec:
        """The JobSpec for `request` with its decoded pixels, checked like `check` does; the recipe
        pins the hash of each sent control image and reference image."""
        style = request.params.style
        request, resolved = self.styled(request)
        if resolved is not None:
            control_images = (*control_images, *(None,) * resolved.controls)
            reference_images = (*reference_images, *(reference.pixels() for reference in resolved.references))
        _, params = self._checked(request)
        params = _pin_guide_pixels(request, params, tuple(control_images), tuple(reference_images))
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
            client=client, input_warnings=tuple(notes), control_images=tuple(control_images),
            reference_images=tuple(reference_images), style=style, set_id=request.set_id,
        )

    def _pin_upscaler(self, params: Params, job_id: str) -> Params:
        upscale = params.upscale
        if upscale is None or upscale.upscaler is None:
            return params
        if self.upscalers is None:
            raise RequestError(ErrorCode.UNKNOWN_UPSCALER,
                               f"No upscaler named '{upscale.upscaler}': this agent keeps no upscalers.", job_id)
        return params.model_copy(update={"upscale": self.upscalers.pin(upscale, job_id)})

    def _check_pixels(self, rect: Rect, what: str, job_id: str) -> None:
        if rect.area > self.max_pixels:
            raise RequestError(ErrorCode.TOO_MANY_PIXELS,
                               f"The {what} has {rect.area} pixels; this agent takes at most {self.max_pixels}.",
                               job_id)


def pin(engine: Engine, params: Params, job_id: str) -> Params:
    """The job's params with its add-ons' content hashes, or the engine's refusal as this job's (also run by
    the pipeline, for JobSpecs built in code)."""
    try:
        return engine.pin(params)
    except RequestError as exc:
        raise RequestError(exc.code, exc.message, job_id) from None


def output_area(mode: Mode, document: Size, region: Rect, expand: Margins | None) -> Size:
    """The size of what a job makes: its region, for Expand grown by the margins on the document edges
    it touches (imaging.canvas). Sent control images cover it."""
    if mode is Mode.EXPAND and expand is not None:
        grown = expanded_region(document, region, expand)
        return Size(width=grown.width, height=grown.height)
    return Size(width=region.width, height=region.height)


def check_guides(request: JobRequest, params: Params, job_id: str) -> None:
    """Each control and reference comes with the pixels it needs, at the size it needs."""
    controls, sent = params.controls, request.control_images
    if len(sent) != len(controls):
        raise RequestError(ErrorCode.CONTROL_NEEDS_IMAGE,
                           f"The job has {len(controls)} controls but {len(sent)} control image entries.", job_id)
    area = output_area(request.mode, request.document, request.region, params.expand)
    for index, (control, size) in enumerate(zip(controls, sent, strict=True)):
        label = f"Control {index + 1} ({control.kind})"
        if control.image == "source":
            if request.mode is Mode.GENERATE:
                raise RequestError(ErrorCode.CONTROL_NEEDS_SOURCE,
                                   f"{label} is derived from the source, but a generate job has none; send the "
                                   "control image instead.", job_id)
            if size is not None:
                raise RequestError(ErrorCode.CONTROL_NEEDS_IMAGE,
                                   f"{label} is derived from the source; it takes no image of its own.", job_id)
            continue
        if size is None:
            raise RequestError(ErrorCode.CONTROL_NEEDS_IMAGE,
                               f"{label} needs its control image (or image 'source' to derive it).", job_id)
        if (size.width, size.height) != (area.width, area.height):
            raise RequestError(ErrorCode.CONTROL_SIZE_MISMATCH,
                               f"{label}'s image is {size.width}x{size.height}, but it must cover the job's "
                               f"output area, {area.width}x{area.height}.", job_id)
    if len(request.reference_images) != len(params.references):
        raise RequestError(ErrorCode.INVALID_MESSAGE,
                           f"The job has {len(params.references)} references but {len(request.reference_images)} "
                           "reference images.", job_id)


def _pin_guide_pixels(request: JobRequest, params: Params, controls: tuple[np.ndarray | None, ...],
                      references: tuple[np.ndarray, ...]) -> Params:
    announced = tuple(None if a is None else Size(width=a.shape[1], height=a.shape[0]) for a in controls)
    if announced != request.control_images or tuple(
            Size(width=a.shape[1], height=a.shape[0]) for a in references) != request.reference_images:
        raise RequestError(ErrorCode.SIZE_MISMATCH, "The decoded control or reference images are not the sizes "
                                                    "announced.", request.job_id)
    for array in (*(a for a in controls if a is not None), *references):
        if array.dtype != np.uint8 or array.shape[2:] != (4,):
            raise RequestError(ErrorCode.BAD_IMAGE, "Control and reference images must be RGBA8.", request.job_id)
    return params.model_copy(update={
        "controls": tuple(control.model_copy(update={"image_sha256": pixels_sha256(array)})
                          for control, array in zip(params.controls, controls, strict=True)),
        "references": tuple(reference.model_copy(update={"image_sha256": pixels_sha256(array)})
                            for reference, array in zip(params.references, references, strict=True)),
    })


def check_mode(mode: Mode, caps: EngineCapabilities, job_id: str) -> None:
    """Refuse a mode the engine cannot do (also run by the pipeline, for JobSpecs built in code)."""
    if mode not in caps.offered_modes:
        supported = ", ".join(sorted(caps.offered_modes))
        raise RequestError(ErrorCode.UNSUPPORTED_MODE,
                           f"The {caps.name} engine cannot do '{mode}'; it supports {supported}.", job_id)


def check_instruction(mode: Mode, params: Params, job_id: str) -> None:
    """Refuse an edit without an instruction: its prompt is the whole job (also run by the pipeline)."""
    if mode is Mode.EDIT and not params.prompt.strip():
        raise RequestError(ErrorCode.EMPTY_INSTRUCTION, "An edit needs an instruction in the prompt (for example "
                           "'make the jacket red'); the prompt is empty.", job_id)


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
