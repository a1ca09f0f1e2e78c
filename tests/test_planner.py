"""Planner: context rectangles, working sizes, grow and feather, on many shapes and sizes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.imaging.planner import MAX_PAD, grow_feather, mask_bounds, plan_context, plan_job, working_size

CAPS = EngineCapabilities(
    name="test",
    modes=frozenset({Mode.FILL, Mode.GENERATE}),
    uses_prompt=True,
    native_min=128,
    native_max=512,
    multiple=8,
    max_pixels=512 * 512,
)
DEFAULTS = Params()


def _context(doc: tuple[int, int], sel: tuple[int, int, int, int], params: Params = DEFAULTS) -> Rect:
    x, y, w, h = sel
    return plan_context(Size(width=doc[0], height=doc[1]), Rect(x=x, y=y, width=w, height=h), CAPS, params)


def _rect(x: int, y: int, w: int, h: int) -> Rect:
    return Rect(x=x, y=y, width=w, height=h)


def test_context_pads_each_side_by_a_fraction_of_the_long_side_plus_the_soft_edge() -> None:
    # 600 px long side: pad 0.4 * 600 = 240, grow 9, feather 15.
    assert _context((4000, 3000), (1700, 1300, 600, 400)) == _rect(1436, 1036, 1128, 928)


def test_tiny_selection_sees_at_least_native_min_of_surroundings() -> None:
    assert _context((1000, 1000), (500, 500, 8, 8)) == _rect(440, 440, 128, 128)


def test_context_slides_inside_the_canvas_at_the_top_left_corner() -> None:
    assert _context((1000, 1000), (0, 0, 100, 100)) == _rect(0, 0, 188, 188)


def test_context_slides_inside_the_canvas_at_the_bottom_right_edges() -> None:
    assert _context((1000, 1000), (900, 950, 100, 50)) == _rect(812, 862, 188, 138)


def test_whole_canvas_selection_gets_the_whole_canvas() -> None:
    assert _context((640, 480), (0, 0, 640, 480)) == _rect(0, 0, 640, 480)


def test_one_pixel_wide_selection_is_padded_across_and_clipped_along() -> None:
    assert _context((1000, 1000), (500, 0, 1, 1000)) == _rect(60, 0, 881, 1000)


def test_context_never_exceeds_a_canvas_smaller_than_native_min() -> None:
    assert _context((100, 80), (45, 35, 10, 10)) == _rect(0, 0, 100, 80)


def test_context_includes_an_explicit_grow_and_feather() -> None:
    plain = _context((4000, 3000), (2000, 1500, 200, 200))
    soft = _context((4000, 3000), (2000, 1500, 200, 200), Params(grow=50, feather=100))
    assert soft.width - plain.width == 2 * (50 + 100 - 3 - 5)


def test_selection_outside_the_document_is_an_empty_mask() -> None:
    with pytest.raises(RequestError) as caught:
        _context((100, 100), (200, 200, 10, 10))
    assert caught.value.code is ErrorCode.EMPTY_MASK


def test_grow_and_feather_scale_with_the_selection_within_bounds() -> None:
    assert grow_feather(_rect(0, 0, 8, 8), DEFAULTS) == (2, 2)
    assert grow_feather(_rect(0, 0, 600, 400), DEFAULTS) == (9, 15)
    assert grow_feather(_rect(0, 0, 10000, 50), DEFAULTS) == (24, 64)


def test_params_override_grow_and_feather() -> None:
    assert grow_feather(_rect(0, 0, 600, 400), Params(grow=0, feather=3)) == (0, 3)


def test_large_context_is_worked_at_native_max_keeping_aspect() -> None:
    assert working_size(1128, 928, CAPS) == Size(width=512, height=424)


def test_tiny_context_is_worked_at_native_min() -> None:
    assert working_size(48, 32, CAPS) == Size(width=128, height=88)


def test_context_between_limits_keeps_its_size_snapped_to_the_multiple() -> None:
    assert working_size(300, 201, CAPS) == Size(width=304, height=200)


def test_max_pixels_bounds_the_working_area() -> None:
    caps = dataclasses.replace(CAPS, native_max=1024, max_pixels=256 * 256)
    assert working_size(2000, 2000, caps) == Size(width=256, height=256)


def test_one_pixel_wide_context_gets_one_multiple_across() -> None:
    assert working_size(1, 3000, CAPS) == Size(width=8, height=512)


def test_rounding_that_breaks_native_max_floors_instead() -> None:
    caps = dataclasses.replace(CAPS, native_min=64, native_max=102)
    assert working_size(2000, 1000, caps) == Size(width=96, height=48)


@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    native_max=st.sampled_from([256, 320, 512, 768, 1024]),
    multiple=st.sampled_from([1, 8, 64]),
    area_ratio=st.floats(0.3, 1.0),
)
def test_working_size_always_obeys_the_engine_limits(
    width: int, height: int, native_max: int, multiple: int, area_ratio: float
) -> None:
    caps = dataclasses.replace(
        CAPS, native_min=128, native_max=native_max, multiple=multiple, max_pixels=int(native_max**2 * area_ratio)
    )
    size = working_size(width, height, caps)
    assert size.width % multiple == 0 and size.height % multiple == 0
    assert max(size.width, size.height) <= native_max
    if min(size.width, size.height) >= 8 * multiple:
        # Sides well above one multiple: snapping barely moves the area or the aspect.
        assert size.width * size.height <= caps.max_pixels
        assert size.width / size.height == pytest.approx(width / height, rel=0.15)


def _spec(region: Rect, mask: np.ndarray, document: Size, mode: Mode = Mode.FILL) -> JobSpec:
    image = np.zeros((region.height, region.width, 4), np.uint8)
    return JobSpec(job_id="j", mode=mode, params=DEFAULTS, document=document, region=region, image=image, mask=mask)


def test_plan_job_puts_selection_and_context_in_document_coordinates() -> None:
    region = _rect(1000, 500, 800, 600)
    mask = np.zeros((600, 800), np.uint8)
    mask[200:260, 300:400] = 1
    plan = plan_job(_spec(region, mask, Size(width=4000, height=3000)), CAPS)
    assert plan.selection == _rect(1300, 700, 100, 60)
    assert plan.context == _rect(1256, 656, 188, 148)
    assert plan.crop == _rect(256, 156, 188, 148)
    assert plan.working == Size(width=192, height=144)


def test_plan_job_context_stays_inside_the_region_the_client_sent() -> None:
    region = _rect(1000, 500, 300, 200)
    mask = np.zeros((200, 300), np.uint8)
    mask[50:150, 100:250] = 255
    plan = plan_job(_spec(region, mask, Size(width=4000, height=3000)), CAPS)
    # Unclipped it would be (1034, 484, 282, 232).
    assert plan.context == _rect(1034, 500, 266, 200)
    assert plan.crop == _rect(34, 0, 266, 200)


def test_plan_job_refuses_an_empty_mask() -> None:
    region = _rect(0, 0, 64, 64)
    with pytest.raises(RequestError) as caught:
        plan_job(_spec(region, np.zeros((64, 64), np.uint8), Size(width=64, height=64)), CAPS)
    assert caught.value.code is ErrorCode.EMPTY_MASK


def test_generate_plan_creates_the_whole_region_hard_edged() -> None:
    region = _rect(10, 20, 1024, 768)
    spec = JobSpec(
        job_id="g", mode=Mode.GENERATE, params=DEFAULTS, document=Size(width=2000, height=2000), region=region
    )
    plan = plan_job(spec, CAPS)
    assert (plan.context, plan.working, plan.grow, plan.feather) == (region, Size(width=512, height=384), 0, 0)


def test_mask_bounds_counts_any_value_above_zero() -> None:
    mask = np.zeros((50, 40), np.uint8)
    mask[10, 5] = 1
    mask[30, 20] = 200
    assert mask_bounds(mask) == _rect(5, 10, 16, 21)


def test_huge_selection_pad_is_capped_so_the_context_stays_near_the_selection() -> None:
    # 6000 px long side: the pad would be 2400; capped at 512, plus grow 24 and feather 64.
    assert _context((12000, 8000), (3000, 2000, 6000, 4000)) == _rect(2400, 1400, 7200, 5200)


@settings(max_examples=300, deadline=None)
@given(
    doc_w=st.integers(1, 20000),
    doc_h=st.integers(1, 20000),
    data=st.data(),
    grow=st.one_of(st.none(), st.integers(0, 100)),
    feather=st.one_of(st.none(), st.integers(0, 200)),
)
def test_context_contains_the_soft_selection_and_stays_in_the_canvas_for_any_shape(
    doc_w: int, doc_h: int, data: st.DataObject, grow: int | None, feather: int | None
) -> None:
    width, height = data.draw(st.integers(1, doc_w)), data.draw(st.integers(1, doc_h))
    x, y = data.draw(st.integers(0, doc_w - width)), data.draw(st.integers(0, doc_h - height))
    params = Params(grow=grow, feather=feather)
    context = _context((doc_w, doc_h), (x, y, width, height), params)
    canvas = _rect(0, 0, doc_w, doc_h)
    assert context.intersect(canvas) == context, "inside the canvas"
    g, f = grow_feather(_rect(x, y, width, height), params)
    soft = _rect(x - g - f, y - g - f, width + 2 * (g + f), height + 2 * (g + f)).intersect(canvas)
    assert context.intersect(soft) == soft, "holds the grown and feathered selection"
    for side, doc_side, sel_side in ((context.width, doc_w, width), (context.height, doc_h, height)):
        assert side >= min(CAPS.native_min, doc_side), "small selections see their surroundings"
        limit = max(sel_side + 2 * (MAX_PAD + g + f), CAPS.native_min)
        assert side <= limit, "the padding never exceeds its cap"


@pytest.mark.parametrize(
    "doc, sel",
    [
        ((4000, 3000), (0, 0, 4000, 3000)),  # whole canvas
        ((4000, 3000), (0, 1000, 4000, 1)),  # one pixel high, edge to edge
        ((4000, 3000), (3992, 2992, 8, 8)),  # 8x8 in the bottom-right corner
        ((8, 8), (0, 0, 8, 8)),  # an 8x8 document
        ((12000, 8000), (0, 0, 6000, 8000)),  # half a huge document, touching three edges
        ((300, 20000), (100, 5000, 50, 10000)),  # very tall and thin
    ],
)
def test_plans_for_extreme_shapes_fit_the_canvas_and_the_engine(
    doc: tuple[int, int], sel: tuple[int, int, int, int]
) -> None:
    x, y, w, h = sel
    document = Size(width=doc[0], height=doc[1])
    selection = _rect(x, y, w, h)
    context = plan_context(document, selection, CAPS, DEFAULTS)
    assert context.intersect(_rect(0, 0, *doc)) == context
    assert context.intersect(selection) == selection
    size = working_size(context.width, context.height, CAPS)
    assert max(size.width, size.height) <= CAPS.native_max and size.width * size.height <= CAPS.max_pixels
    assert size.width % CAPS.multiple == 0 and size.height % CAPS.multiple == 0
