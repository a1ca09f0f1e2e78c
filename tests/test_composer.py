"""Composer: engine input at working size, layers whose composite never touches pixels outside the mask."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from underpaint.core import JobSpec, Mode, Params, Rect, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.imaging.blend import blend_masked
from underpaint.imaging.composer import Prepared, compose, feathered_mask, prepare
from underpaint.imaging.planner import Plan, plan_job


def _caps(native_min: int = 32, native_max: int = 96, multiple: int = 8) -> EngineCapabilities:
    return EngineCapabilities(
        name="test",
        modes=frozenset({Mode.FILL, Mode.GENERATE}),
        uses_prompt=True,
        native_min=native_min,
        native_max=native_max,
        multiple=multiple,
        max_pixels=native_max * native_max,
    )


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Opaque RGBA8 with gradients, stripes and noise, so any changed pixel shows."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([xs * 0.5 + 40, ys * 0.4 + 60, 120 + 50 * np.sin(xs / 4.0)], axis=-1)
    rgb = rgb + rng.normal(0, 15, rgb.shape)
    alpha = np.full((height, width, 1), 255.0)
    image: np.ndarray = np.clip(np.concatenate([rgb, alpha], axis=2), 0, 255).astype(np.uint8)
    return image


def _fill_spec(image: np.ndarray, mask: np.ndarray, region: Rect, document: Size, params: Params) -> JobSpec:
    return JobSpec(job_id="c", mode=Mode.FILL, params=params, document=document, region=region, image=image, mask=mask)


def _compose(plan: Plan, prepared: Prepared, output: np.ndarray, color_match: bool = False) -> np.ndarray:
    layer = compose(plan, prepared, output, index=0, seed=0, name="n", visible=True, color_match=color_match)
    assert layer.bounds == plan.context
    assert layer.pixels.shape == (plan.context.height, plan.context.width, 4)
    return blend_masked(prepared.source, layer.pixels, layer.mask) if prepared.source is not None else layer.pixels


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    width=st.integers(8, 160),
    height=st.integers(8, 160),
    grow=st.integers(0, 8),
    feather=st.integers(0, 12),
    blobs=st.integers(1, 4),
)
def test_composite_is_bit_identical_to_the_source_beyond_the_grown_feathered_selection(
    data: st.DataObject, width: int, height: int, grow: int, feather: int, blobs: int
) -> None:
    document = Size(width=width + data.draw(st.integers(0, 50)), height=height + data.draw(st.integers(0, 50)))
    region = Rect(
        x=data.draw(st.integers(0, document.width - width)),
        y=data.draw(st.integers(0, document.height - height)),
        width=width,
        height=height,
    )
    mask = np.zeros((height, width), np.uint8)
    for _ in range(blobs):
        x0, y0 = data.draw(st.integers(0, width - 1)), data.draw(st.integers(0, height - 1))
        x1, y1 = data.draw(st.integers(x0 + 1, width)), data.draw(st.integers(y0 + 1, height))
        mask[y0:y1, x0:x1] = data.draw(st.integers(1, 255))
    image = _photo(height, width, seed=data.draw(st.integers(0, 3)))
    spec = _fill_spec(image, mask, region, document, Params(grow=grow, feather=feather))
    plan = plan_job(spec, _caps(multiple=data.draw(st.sampled_from([1, 8, 16]))))
    prepared = prepare(spec, plan)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    output = rng.integers(0, 256, (plan.working.height, plan.working.width, 3), dtype=np.uint8)

    composite = _compose(plan, prepared, output, color_match=data.draw(st.booleans()))

    crop = plan.crop
    source = image[crop.y : crop.bottom, crop.x : crop.right]
    reach = 2 * (grow + feather) + 1
    # A square reaches at least as far as the round distance the composer uses.
    near = cv2.dilate((mask[crop.y : crop.bottom, crop.x : crop.right] > 0).astype(np.uint8), np.ones((reach, reach)))
    assert np.array_equal(composite[near == 0], source[near == 0])
    layer_mask = prepared.layer_mask
    assert np.array_equal(composite[layer_mask == 0], source[layer_mask == 0])


def test_layer_mask_is_full_on_the_grown_selection_and_eases_out_over_the_feather() -> None:
    selection = np.zeros((1, 40), bool)
    selection[0, :10] = True
    row = feathered_mask(selection, grow=4, feather=10)[0]
    assert (row[:14] == 255).all()
    assert (np.diff(row[13:24].astype(int)) < 0).all()
    assert (row[23:] == 0).all()


def test_zero_feather_gives_a_hard_edge_at_the_grow() -> None:
    selection = np.zeros((1, 20), bool)
    selection[0, 5] = True
    assert feathered_mask(selection, grow=2, feather=0)[0].tolist() == [0] * 3 + [255] * 5 + [0] * 12


def test_prepare_hands_the_engine_working_size_rgb_and_a_binary_mask_covering_the_selection() -> None:
    image = _photo(300, 400)
    mask = np.zeros((300, 400), np.uint8)
    mask[100:180, 150:260] = 255
    spec = _fill_spec(image, mask, Rect(x=0, y=0, width=400, height=300), Size(width=400, height=300), Params())
    plan = plan_job(spec, _caps())
    prepared = prepare(spec, plan)
    assert prepared.work_image is not None and prepared.work_mask is not None
    assert prepared.work_image.shape == (plan.working.height, plan.working.width, 3)
    assert prepared.work_mask.shape == (plan.working.height, plan.working.width)
    assert set(np.unique(prepared.work_mask)) == {0, 255}
    selection = cv2.resize(mask[plan.crop.y : plan.crop.bottom, plan.crop.x : plan.crop.right], (96, 80))
    assert (prepared.work_mask[selection > 0] == 255).all()


def test_layer_pixels_outside_the_fill_are_the_source_untouched() -> None:
    image = _photo(200, 200)
    mask = np.zeros((200, 200), np.uint8)
    mask[80:120, 60:140] = 255
    spec = _fill_spec(image, mask, Rect(x=0, y=0, width=200, height=200), Size(width=200, height=200), Params())
    plan = plan_job(spec, _caps())
    prepared = prepare(spec, plan)
    output = np.zeros((plan.working.height, plan.working.width, 3), np.uint8)
    layer = compose(plan, prepared, output, index=0, seed=0, name="n", visible=True, color_match=False)
    assert prepared.source is not None
    assert np.array_equal(layer.pixels[prepared.fill == 0], prepared.source[prepared.fill == 0])
    assert (layer.pixels[..., 3] == 255).all()


def _selected_fill(cast: bool, color_match: bool) -> np.ndarray:
    """Compose an engine image that repeats its input, with or without a colour cast."""
    image = _photo(240, 320, seed=5)
    mask = np.zeros((240, 320), np.uint8)
    mask[90:150, 120:200] = 255
    spec = _fill_spec(image, mask, Rect(x=0, y=0, width=320, height=240), Size(width=320, height=240), Params())
    plan = plan_job(spec, _caps())
    prepared = prepare(spec, plan)
    assert prepared.work_image is not None
    output = prepared.work_image
    if cast:
        output = np.clip(output * np.array([1.0, 0.7, 1.0]) + [40, 0, -25], 0, 255).astype(np.uint8)
    layer = compose(plan, prepared, output, index=0, seed=0, name="n", visible=True, color_match=color_match)
    selected = mask[plan.crop.y : plan.crop.bottom, plan.crop.x : plan.crop.right] > 0
    return layer.pixels[selected][:, :3].astype(float)


def test_colour_match_removes_the_engines_colour_cast() -> None:
    faithful = _selected_fill(cast=False, color_match=False)
    matched = _selected_fill(cast=True, color_match=True)
    assert np.abs(matched.mean(axis=0) - faithful.mean(axis=0)).max() < 3
    assert matched.std(axis=0) == pytest.approx(faithful.std(axis=0), rel=0.1)


def test_without_colour_match_the_cast_stays() -> None:
    faithful = _selected_fill(cast=False, color_match=False)
    cast = _selected_fill(cast=True, color_match=False)
    assert cast.mean(axis=0)[0] - faithful.mean(axis=0)[0] > 30


def test_generate_layer_is_the_engine_image_scaled_with_a_full_mask() -> None:
    region = Rect(x=5, y=7, width=200, height=100)
    spec = JobSpec(job_id="g", mode=Mode.GENERATE, params=Params(), document=Size(width=300, height=300), region=region)
    plan = plan_job(spec, _caps())
    prepared = prepare(spec, plan)
    output = np.full((plan.working.height, plan.working.width, 3), (10, 200, 30), np.uint8)
    layer = compose(plan, prepared, output, index=0, seed=0, name="n", visible=True, color_match=True)
    assert layer.bounds == region
    assert (layer.mask == 255).all()
    assert (layer.pixels == (10, 200, 30, 255)).all()
