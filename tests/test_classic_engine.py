"""Classic engine: a real content-aware fill (texture, not blur), seeded variants, progress, cancel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from underpaint.core import ErrorCode, Mode, Params
from underpaint.engines.base import CancelToken, EngineError, JobCancelled, WorkItem
from underpaint.engines.classic import ClassicEngine, patchmatch, steps_for

HEIGHT, WIDTH = 192, 256
HOLE = (slice(64, 128), slice(88, 168))


def _textured(height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """RGB8 like a photo of a surface: soft colour blobs, diagonal stripes, grain."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    blobs = cv2.resize(rng.normal(0, 1, (height // 16, width // 16, 3)).astype(np.float32), (width, height))
    stripes = 35 * np.sin((xs + 0.5 * ys) / 3.0)[..., None]
    rgb = 120 + 40 * blobs + stripes + rng.normal(0, 12, (height, width, 3))
    image: np.ndarray = np.clip(rgb, 0, 255).astype(np.uint8)
    return image


def _hole_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[HOLE] = 255
    return mask


def _work(seeds: list[int], mode: Mode = Mode.FILL, image: np.ndarray | None = None) -> WorkItem:
    return WorkItem(
        mode=mode,
        width=WIDTH,
        height=HEIGHT,
        params=Params(variants=len(seeds)),
        seeds=seeds,
        image=_textured() if image is None else image,
        mask=_hole_mask(),
    )


def _ignore(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    pass


def _run(seeds: list[int], mode: Mode = Mode.FILL) -> list[np.ndarray]:
    return list(ClassicEngine().run(_work(seeds, mode), _ignore, CancelToken()))


def _detail(image: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute Laplacian: the high-frequency energy a blur removes."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[where].mean())


def test_fill_continues_texture_into_the_hole_instead_of_blurring_it() -> None:
    (filled,) = _run([0])
    hole = _hole_mask() > 0
    # Keep the hole's own border out: both fills are continuous with the surroundings there.
    inner = cv2.erode(hole.astype(np.uint8), np.ones((9, 9))) > 0
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((33, 33))) > 0) & ~hole
    telea = cv2.inpaint(_textured(), _hole_mask(), 5, cv2.INPAINT_TELEA)
    surroundings = _detail(_textured(), ring)
    assert _detail(filled, inner) > 0.6 * surroundings
    assert _detail(filled, inner) > 4 * _detail(telea, inner)


def test_known_pixels_come_back_unchanged() -> None:
    (filled,) = _run([3])
    known = _hole_mask() == 0
    assert np.array_equal(filled[known], _textured()[known])


def test_different_seeds_give_visibly_different_fills() -> None:
    fills = _run([0, 1, 2, 9])
    hole = _hole_mask() > 0
    for i in range(len(fills)):
        for j in range(i + 1, len(fills)):
            assert np.abs(fills[i][hole].astype(int) - fills[j][hole].astype(int)).mean() > 10


def test_the_same_seed_gives_the_same_fill() -> None:
    first, again = _run([7]), _run([7])
    assert np.array_equal(first[0], again[0])


def test_the_same_seed_gives_the_same_fill_on_one_thread_or_on_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patchmatch, "PARALLEL_TARGETS", 0)  # every level's kernels on every thread
    on_all = _run([5])
    monkeypatch.setattr(patchmatch, "_ALL_THREADS", 1)
    assert np.array_equal(on_all[0], _run([5])[0])


def test_remove_mode_fills_like_fill() -> None:
    (removed,) = _run([0], Mode.REMOVE)
    assert removed.shape == (HEIGHT, WIDTH, 3) and removed.dtype == np.uint8


