"""Expand as a fill: the grown canvas, with the new strips selected.

An Expand JobSpec is an ordinary request about the document it came from
(`document`, `region`, `image` as sent) plus `params.expand`, the margins to
add on each side. `expand_canvas` turns it into the equivalent fill on the
expanded document: coordinates shift by the left and top margins, the region
grows by each margin on the sides where it touches the document's edge, the new
pixels are transparent and selected (together with any mask the client sent).
Planner, engine and composer then run unchanged, and the layers and the
result's canvas are in the expanded document's coordinates.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from underpaint.core import ErrorCode, JobSpec, Margins, Rect, RequestError, Size


def expanded_document(document: Size, margins: Margins) -> Size:
    return Size(
        width=document.width + margins.left + margins.right,
        height=document.height + margins.top + margins.bottom,
    )


def expanded_region(document: Size, region: Rect, margins: Margins) -> Rect:
    """`region` in the expanded document, grown by the margins on the document edges it touches."""
    left = margins.left if region.x == 0 else 0
    top = margins.top if region.y == 0 else 0
    right = margins.right if region.right == document.width else 0
    bottom = margins.bottom if region.bottom == document.height else 0
    return Rect(
        x=region.x + margins.left - left,
        y=region.y + margins.top - top,
        width=region.width + left + right,
        height=region.height + top + bottom,
    )


def request_geometry(document: Size, region: Rect, margins: Margins) -> tuple[Size, Rect]:
    """The document and region an Expand was asked for, from the expanded ones its recipe keeps
    (the inverse of `expanded_document` and `expanded_region`)."""
    original = Size(width=document.width - margins.left - margins.right,
                    height=document.height - margins.top - margins.bottom)
    # The region gained a margin exactly on the sides where it now touches the expanded edge.
    left = margins.left if region.x == 0 else 0
    top = margins.top if region.y == 0 else 0
    right = margins.right if region.right == document.width else 0
    bottom = margins.bottom if region.bottom == document.height else 0
    return original, Rect(x=region.x - margins.left + left, y=region.y - margins.top + top,
                          width=region.width - left - right, height=region.height - top - bottom)


def placement(request_region: Rect, expanded: Rect, margins: Margins) -> Rect:
    """Where the Expand's original pixels sit inside the expanded region, in its own coordinates."""
    return Rect(x=request_region.x + margins.left - expanded.x, y=request_region.y + margins.top - expanded.y,
                width=request_region.width, height=request_region.height)


def check_expand(document: Size, region: Rect, margins: Margins | None, job_id: str) -> Rect:
    """The expanded region, or a RequestError saying why this Expand has nothing to fill."""
    if margins is None or margins.left + margins.top + margins.right + margins.bottom == 0:
        raise RequestError(
            ErrorCode.INVALID_MESSAGE, "An expand job needs params.expand with a margin above 0 on some side.", job_id
        )
    grown = expanded_region(document, region, margins)
    if (grown.width, grown.height) == (region.width, region.height):
        raise RequestError(
            ErrorCode.BAD_REGION,
            "The region touches none of the document edges being expanded, so it would gain no new pixels; "
            "send the region at the edge (or the whole document).",
            job_id,
        )
    return grown


def expand_canvas(spec: JobSpec) -> JobSpec:
    """The fill on the expanded canvas equivalent to the Expand job `spec` (see the module notes)."""
    if spec.image is None:
        raise RequestError(ErrorCode.BAD_IMAGE, "An expand job needs the image it grows.", spec.job_id)
    margins = spec.params.expand
    region = check_expand(spec.document, spec.region, margins, spec.job_id)
    assert margins is not None  # check_expand refuses None
    inside = placement(spec.region, region, margins)
    rows = slice(inside.y, inside.bottom)
    cols = slice(inside.x, inside.right)
    image = np.zeros((region.height, region.width, 4), np.uint8)
    image[rows, cols] = spec.image
    mask = np.full((region.height, region.width), 255, np.uint8)
    mask[rows, cols] = 0 if spec.mask is None else spec.mask
    return dataclasses.replace(
        spec, document=expanded_document(spec.document, margins), region=region, image=image, mask=mask
    )
