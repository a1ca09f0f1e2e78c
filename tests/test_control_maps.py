"""Control maps (imaging/control_maps.py): what each kind's ControlNet sees, made from the image without weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import soft_ellipse, textured_rgba
from underpaint.core import ErrorCode, JobSpec, Margins, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.conditioning import ControlRef
from underpaint.imaging.canvas import expand_canvas
from underpaint.imaging.composer import at_working_size, prepare
from underpaint.imaging.control_maps import canny, inpaint_condition, prepare_controls, scribble
from underpaint.imaging.planner import plan_job

CAPS = EngineCapabilities(name="t", modes=frozenset(Mode), uses_prompt=True, native_min=64, native_max=96,
                          multiple=8, max_pixels=96 * 96)
WHITE, BLACK = 255, 0


def square(size: int = 40, ink: int = 0, paper: int = 255) -> np.ndarray:
    """RGB8: a filled square of `ink` on `paper`."""
    image = np.full((size, size, 3), paper, np.uint8)
    image[10:30, 10:30] = ink
    return image


def spec(controls: list[ControlRef], sent: list[np.ndarray | None], mode: Mode = Mode.FILL,
         expand: Margins | None = None, height: int = 200, width: int = 300) -> JobSpec:
    return JobSpec(job_id="j", mode=mode, params=Params(controls=tuple(controls), expand=expand),
                   document=Size(width=width, height=height), region=Rect(x=0, y=0, width=width, height=height),
                   image=textured_rgba(height, width, seed=2), mask=soft_ellipse(height, width, (120, 70, 60, 50)),
                   control_images=tuple(sent))


def test_canny_draws_white_edges_on_black_where_the_image_has_them() -> None:
    edges = canny(square(), 100, 200)
    assert edges.shape == (40, 40, 3) and set(np.unique(edges)) == {BLACK, WHITE}
    assert edges[10:30, 9:11].any() and not edges[15:25, 15:25].any() and not edges[:5].any()


def test_canny_drops_edges_weaker_than_its_thresholds() -> None:
    faint = square(ink=200, paper=230)
    assert canny(faint, 10, 20).any() and not canny(faint, 200, 250).any()


@pytest.mark.parametrize(("ink", "paper"), [(0, 255), (255, 30)], ids=["dark-on-light", "light-on-dark"])
def test_a_scribble_becomes_white_strokes_on_black_whichever_its_colours(ink: int, paper: int) -> None:
    drawn = scribble(square(ink=ink, paper=paper))
    assert (drawn[10:30, 10:30] == WHITE).all() and (drawn[:10] == BLACK).all()


def test_a_scribble_on_a_transparent_layer_is_its_opaque_pixels() -> None:
    layer = np.zeros((40, 40, 4), np.uint8)
    layer[10:30, 10:30] = (255, 255, 255, 255)  # white strokes: invisible on white paper, opaque here
    drawn = scribble(layer)
    assert (drawn[10:30, 10:30] == WHITE).all() and (drawn[:10] == BLACK).all()


def test_the_inpaint_condition_marks_the_selection_minus_one_and_keeps_the_rest_in_0_1() -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[:20] = 128
    condition = inpaint_condition(square(ink=51), mask)
    assert (condition[:20] == -1).all() and condition.dtype == np.float32
    assert np.allclose(condition[25, 15], 0.2) and np.allclose(condition[35, 5], 1.0)


def test_a_control_from_the_source_sees_the_context_as_the_engine_does() -> None:
    job = spec([ControlRef(kind="tile", image="source")], [None])
    plan = plan_job(job, CAPS)
    (tile,) = prepare_controls(job, plan)
    assert np.array_equal(tile, prepare(job, plan).work_image)


def test_a_sent_control_image_is_cropped_and_resized_exactly_as_the_source() -> None:
    job = spec([ControlRef(kind="tile")], [textured_rgba(200, 300, seed=2)])
    plan = plan_job(job, CAPS)
    assert plan.context != plan.region, "the context is a crop"
    assert np.array_equal(prepare_controls(job, plan)[0], prepare(job, plan).work_image)


def test_a_sent_image_is_taken_as_the_map_when_the_control_says_it_already_is_one() -> None:
    sent = np.zeros((200, 300, 4), np.uint8)
    sent[..., 3] = 255
    sent[100:, :, :3] = 90  # flat grey: Canny would find one edge here
    job = spec([ControlRef(kind="canny", preprocess=False)], [sent])
    plan = plan_job(job, CAPS)
    (ready,) = prepare_controls(job, plan)
    assert np.array_equal(ready, at_working_size(sent, plan)[..., :3]) and ready.max() < WHITE


def test_an_expands_new_strips_draw_no_edge_where_they_meet_the_picture() -> None:
    flat = np.zeros((60, 80, 4), np.uint8)
    flat[...] = (120, 120, 120, 255)
    job = dataclasses.replace(spec([ControlRef(kind="canny", image="source", low_threshold=10,
                                               high_threshold=20)], [None], Mode.EXPAND,
                                   Margins(left=0, top=0, right=40, bottom=0), 60, 80), image=flat, mask=None)
    grown = expand_canvas(job)
    (edges,) = prepare_controls(grown, plan_job(grown, CAPS))
    assert not edges.any()


def test_a_sent_control_image_not_covering_the_output_area_is_refused() -> None:
    job = spec([ControlRef(kind="tile")], [textured_rgba(100, 300)])
    with pytest.raises(RequestError) as caught:
        prepare_controls(job, plan_job(job, CAPS))
    assert caught.value.code is ErrorCode.CONTROL_SIZE_MISMATCH
