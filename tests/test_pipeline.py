"""run_pipeline: the one job path, end to end with the classic engine and with recording engines."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from builders import composite_of
from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, EngineError, JobCancelled, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.recipe import pixels_sha256

DOCUMENT = Size(width=1600, height=1200)
REGION = Rect(x=500, y=300, width=640, height=480)
"""What the client sent: an offset part of the document."""
SELECTION = (slice(180, 300), slice(240, 420))
"""Rows and columns of the selection inside REGION."""


def _photo(height: int, width: int) -> np.ndarray:
    """Opaque RGBA8 like a photo of a surface: colour blobs, diagonal stripes, grain."""
    rng = np.random.default_rng(11)
    ys, xs = np.mgrid[0:height, 0:width]
    blobs = cv2.resize(rng.normal(0, 1, (height // 32, width // 32, 3)).astype(np.float32), (width, height))
    stripes = 30 * np.sin((xs + 0.7 * ys) / 5.0)[..., None]
    rgb = 110 + 45 * blobs + stripes + rng.normal(0, 10, (height, width, 3))
    return np.concatenate([np.clip(rgb, 0, 255), np.full((height, width, 1), 255)], axis=2).astype(np.uint8)


def _mask() -> np.ndarray:
    mask = np.zeros((REGION.height, REGION.width), np.uint8)
    mask[SELECTION] = 255
    return mask


def _spec(mode: Mode = Mode.FILL, **params: object) -> JobSpec:
    return JobSpec(
        job_id="job-1",
        mode=mode,
        params=Params.model_validate(params),
        document=DOCUMENT,
        region=REGION,
        image=_photo(REGION.height, REGION.width),
        mask=_mask(),
        input_warnings=("The mask was resized to the image.",),
    )


def _ignore(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    pass


class Recording(ModellessEngine):
    """A fast engine that fills the mask with a seeded flat colour and logs what it sees."""

    def __init__(self, images: int | None = None, shape: tuple[int, ...] | None = None) -> None:
        self.events: list[str] = []
        self.work: list[WorkItem] = []
        self._images = images
        self._shape = shape

    @property
    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(
            name="recording",
            modes=frozenset({Mode.FILL, Mode.REMOVE}),
            uses_prompt=True,
            native_min=64,
            native_max=256,
            multiple=8,
            max_pixels=256 * 256,
        )

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        self.work.append(work)
        assert work.image is not None and work.mask is not None
        for index, seed in enumerate(work.seeds[: self._images]):
            image = work.image.copy()
            image[work.mask > 0] = (seed * 40 % 256, 90, 200)
            progress(index, 1, 1)
            self.events.append(f"yield {index}")
            yield image if self._shape is None else np.zeros(self._shape, np.uint8)


def _run(spec: JobSpec, engine: ClassicEngine | Recording, layers: list[VariantLayer] | None = None) -> LayeredResult:
    return run_pipeline(spec, engine, _ignore, CancelToken(), None if layers is None else layers.append)




def test_classic_fill_leaves_every_pixel_beyond_the_feathered_selection_bit_identical() -> None:
    spec = _spec(variants=2)
    result = _run(spec, ClassicEngine())
    grow, feather = 3, 5  # The planner's defaults for a 180 px selection.
    reach = 2 * (grow + feather) + 1
    near = cv2.dilate(_mask(), np.ones((reach, reach), np.uint8)) > 0
    assert spec.image is not None
    for layer in result.layers:
        composite = composite_of(result, layer)
        assert np.array_equal(composite[~near], spec.image[~near])
        assert np.abs(composite[SELECTION].astype(int) - spec.image[SELECTION].astype(int)).mean() > 5


def test_layers_stream_to_on_layer_as_each_variant_is_ready() -> None:
    engine = Recording()

    def on_layer(layer: VariantLayer) -> None:
        engine.events.append(f"layer {layer.index}")

    run_pipeline(_spec(variants=3), engine, _ignore, CancelToken(), on_layer)
    assert engine.events == ["yield 0", "layer 0", "yield 1", "layer 1", "yield 2", "layer 2"]


def test_layer_bounds_are_in_document_coordinates_when_the_region_is_offset() -> None:
    layers: list[VariantLayer] = []
    _run(_spec(), Recording(), layers)
    bounds = layers[0].bounds
    selection = Rect(x=REGION.x + 240, y=REGION.y + 180, width=180, height=120)
    assert bounds.intersect(selection) == selection
    assert bounds.intersect(REGION) == bounds
    assert layers[0].pixels.shape == (bounds.height, bounds.width, 4)
    assert layers[0].mask.shape == (bounds.height, bounds.width)


def test_engine_sees_only_working_size_data() -> None:
    engine = Recording()
    _run(_spec(), engine)
    (work,) = engine.work
    assert work.image is not None and work.mask is not None
    assert work.image.shape == (work.height, work.width, 3)
    assert work.mask.shape == (work.height, work.width)
    assert max(work.width, work.height) <= 256 and work.width % 8 == 0 and work.height % 8 == 0


def test_first_layer_is_visible_and_names_carry_the_seeds() -> None:
    result = _run(_spec(variants=3, seed=41, prompt="  a  brick   wall "), Recording())
    assert result.group_name == "a brick wall"
    assert [layer.visible for layer in result.layers] == [True, False, False]
    assert [layer.name for layer in result.layers] == [f"a brick wall #{i + 1} (seed {41 + i})" for i in range(3)]
    assert [layer.seed for layer in result.layers] == [41, 42, 43]


def test_group_is_named_after_the_mode_without_a_prompt() -> None:
    assert _run(_spec(Mode.REMOVE), Recording()).group_name == "Remove"


def test_recipe_records_engine_mode_params_seeds_and_input_hashes() -> None:
    spec = _spec(variants=2, seed=7, steps=5)
    recipe = _run(spec, Recording()).recipe
    assert (recipe.engine, recipe.mode, recipe.params, recipe.seeds) == ("recording", Mode.FILL, spec.params, [7, 8])
    assert (recipe.document, recipe.region) == (DOCUMENT, REGION)
    assert recipe.image_sha256 == pixels_sha256(spec.image)
    assert recipe.mask_sha256 == pixels_sha256(spec.mask)


def test_classic_engine_warns_that_it_ignores_the_prompt() -> None:
    result = _run(_spec(prompt="a cat"), ClassicEngine())
    assert result.warnings == ["The mask was resized to the image.", "The classic engine ignores prompts."]


def test_an_engine_that_uses_prompts_adds_no_warning() -> None:
    assert _run(_spec(prompt="a cat"), Recording()).warnings == ["The mask was resized to the image."]


def test_a_mode_the_engine_lacks_is_refused_as_unsupported() -> None:
    with pytest.raises(RequestError) as caught:
        _run(_spec(Mode.EXPAND), Recording())
    assert caught.value.code is ErrorCode.UNSUPPORTED_MODE


def test_an_empty_mask_is_refused() -> None:
    spec = _spec()
    empty = dataclasses.replace(spec, mask=np.zeros_like(_mask()))
    with pytest.raises(RequestError) as caught:
        _run(empty, Recording())
    assert caught.value.code is ErrorCode.EMPTY_MASK


def test_a_fill_without_an_image_is_refused() -> None:
    no_image = dataclasses.replace(_spec(), image=None)
    with pytest.raises(RequestError) as caught:
        _run(no_image, Recording())
    assert caught.value.code is ErrorCode.BAD_IMAGE


def test_a_mask_of_another_size_is_refused() -> None:
    wrong = dataclasses.replace(_spec(), mask=np.full((10, 10), 255, np.uint8))
    with pytest.raises(RequestError) as caught:
        _run(wrong, Recording())
    assert caught.value.code is ErrorCode.SIZE_MISMATCH


def test_a_region_outside_the_document_is_refused() -> None:
    outside = dataclasses.replace(_spec(), document=Size(width=800, height=600))
    with pytest.raises(RequestError) as caught:
        _run(outside, Recording())
    assert caught.value.code is ErrorCode.BAD_REGION


def test_cancel_after_a_variant_stops_before_the_next() -> None:
    cancel = CancelToken()
    delivered: list[VariantLayer] = []

    def on_layer(layer: VariantLayer) -> None:
        delivered.append(layer)
        cancel.cancel()

    with pytest.raises(JobCancelled):
        run_pipeline(_spec(variants=3), Recording(), _ignore, cancel, on_layer)
    assert [layer.index for layer in delivered] == [0]


def test_an_engine_returning_too_few_images_fails() -> None:
    with pytest.raises(EngineError) as caught:
        _run(_spec(variants=3), Recording(images=2))
    assert caught.value.code == ErrorCode.ENGINE_FAILED


def test_an_engine_returning_the_wrong_size_fails() -> None:
    with pytest.raises(EngineError) as caught:
        _run(_spec(), Recording(shape=(10, 10, 3)))
    assert caught.value.code == ErrorCode.ENGINE_FAILED