def test_progress_reports_every_step_of_every_variant_in_order() -> None:
    calls: list[tuple[int, int, int]] = []

    def record(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
        calls.append((variant, step, steps))

    work = _work([4, 5])
    list(ClassicEngine().run(work, record, CancelToken()))
    steps = steps_for(work)
    assert steps > 3, "one step per EM iteration, so long fills move the bar"
    assert calls == [(v, s, steps) for v in (0, 1) for s in range(1, steps + 1)]


def test_cancel_between_steps_raises_job_cancelled() -> None:
    cancel = CancelToken()
    seen: list[int] = []

    def cancel_after_first_step(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
        seen.append(step)
        cancel.cancel()

    with pytest.raises(JobCancelled):
        list(ClassicEngine().run(_work([0, 1]), cancel_after_first_step, cancel))
    assert seen == [1]


def test_whole_image_selected_still_gives_a_seeded_image() -> None:
    work = _work([0, 1])
    full = WorkItem(
        mode=Mode.FILL,
        width=WIDTH,
        height=HEIGHT,
        params=work.params,
        seeds=[0, 1],
        image=work.image,
        mask=np.full((HEIGHT, WIDTH), 255, np.uint8),
    )
    first, second = ClassicEngine().run(full, _ignore, CancelToken())
    assert first.shape == (HEIGHT, WIDTH, 3)
    assert not np.array_equal(first, second)


def test_hole_touching_the_corner_is_filled_with_texture() -> None:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[:60, :80] = 255
    work = WorkItem(
        mode=Mode.FILL, width=WIDTH, height=HEIGHT, params=Params(), seeds=[6], image=_textured(), mask=mask
    )
    (filled,) = ClassicEngine().run(work, _ignore, CancelToken())
    assert _detail(filled, mask > 0) > 0.5 * _detail(_textured(), mask == 0)


def test_generate_is_declined_as_unsupported_with_a_reason() -> None:
    with pytest.raises(EngineError) as caught:
        _run([0], Mode.GENERATE)
    assert caught.value.code == ErrorCode.UNSUPPORTED_MODE
    assert "no" in caught.value.message and "continue" in caught.value.message
    assert Mode.GENERATE not in ClassicEngine().capabilities.modes


def test_capabilities_say_it_ignores_prompts() -> None:
    caps = ClassicEngine().capabilities
    assert caps.name == "classic" and not caps.uses_prompt
    assert caps.modes == {Mode.FILL, Mode.REMOVE, Mode.EXPAND}


def test_cancel_during_synthesis_stops_within_the_variant() -> None:
    cancel = CancelToken()
    seen: list[int] = []

    def cancel_at_third_step(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
        seen.append(step)
        if step == 3:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        list(ClassicEngine().run(_work([0]), cancel_at_third_step, cancel))
    assert seen == [1, 2, 3]


def test_a_large_working_size_keeps_the_grain_of_the_surroundings() -> None:
    # 768x576 with a 300x200 hole: the old 320 px shift-map would have worked this at 40 % scale.
    image = _textured(576, 768, seed=4)
    mask = np.zeros((576, 768), np.uint8)
    mask[180:380, 230:530] = 255
    work = WorkItem(mode=Mode.FILL, width=768, height=576, params=Params(), seeds=[2], image=image, mask=mask)
    (filled,) = ClassicEngine().run(work, _ignore, CancelToken())
    hole = mask > 0
    inner = cv2.erode(mask, np.ones((9, 9), np.uint8)) > 0
    ring = (cv2.dilate(mask, np.ones((33, 33), np.uint8)) > 0) & ~hole
    assert _detail(filled, inner) > 0.8 * _detail(image, ring)


def test_a_one_pixel_wide_hole_is_filled_and_nothing_else_moves() -> None:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[:, 100] = 255
    work = WorkItem(mode=Mode.FILL, width=WIDTH, height=HEIGHT, params=Params(), seeds=[1], image=_textured(),
                    mask=mask)
    (filled,) = ClassicEngine().run(work, _ignore, CancelToken())
    assert np.array_equal(filled[mask == 0], _textured()[mask == 0])
    assert np.abs(filled[:, 100].astype(int) - _textured()[:, 100].astype(int)).mean() > 1
