"""The fill path at its edges: expand, generate, canvas borders, tiny and huge selections, alpha, 16 bits."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from psd_tools import PSDImage

from builders import composite_of
from conftest import soft_ellipse, textured_rgba
from underpaint.core import ErrorCode, JobSpec, Margins, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import ClassicEngine
from underpaint.imaging.codec import decode_pixels, load_image
from underpaint.imaging.planner import grow_feather, mask_bounds, plan_context
from underpaint.imaging.quality import seam_ratio
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd


def _ignore(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    pass


class Flat(ModellessEngine):
    """A fast engine for geometry tests: every created pixel a seeded flat colour; can generate."""

    @property
    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(
            name="flat", modes=frozenset(Mode), uses_prompt=True, native_min=64, native_max=512, multiple=8,
            max_pixels=512 * 512,
        )

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        for seed in work.seeds:
            image = np.zeros((work.height, work.width, 3), np.uint8) if work.image is None else work.image.copy()
            image[...] = (seed % 256, 100, 50) if work.mask is None else image
            if work.mask is not None:
                image[work.mask > 0] = (seed % 256, 100, 50)
            yield image


def _spec(image: np.ndarray, mask: np.ndarray | None, mode: Mode = Mode.FILL, region: Rect | None = None,
          document: Size | None = None, **params: object) -> JobSpec:
    height, width = image.shape[:2]
    region = region or Rect(x=0, y=0, width=width, height=height)
    return JobSpec(
        job_id="edge", mode=mode, params=Params.model_validate(params),
        document=document or Size(width=region.right, height=region.bottom), region=region, image=image, mask=mask,
    )


def _reach(mask: np.ndarray, params: tuple[int, int]) -> np.ndarray:
    """Pixels within grow + feather of the selection (a square reaches at least as far as the round distance)."""
    size = 2 * sum(params) + 1
    return cv2.dilate((mask > 0).astype(np.uint8), np.ones((size, size), np.uint8)) > 0


def _unchanged_beyond(mask: np.ndarray, source: np.ndarray, result: LayeredResult, grow: int, feather: int) -> None:
    near = _reach(mask, (grow, feather))
    for layer in result.layers:
        assert np.array_equal(composite_of(result, layer)[~near], source[~near])


def _detail(rgb: np.ndarray, where: np.ndarray) -> float:
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[where].mean())


# --- expand -----------------------------------------------------------------------------------------------


def test_expand_grows_the_canvas_and_fills_the_new_strips_with_texture(tmp_path: Path) -> None:
    image = textured_rgba(150, 200, seed=3)
    spec = _spec(image, None, Mode.EXPAND, expand=Margins(left=40, bottom=30), grow=2, feather=4)
    result = run_pipeline(spec, ClassicEngine(), _ignore, CancelToken())
    assert result.recipe.document == Size(width=240, height=180)
    assert result.region == Rect(x=0, y=0, width=240, height=180)
    assert result.source is not None and result.source.shape == (180, 240, 4)
    assert np.array_equal(result.source[:150, 40:], image), "the original sits at the left/top margins"
    assert (result.source[:, :40, 3] == 0).all() and (result.source[150:, :, 3] == 0).all()
    composite = composite_of(result, result.layers[0])
    new = np.ones((180, 240), bool)
    new[:150, 40:] = False
    assert (composite[new][:, 3] == 255).all(), "the new strips are opaque"
    assert _detail(composite, new) > 0.5 * _detail(image, np.ones((150, 200), bool))
    # Beyond the new strips' grown and feathered edge the original is untouched.
    assert np.array_equal(composite[~_reach(new.astype(np.uint8), (2, 4))], result.source[~_reach(new, (2, 4))])
    write_psd(result, tmp_path / "expanded.psd")
    assert PSDImage.open(tmp_path / "expanded.psd").size == (240, 180)


def test_expand_of_a_region_at_the_right_edge_places_layers_in_the_expanded_document() -> None:
    document = Size(width=1000, height=800)
    region = Rect(x=800, y=300, width=200, height=100)
    spec = _spec(textured_rgba(100, 200), None, Mode.EXPAND, region, document, expand=Margins(left=10, right=60))
    result = run_pipeline(spec, Flat(), _ignore, CancelToken())
    # The left margin shifts everything right by 10; the region gains the right margin only.
    assert result.region == Rect(x=810, y=300, width=260, height=100)
    assert result.recipe.document == Size(width=1070, height=800)
    bounds = result.layers[0].bounds
    assert bounds.intersect(result.region) == bounds and bounds.right == 1070


def test_expand_with_a_mask_also_fills_the_selection() -> None:
    image = textured_rgba(120, 160)
    mask = np.zeros((120, 160), np.uint8)
    mask[50:70, 60:90] = 255
    spec = _spec(image, mask, Mode.EXPAND, expand=Margins(top=20))
    result = run_pipeline(spec, Flat(), _ignore, CancelToken())
    composite = composite_of(result, result.layers[0])
    assert (composite[20 + 55, 70, :3] == (0, 100, 50)).all()
    assert (composite[5, 80, :3] == (0, 100, 50)).all()


def test_expand_without_margins_or_away_from_the_edges_is_refused() -> None:
    with pytest.raises(RequestError) as caught:
        run_pipeline(_spec(textured_rgba(50, 50), None, Mode.EXPAND), Flat(), _ignore, CancelToken())
    assert caught.value.code is ErrorCode.INVALID_MESSAGE
    inner = _spec(textured_rgba(50, 50), None, Mode.EXPAND, Rect(x=10, y=10, width=50, height=50),
                  Size(width=100, height=100), expand=Margins(right=20))
    with pytest.raises(RequestError) as caught:
        run_pipeline(inner, Flat(), _ignore, CancelToken())
    assert caught.value.code is ErrorCode.BAD_REGION


# --- generate ----------------------------------------------------------------------------------------------


def test_generate_runs_through_the_same_path_and_the_classic_engine_declines_it() -> None:
    region = Rect(x=30, y=40, width=300, height=200)
    spec = JobSpec(job_id="g", mode=Mode.GENERATE, params=Params(seed=5), document=Size(width=800, height=600),
                   region=region)
    result = run_pipeline(spec, Flat(), _ignore, CancelToken())
    (layer,) = result.layers
    assert result.source is None and layer.bounds == region
    assert (layer.mask == 255).all() and (layer.pixels[..., :3] == (5, 100, 50)).all()
    with pytest.raises(RequestError) as caught:
        run_pipeline(spec, ClassicEngine(), _ignore, CancelToken())
    assert caught.value.code is ErrorCode.UNSUPPORTED_MODE


# --- selections at the edges of what makes sense ----------------------------------------------------------


@pytest.mark.parametrize(
    "rows, cols",
    [
        (slice(0, 60), slice(0, 90)),  # top-left corner
        (slice(140, 200), slice(0, 300)),  # the whole bottom edge
        (slice(0, 200), slice(250, 300)),  # the whole right edge
        (slice(0, 200), slice(120, 121)),  # one pixel wide, top to bottom
        (slice(96, 104), slice(146, 154)),  # 8x8
    ],
)
def test_selections_at_edges_and_tiny_ones_keep_the_invariant_and_get_filled(rows: slice, cols: slice) -> None:
    image = textured_rgba(200, 300, seed=1)
    mask = np.zeros((200, 300), np.uint8)
    mask[rows, cols] = 255
    result = run_pipeline(_spec(image, mask, grow=1, feather=2), ClassicEngine(), _ignore, CancelToken())
    _unchanged_beyond(mask, image, result, 1, 2)
    composite = composite_of(result, result.layers[0])
    assert np.abs(composite[mask > 0].astype(int) - image[mask > 0].astype(int)).mean() > 2


def test_the_whole_canvas_selected_gives_an_opaque_seeded_image() -> None:
    image = textured_rgba(64, 96)
    mask = np.full((64, 96), 255, np.uint8)
    result = run_pipeline(_spec(image, mask, variants=2), ClassicEngine(), _ignore, CancelToken())
    first, second = (composite_of(result, layer) for layer in result.layers)
    assert first.shape == (64, 96, 4) and (first[..., 3] == 255).all()
    assert not np.array_equal(first, second)


def test_a_soft_ring_shaped_selection_blends_in_proportion_to_the_mask() -> None:
    image = textured_rgba(160, 160, seed=2)
    ys, xs = np.mgrid[0:160, 0:160]
    r = np.hypot(ys - 80, xs - 80)
    mask = (np.clip(1 - np.abs(r - 40) / 15, 0, 1) * 255).astype(np.uint8)  # soft annulus, hole in the middle
    result = run_pipeline(_spec(image, mask, grow=0, feather=0), Flat(), _ignore, CancelToken())
    composite = composite_of(result, result.layers[0])
    assert np.array_equal(composite[r < 20], image[r < 20]), "the unselected middle is untouched"
    assert (composite[mask == 255][:, :3] == (0, 100, 50)).all()


def test_an_alpha_channel_outside_the_fill_is_kept_bit_for_bit() -> None:
    image = textured_rgba(120, 160)
    image[..., 3] = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (120, 1))
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 60:100] = 255
    result = run_pipeline(_spec(image, mask, grow=2, feather=3), ClassicEngine(), _ignore, CancelToken())
    _unchanged_beyond(mask, image, result, 2, 3)
    assert (result.layers[0].pixels[result.layers[0].mask == 255][:, 3] == 255).all(), "the fill is opaque"


def _png16(channels: int) -> bytes:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 65536, (24, 32, channels) if channels > 1 else (24, 32)).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_input_is_converted_with_a_warning(channels: int, tmp_path: Path) -> None:
    data = _png16(channels)
    pixels, notes = decode_pixels(data, "png", 32, 24, 4)
    assert pixels.shape == (24, 32, 4) and pixels.dtype == np.uint8
    assert notes and "8 bits" in notes[0]
    (tmp_path / "deep.png").write_bytes(data)
    _, notes = load_image(tmp_path / "deep.png", 4)
    assert notes and "8 bits" in notes[0]
    _, notes = load_image(Image.open(io.BytesIO(_png16(3)), formats=["PNG"]).convert("RGB"), 4)
    assert notes == [], "an 8-bit image says nothing"


def test_a_6000x4000_selection_in_a_12000x8000_document_stays_within_its_context_memory() -> None:
    document = Size(width=12000, height=8000)
    selection = Rect(x=3000, y=2000, width=6000, height=4000)
    # The client sends only the context rectangle (what the agent's `plan` message tells it).
    region = plan_context(document, selection, Flat().capabilities, Params())
    assert region.area < 0.4 * document.width * document.height
    image = np.empty((region.height, region.width, 4), np.uint8)
    image[...] = (90, 120, 60, 255)
    mask = np.zeros((region.height, region.width), np.uint8)
    inside = selection.offset(-region.x, -region.y)
    mask[inside.y : inside.bottom, inside.x : inside.right] = 200
    spec = _spec(image, mask, Mode.FILL, region, document)
    tracemalloc.start()
    try:
        result = run_pipeline(spec, Flat(), _ignore, CancelToken())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    layer = result.layers[0]
    assert layer.bounds == region and layer.pixels.shape == image.shape
    # The layer itself is 5 bytes a pixel (RGBA + mask); planning and blending add a few more at most,
    # far below one RGBA copy of the document (4 bytes a document pixel).
    assert peak < 12 * region.area, f"peak {peak / region.area:.1f} bytes per context pixel"
    assert peak < 4 * document.width * document.height


# --- seams ------------------------------------------------------------------------------------------------


def _seam(result: LayeredResult, source: np.ndarray) -> tuple[float, float]:
    """The seam measure of `underpaint.imaging.quality.seam_ratio` on the first layer's composite.

    Edge: every pixel where the layer mask is strictly between 0 and 255 (the feathered band
    the blend crosses). Nearby: the source outside the mask, at most 16 px from it. Ratios of
    Sobel gradient magnitudes of luminance, mean and 95th percentile: a seam shows as ratios
    well above 1, a seamless fill stays at the source's own texture (about 1; we allow 10 %
    for the grain that differs pixel by pixel between any two patches).
    """
    layer = result.layers[0]
    full = np.zeros(source.shape[:2], np.uint8)
    b = layer.bounds.offset(-result.region.x, -result.region.y)
    full[b.y : b.bottom, b.x : b.right] = layer.mask
    return seam_ratio(composite_of(result, layer), source, full)


def _periodic(height: int, width: int) -> np.ndarray:
    """RGBA8 a fill can continue: woven stripes, soft blotches on a period, grain."""
    rng = np.random.default_rng(9)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    weave = 40 * np.sin((xs + 0.6 * ys) / 5.0) + 25 * np.cos(ys / 7.0)
    blotch = 30 * np.sin(xs / 23.0) * np.cos(ys / 19.0)
    rgb = np.stack([120 + weave, 110 + blotch, 90 + 0.5 * weave - blotch], axis=-1)
    rgb += rng.normal(0, 8, (height, width, 3))
    return np.concatenate([rgb.clip(0, 255), np.full((height, width, 1), 255.0)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("shape", ["ellipse", "rectangle"])
@pytest.mark.parametrize("seed", [0, 5])
def test_a_classic_fill_has_no_seam_steeper_than_the_source_nearby(shape: str, seed: int) -> None:
    image = _periodic(300, 400)
    if shape == "ellipse":
        mask = soft_ellipse(300, 400, (120, 80, 160, 120))
    else:
        mask = np.zeros((300, 400), np.uint8)
        mask[100:190, 140:270] = 255
    result = run_pipeline(_spec(image, mask, seed=seed), ClassicEngine(), _ignore, CancelToken())
    mean, p95 = _seam(result, image)
    assert mean <= 1.1 and p95 <= 1.1, (mean, p95)


def test_the_seam_measure_catches_a_fill_that_does_not_match() -> None:
    image = textured_rgba(300, 400, seed=4)
    mask = np.zeros((300, 400), np.uint8)
    mask[100:190, 140:270] = 255
    result = run_pipeline(_spec(image, mask, feather=2), Flat(), _ignore, CancelToken())
    assert _seam(result, image)[0] > 1.5


# --- the invariant, on random soft masks, alpha and expansions ----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(8, 120),
    height=st.integers(8, 120),
    seed=st.integers(0, 2**16),
    blur=st.floats(0.5, 6.0),
    threshold=st.floats(0.3, 0.9),
    grow=st.one_of(st.none(), st.integers(0, 6)),
    feather=st.one_of(st.none(), st.integers(0, 10)),
)
def test_random_soft_masks_on_translucent_images_change_nothing_beyond_the_soft_selection(
    width: int, height: int, seed: int, blur: float, threshold: float, grow: int | None, feather: int | None
) -> None:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)  # random alpha too
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), blur)
    soft = np.clip((noise - noise.min()) / max(float(np.ptp(noise)), 1e-6) - threshold, 0, 1) * 4
    mask = np.round(np.clip(soft, 0, 1) * 255).astype(np.uint8)
    if not mask.any():
        mask[height // 2, width // 2] = 1
    spec = _spec(image, mask, grow=grow, feather=feather)
    result = run_pipeline(spec, Flat(), _ignore, CancelToken())
    g, f = grow_feather(mask_bounds(mask), spec.params)
    _unchanged_beyond(mask, image, result, g, f)


@settings(max_examples=25, deadline=None)
@given(
    margins=st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)).filter(any),
    width=st.integers(16, 100),
    height=st.integers(16, 100),
)
def test_any_expansion_keeps_the_original_pixels_beyond_the_seam(
    margins: tuple[int, int, int, int], width: int, height: int
) -> None:
    left, top, right, bottom = margins
    image = textured_rgba(height, width)
    spec = _spec(image, None, Mode.EXPAND, expand=Margins(left=left, top=top, right=right, bottom=bottom))
    result = run_pipeline(spec, Flat(), _ignore, CancelToken())
    assert result.region == Rect(x=0, y=0, width=width + left + right, height=height + top + bottom)
    new = np.ones((result.region.height, result.region.width), np.uint8)
    new[top : top + height, left : left + width] = 0
    assert result.source is not None
    _unchanged_beyond(new, result.source, result, *grow_feather(mask_bounds(new), spec.params))
    composite = composite_of(result, result.layers[0])
    assert (composite[new > 0][:, 3] == 255).all()
