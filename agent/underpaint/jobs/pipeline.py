"""The one job path: JobSpec -> planner -> engine -> composer -> LayeredResult.

Every front door (websocket, hot folder, CLI, Python API) calls run_pipeline;
none has generation logic of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import (
    CancelToken,
    Engine,
    EngineError,
    ProgressSink,
    WorkItem,
)
from underpaint.engines.upscalers.book import Upscalers
from underpaint.imaging.canvas import check_expand, expand_canvas
from underpaint.imaging.composer import compose, prepare
from underpaint.imaging.control_maps import prepare_controls
from underpaint.imaging.planner import plan_job
from underpaint.imaging.references import reference_rgb
from underpaint.jobs.intake import (
    WHOLE_REGION_UNLESS_MASKED,
    JobRequest,
    check_guides,
    check_instruction,
    check_mode,
    check_region,
    pin,
)
from underpaint.jobs.upscale import run_upscale
from underpaint.results.guides import Guides
from underpaint.results.layered import LayeredResult, VariantLayer, group_name, layer_name
from underpaint.results.recipe import ModelRef, Recipe, pixels_sha256


def run_pipeline(
    spec: JobSpec,
    engine: Engine,
    progress: ProgressSink,
    cancel: CancelToken,
    on_layer: Callable[[VariantLayer], None] | None = None,
    upscalers: Upscalers | None = None,
) -> LayeredResult:
    """Run `spec` on `engine`; each layer goes to `on_layer` as soon as its variant is ready. An upscale
    enlarges with the super-resolution models of `upscalers` (jobs.upscale).

    Raises RequestError for input the job cannot run on, EngineError when the
    engine misbehaves, JobCancelled when `cancel` is set.
    """
    if spec.mode is Mode.UPSCALE:
        return run_upscale(spec, engine, upscalers, progress, cancel, on_layer)
    caps = engine.capabilities_for(spec.params.model)
    check_mode(spec.mode, caps, spec.job_id)
    check_instruction(spec.mode, spec.params, spec.job_id)
    check_region(spec.region, spec.document, spec.job_id)
    validate(spec)
    # The recipe records each add-on's content hash, so a replay runs on the same weights or not at all.
    spec = dataclasses.replace(spec, params=pin(engine, spec.params, spec.job_id))
    request = spec
    if spec.mode is Mode.EXPAND:
        # From here on an expand is a fill of the new strips on the grown canvas.
        spec = expand_canvas(spec)
    elif spec.mode in WHOLE_REGION_UNLESS_MASKED and spec.mask is None and spec.image is not None:
        # Refine or edit without a selection works on the whole region.
        spec = dataclasses.replace(spec, mask=np.full(spec.image.shape[:2], 255, np.uint8))
    plan = plan_job(spec, caps)
    prepared = prepare(spec, plan)
    seeds = spec.params.seeds()
    work = WorkItem(
        mode=spec.mode,
        width=plan.working.width,
        height=plan.working.height,
        params=spec.params,
        seeds=seeds,
        image=prepared.work_image,
        mask=prepared.work_mask,
        control_images=prepare_controls(spec, plan),
        reference_images=tuple(reference_rgb(image) for image in spec.reference_images),
    )
    group = group_name(spec.params.prompt, spec.mode)
    layers: list[VariantLayer] = []
    cancel.raise_if_cancelled()
    for output in engine.run(work, progress, cancel):
        index = len(layers)
        if index >= len(seeds):
            raise EngineError(ErrorCode.ENGINE_FAILED, f"{caps.name} returned more images than seeds.")
        _check_output(output, work, caps)
        layer = compose(
            plan,
            prepared,
            output,
            index=index,
            seed=seeds[index],
            name=layer_name(group, index, seeds[index]),
            visible=index == 0,
            color_match=spec.params.color_match,
        )
        layers.append(layer)
        if on_layer is not None:
            on_layer(layer)
        cancel.raise_if_cancelled()
    if len(layers) != len(seeds):
        raise EngineError(ErrorCode.ENGINE_FAILED, f"{caps.name} returned {len(layers)} of {len(seeds)} images.")
    return LayeredResult(
        group_name=group,
        source=spec.image,
        selection=spec.mask if spec.mode is not Mode.GENERATE else None,
        layers=layers,
        recipe=Recipe(
            engine=caps.name,
            model=_model_ref(engine, spec.params.model),
            mode=spec.mode,
            params=spec.params,
            seeds=seeds,
            # The result's geometry (the grown canvas for Expand; params.expand says by how much),
            # and the hashes of the inputs as sent, which is what a replay checks.
            document=spec.document,
            region=spec.region,
            image_sha256=pixels_sha256(request.image),
            mask_sha256=pixels_sha256(request.mask),
            style=spec.style,
            set_id=spec.set_id,
        ),
        warnings=_warnings(request, caps),
        guides=Guides(request.control_images, request.reference_images),
    )


def validate(spec: JobSpec) -> None:
    """The pixels the planner relies on (front doors check requests through jobs.intake first)."""
    check_guides(_as_request(spec), spec.params, spec.job_id)
    region = spec.region
    if spec.mode is Mode.GENERATE:
        return
    if spec.image is None or spec.image.dtype != np.uint8:
        raise RequestError(ErrorCode.BAD_IMAGE, f"A {spec.mode} job needs the image as RGBA8.", spec.job_id)
    expected = (region.height, region.width)
    if spec.mode is Mode.EXPAND:
        # The new strips are the selection; a mask, when sent, adds to them.
        check_expand(spec.document, region, spec.params.expand, spec.job_id)
        mask_shape = expected if spec.mask is None else spec.mask.shape
    elif spec.mode in WHOLE_REGION_UNLESS_MASKED and spec.mask is None:
        mask_shape = expected  # no selection: the whole region is reworked
    elif spec.mask is None or not spec.mask.any():
        raise RequestError(ErrorCode.EMPTY_MASK, f"A {spec.mode} job needs a mask that selects pixels.", spec.job_id)
    else:
        mask_shape = spec.mask.shape
    if spec.image.shape != (*expected, 4) or mask_shape != expected:
        raise RequestError(
            ErrorCode.SIZE_MISMATCH,
            f"Image {spec.image.shape} and mask {mask_shape} must cover the region {expected}.",
            spec.job_id,
        )


def _as_request(spec: JobSpec) -> JobRequest:
    """`spec` as a front door describes it to the intake: the sizes of its pixels."""
    def size(array: np.ndarray | None) -> Size | None:
        return None if array is None else Size(width=array.shape[1], height=array.shape[0])

    return JobRequest(spec.job_id, spec.mode, spec.params, spec.document, spec.region, size(spec.image),
                      size(spec.mask), tuple(size(array) for array in spec.control_images),
                      tuple(Size(width=array.shape[1], height=array.shape[0]) for array in spec.reference_images),
                      spec.set_id)


def _check_output(output: np.ndarray, work: WorkItem, caps: EngineCapabilities) -> None:
    expected = (work.height, work.width, 3)
    if output.shape != expected or output.dtype != np.uint8:
        raise EngineError(
            ErrorCode.ENGINE_FAILED,
            f"{caps.name} returned {output.dtype} {output.shape}, not uint8 {expected}.",
        )


def _warnings(spec: JobSpec, caps: EngineCapabilities) -> list[str]:
    warnings = list(spec.input_warnings)
    if spec.params.prompt.strip() and not caps.uses_prompt:
        warnings.append(f"The {caps.name} engine ignores prompts.")
    return warnings


def _model_ref(engine: Engine, model: str | None) -> ModelRef | None:
    identity = engine.model_identity(model)
    return ModelRef(name=identity[0], sha256=identity[1]) if identity else None
