"""Classic engine's synthesis: the work it skips (settled EM iterations) and its seam correction."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from underpaint.core import Mode, Params
from underpaint.engines.base import CancelToken, WorkItem
from underpaint.engines.classic import ClassicEngine, patchmatch, synthesis


def _square_hole(size: int, side: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    start = (size - side) // 2
    hole[start : start + side, start : start + side] = True
    return hole


def _ring(hole: np.ndarray, width: int) -> np.ndarray:
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * width + 1, 2 * width + 1), np.uint8)) > 0
    ring: np.ndarray = grown & ~hole
    return ring


def test_the_seam_correction_removes_a_constant_colour_offset_everywhere_in_the_hole() -> None:
    hole = _square_hole(160, 100)
    ring = _ring(hole, 6)
    error = np.zeros((160, 160, 3), np.float32)
    error[ring] = (40.0, -25.0, 15.0)
    spread = synthesis._membrane(error, ring, hole)
    # To two grey levels: Telea along the edge is a shade off a constant at the hole's corners.
    assert np.abs(spread[hole] - (40.0, -25.0, 15.0)).max() < 2.0


def test_deep_inside_the_hole_the_seam_correction_is_smooth_whatever_the_edge_error_grain() -> None:
    hole = _square_hole(200, 140)
    ring = _ring(hole, 6)
    error = np.zeros((200, 200, 3), np.float32)
    error[ring] = np.random.default_rng(0).normal(0, 20, (int(ring.sum()), 3))
    spread = synthesis._membrane(error, ring, hole)
    deep = cv2.erode(hole.astype(np.uint8), np.ones((2 * synthesis.BAND + 3,) * 2, np.uint8)) > 0
    grain = np.abs(cv2.Laplacian(spread[..., 0], cv2.CV_32F))[deep].mean()
    edge_grain = np.abs(cv2.Laplacian(error[..., 0], cv2.CV_32F))[ring].mean()
    assert grain < 0.01 * edge_grain


def _textured(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = 120 + 35 * np.sin((xs + 0.5 * ys) / 3.0)[..., None] + rng.normal(0, 8, (height, width, 3))
    image: np.ndarray = np.clip(rgb, 0, 255).astype(np.uint8)
    return image


def _votes(monkeypatch: pytest.MonkeyPatch) -> int:
    calls = 0
    vote = patchmatch.vote

    def counted(*args: Any) -> None:
        nonlocal calls
        calls += 1
        vote(*args)

    monkeypatch.setattr(patchmatch, "vote", counted)
    mask = np.zeros((192, 256), np.uint8)
    mask[64:128, 88:168] = 255
    work = WorkItem(mode=Mode.FILL, width=256, height=192, params=Params(), seeds=[3], image=_textured(192, 256),
                    mask=mask)
    list(ClassicEngine().run(work, lambda *_: None, CancelToken()))
    return calls


def test_a_level_whose_fill_has_settled_stops_iterating_early(monkeypatch: pytest.MonkeyPatch) -> None:
    settled = _votes(monkeypatch)
    monkeypatch.setattr(synthesis, "CONVERGED", 0.0)  # never settled: every iteration runs
    assert settled < _votes(monkeypatch)
