"""The planner: where a job looks (context), at what size the engine works, how the mask is softened.

Pure functions of document geometry and engine capabilities, so the protocol's
`plan` message and the job path always agree on the same rectangle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities

CONTEXT_PAD_RATIO = 0.4
"""Padding on each side of the selection, as a fraction of its long side: enough
surroundings for the engine to continue, not so much that the selection shrinks
to a few working pixels."""

MIN_PAD, MAX_PAD = 16, 512
"""Padding bounds in document pixels. The cap keeps huge selections from dragging
in most of the document: engines work at about 1000 px, where 512 document
pixels around a 6000 px selection are still ~80 working pixels of surroundings,
while the context (and the memory it takes) stays close to the selection's size."""
GROW_RATIO, GROW_MIN, GROW_MAX = 0.015, 2, 24
FEATHER_RATIO, FEATHER_MIN, FEATHER_MAX = 0.025, 2, 64


@dataclass(frozen=True)
class Plan:
    """Everything geometric about one job, in document pixels unless named otherwise.

    `context` always lies inside `region` (what the client sent) and contains
    the selection grown and feathered.
    """

    region: Rect
    selection: Rect
    context: Rect
    working: Size
    grow: int
    feather: int

    @property
    def crop(self) -> Rect:
        """The context relative to the job's image, which covers `region`."""
        return self.context.offset(-self.region.x, -self.region.y)


def grow_feather(selection: Rect, params: Params) -> tuple[int, int]:
    """Grow and feather in document pixels: scaled to the selection unless the job says otherwise."""
    long_side = max(selection.width, selection.height)
    grow = params.grow if params.grow is not None else _clamp(round(long_side * GROW_RATIO), GROW_MIN, GROW_MAX)
    feather = (
        params.feather
        if params.feather is not None
        else _clamp(round(long_side * FEATHER_RATIO), FEATHER_MIN, FEATHER_MAX)
    )
    return grow, feather


def plan_context(document: Size, selection: Rect, caps: EngineCapabilities, params: Params) -> Rect:
    """The rectangle around `selection` the engine should see, inside the document.

    The padding covers the grown and feathered edge plus surroundings that scale
    with the selection; small selections get at least `caps.native_min` pixels a
    side so they see their neighbourhood. Near a canvas edge the rectangle slides
    inwards rather than shrinking, keeping as much context as the canvas has.
    """
    canvas = Rect(x=0, y=0, width=document.width, height=document.height)
    selection = selection.intersect(canvas)
    if selection.area == 0:
        raise RequestError(ErrorCode.EMPTY_MASK, "The selection lies outside the document.")
    grow, feather = grow_feather(selection, params)
    pad = _clamp(round(max(selection.width, selection.height) * CONTEXT_PAD_RATIO), MIN_PAD, MAX_PAD) + grow + feather
    x, width = _span(selection.x, selection.width, pad, caps.native_min, document.width)
    y, height = _span(selection.y, selection.height, pad, caps.native_min, document.height)
    return Rect(x=x, y=y, width=width, height=height)


def working_size(width: int, height: int, caps: EngineCapabilities) -> Size:
    """The engine's size for a `width` x `height` context.

    Keeps the aspect ratio; the long side goes to [native_min, native_max]
    (large contexts are worked small and scaled up, tiny ones the other way),
    then both sides snap to `multiple` within `max_pixels`.
    """
    long_side = max(width, height)
    scale = _clamp(long_side, caps.native_min, caps.native_max) / long_side
    scale = min(scale, math.sqrt(caps.max_pixels / (width * height)))
    w, h = (max(caps.multiple, round(v * scale / caps.multiple) * caps.multiple) for v in (width, height))
    if max(w, h) > caps.native_max or w * h > caps.max_pixels:
        # Rounding up broke a limit: flooring never does.
        w, h = (max(caps.multiple, math.floor(v * scale / caps.multiple) * caps.multiple) for v in (width, height))
    return Size(width=w, height=h)


def plan_job(spec: JobSpec, caps: EngineCapabilities) -> Plan:
    """Plan `spec` for an engine with `caps`; the selection is every mask pixel above 0."""
    if spec.mode is Mode.GENERATE or spec.mask is None:
        # Nothing to continue from: the whole region is created, hard-edged.
        return Plan(
            region=spec.region,
            selection=spec.region,
            context=spec.region,
            working=working_size(spec.region.width, spec.region.height, caps),
            grow=0,
            feather=0,
        )
    selection = mask_bounds(spec.mask).offset(spec.region.x, spec.region.y)
    context = plan_context(spec.document, selection, caps, spec.params).intersect(spec.region)
    grow, feather = grow_feather(selection, spec.params)
    return Plan(
        region=spec.region,
        selection=selection,
        context=context,
        working=working_size(context.width, context.height, caps),
        grow=grow,
        feather=feather,
    )


def mask_bounds(mask: np.ndarray) -> Rect:
    """Bounds of the pixels above 0, relative to the mask; EMPTY_MASK when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise RequestError(ErrorCode.EMPTY_MASK, "The mask selects no pixels.")
    return Rect(
        x=int(cols[0]),
        y=int(rows[0]),
        width=int(cols[-1] - cols[0] + 1),
        height=int(rows[-1] - rows[0] + 1),
    )


def _span(start: int, length: int, pad: int, minimum: int, limit: int) -> tuple[int, int]:
    """One axis of the context: centred on the selection, slid inside [0, limit)."""
    size = min(max(length + 2 * pad, minimum), limit)
    begin = start + length // 2 - size // 2
    return _clamp(begin, 0, limit - size), size


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))
