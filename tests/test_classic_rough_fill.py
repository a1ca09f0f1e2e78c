"""The classic engine's rough fill: dominant offsets, the shift-map's graph cut, and the pyramid it starts."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from underpaint.engines.classic.offsets import dominant_offsets
from underpaint.engines.classic.rough import rough_fill
from underpaint.engines.classic.shiftmap import ShiftMap
from underpaint.engines.classic.synthesis import COARSE_SIDE, HOLE_BOUND, hole_levels

PERIOD = 9


def _stripes(height: int = 72, width: int = 96) -> np.ndarray:
    """RGB8 vertical stripes repeating every PERIOD pixels, with a colour ramp inside each period."""
    xs = np.arange(width) % PERIOD
    row = np.stack([xs * 25, 200 - xs * 20, (xs % 3) * 80], axis=-1).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))


def _square_hole(height: int = 72, width: int = 96) -> np.ndarray:
    hole = np.zeros((height, width), bool)
    hole[24:48, 36:62] = True
    return hole


def _photo_like(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (9, 12, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (96, 72), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 10, smooth.shape), 0, 255).astype(np.uint8)


def test_dominant_offsets_are_the_period_of_a_repeating_pattern() -> None:
    image = _stripes().astype(np.float32)
    offsets = dominant_offsets(image, _square_hole(), 4)
    # Vertical stripes match themselves at any vertical shift, and sideways only at whole periods.
    assert offsets.shape[1] == 2 and len(offsets) > 0
    assert all(dx % PERIOD == 0 for _, dx in offsets)


def test_a_hole_in_a_repeating_pattern_is_filled_without_a_seam() -> None:
    image, hole = _stripes(), _square_hole()
    filled = rough_fill(image, hole, seed=0)
    assert np.array_equal(filled, image)


def test_known_pixels_are_never_changed() -> None:
    image, hole = _photo_like(), _square_hole()
    filled = rough_fill(image, hole, seed=5)
    assert np.array_equal(filled[~hole], image[~hole])


def test_the_graph_cut_lowers_the_seam_energy_of_its_first_labelling() -> None:
    image, hole = _photo_like().astype(np.float32), _square_hole()
    offsets = np.array([(0, -30), (0, 30), (-26, 0), (26, 0), (-26, -30), (26, 30)], np.int64)
    energy = ShiftMap(image, hole, offsets, np.zeros(len(offsets)))
    first = np.argmin(energy.unary, axis=1)
    solved = energy.solve(np.arange(len(offsets)))
    assert energy.energy(solved) < energy.energy(first)
    # Every hole pixel copies a known pixel.
    ys, xs = energy.ys + offsets[solved, 0], energy.xs + offsets[solved, 1]
    assert not hole[ys, xs].any()


def test_each_seed_gives_its_own_rough_fill() -> None:
    image, hole = _photo_like(), _square_hole()
    fills = {rough_fill(image, hole, seed).tobytes() for seed in range(4)}
    assert len(fills) == 4


_IN_A_FRESH_PROCESS = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from test_classic_rough_fill import _photo_like, _square_hole
from underpaint.engines.classic.rough import rough_fill
print(hashlib.sha256(rough_fill(_photo_like(), _square_hole(), 7).tobytes()).hexdigest())
"""


def test_the_same_seed_gives_the_same_rough_fill_in_a_fresh_process() -> None:
    # OpenCV's shift-map, used before, read past its own list on some inputs and filled differently per process.
    here = hashlib.sha256(rough_fill(_photo_like(), _square_hole(), 7).tobytes()).hexdigest()
    tests = str(Path(__file__).parent)
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", _IN_A_FRESH_PROCESS, tests], capture_output=True, text=True,
                             check=True)
        assert run.stdout.strip() == here


def test_a_large_hole_halves_on_until_the_coarsest_hole_is_small() -> None:
    hole = np.zeros((512, 512), bool)
    hole[150:330, 160:340] = True
    levels = hole_levels(hole)
    assert max(levels[-1].shape) < COARSE_SIDE
    assert levels[-1].sum() <= HOLE_BOUND < levels[-2].sum()


def test_a_small_hole_stops_halving_at_the_coarse_side() -> None:
    hole = np.zeros((512, 512), bool)
    hole[200:220, 200:220] = True
    assert [level.shape for level in hole_levels(hole)] == [(512, 512), (256, 256), (128, 128)]
