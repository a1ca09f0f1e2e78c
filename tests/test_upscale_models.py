"""Super-resolution models: registered from the files users download, detected by spandrel, run in tiles that
blend back to the untiled result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import textured_rgba
from tiny_upscalers import compact, esrgan, save_pth, save_safetensors
from underpaint.core import Size
from underpaint.engines.base import CancelToken, JobCancelled
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.registry import make_entry
from underpaint.engines.upscalers.runner import SuperResolution
from underpaint.engines.upscalers.spandrel_models import architectures, read_model
from underpaint.imaging.tiles import Grid, seam_ratio

IMAGE = textured_rgba(50, 70, seed=3)[..., :3]


def runner(path: Path, tile: int = 32, overlap: int = 8) -> SuperResolution:
    return SuperResolution(read_model(path), torch.device("cpu"), torch.float32, tile, overlap)


def test_a_real_esrgan_release_pth_registers_as_an_upscaler_with_its_detected_architecture(tmp_path: Path) -> None:
    entry = make_entry("general", save_pth(compact(scale=4), tmp_path / "realesr-general-x4v3.pth"), upscaler=True)
    assert (entry.role, entry.architecture, entry.kind) == ("upscaler", "RealESRGAN Compact x4", "single_file")


def test_a_safetensors_upscaler_registers_with_its_scale(tmp_path: Path) -> None:
    entry = make_entry("x2", save_safetensors(compact(scale=2), tmp_path / "2x-compact.safetensors"), upscaler=True)
    assert entry.architecture == "RealESRGAN Compact x2"


def test_an_esrgan_in_the_original_key_layout_is_detected(tmp_path: Path) -> None:
    entry = make_entry("ultra", save_pth(esrgan(), tmp_path / "4x-ultra.pth", wrap=None), upscaler=True)
    assert entry.architecture == "ESRGAN x4"


def test_spandrel_loads_here_leaving_out_only_the_architectures_that_need_torchvision() -> None:
    _, left_out = architectures()
    assert set(left_out) <= {"LaMa", "RestoreFormer"}


def test_a_corrupt_model_file_is_refused_as_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"PK\x03\x04 not a torch archive")
    with pytest.raises(ModelFileError, match="cannot be read"):
        make_entry("broken", broken, upscaler=True)


def test_weights_of_no_known_architecture_are_refused(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(ModelFileError, match="no architecture"):
        make_entry("mystery", save_safetensors(net, tmp_path / "mystery.safetensors"), upscaler=True)


def test_a_file_of_another_kind_is_refused_by_its_suffix(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ModelFileError, match="not a super-resolution model file"):
        make_entry("notes", other, upscaler=True)


def test_tiles_blend_back_to_the_untiled_run(tmp_path: Path) -> None:
    # The net's three 3x3 convolutions see 3 pixels around each one: within the quarter of the overlap the
    # blend never uses, so every pixel the blend takes is the untiled network's (and no grid can show).
    model = runner(save_pth(compact(scale=2, convolutions=1), tmp_path / "x2.pth"), tile=44, overlap=14)
    tiled = model.enlarge(IMAGE, lambda done, count: None, CancelToken())
    whole = model.run_tile(IMAGE)
    assert len(model.grid(Size(width=70, height=50)).tiles()) == 4
    assert tiled.shape == whole.shape == (100, 140, 3)
    assert int(np.abs(tiled.astype(int) - whole).max()) <= 1


def test_progress_comes_per_tile_and_cancel_stops_between_tiles(tmp_path: Path) -> None:
    model = runner(save_pth(compact(scale=2), tmp_path / "x2.pth"))
    cancel, seen = CancelToken(), []

    def progress(done: int, count: int) -> None:
        seen.append((done, count))
        cancel.cancel()

    with pytest.raises(JobCancelled):
        model.enlarge(IMAGE, progress, cancel)
    assert seen == [(1, len(model.grid(Size(width=70, height=50)).tiles()))]


def test_the_seam_measure_finds_a_hard_tile_edge() -> None:
    grid = Grid.over(Size(width=96, height=64), 40, 8)
    smooth = np.tile(np.arange(96, dtype=np.float32) * 2, (64, 1))
    stepped = smooth.copy()
    stepped[:, grid.columns[1][0]:] += 12  # a tile a shade brighter from its first column on
    assert seam_ratio(smooth.astype(np.uint8), grid) == pytest.approx(1.0)
    assert seam_ratio(stepped.astype(np.uint8), grid) > 1.5
