"""`make bench`, upscale part: 2x and 4x upscales of a 1024x1024 image through the job path.

(a) super-resolution with a random-weight network of a real architecture at its real size: SRVGGNetCompact
in the shape of Real-ESRGAN's realesr-general-x4v3 (64 features, 32 convolutions), as a 4x network and, for
2x, the same body with a 2x head (the shape of OpenModelDB's 2x Compact models); registered and run as a
user's would be (spandrel detection, 256-pixel tiles with 32 of overlap, the agent's dtype);
(b) the weightless default, Lanczos with a light unsharp mask.
Random weights give noise, not pictures; the arithmetic, and so the time, is the real network's. Prints a
Markdown section for docs/benchmarks.md with the CPU and its bf16/AMX flags.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from run import machine, textured
from speed import cpu_flags
from tiny_upscalers import compact, save_pth
from underpaint.api import Underpaint
from underpaint.config import Settings
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.engines.upscalers.runner import OVERLAP, TILE
from underpaint.engines.upscalers.spandrel_models import read_model

RUNS = int(os.environ.get("BENCH_UPSCALE_RUNS", "1"))
SIDE = 1024


def peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_gib() -> float:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 2**20


def timed(call: object) -> tuple[list[float], float]:
    """Seconds of each of RUNS calls, and the peak resident memory over them (GiB)."""
    assert callable(call)
    peak_reset()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times, peak_gib()


def one_tile_seconds(path: Path, dtype: torch.dtype) -> float:
    """One 256-pixel tile through the network in `dtype`, warm."""
    from underpaint.engines.upscalers.runner import SuperResolution

    runner = SuperResolution(read_model(path), torch.device("cpu"), dtype)
    tile = textured(TILE, TILE)[..., :3]
    runner.run_tile(tile[:32, :32])
    started = time.perf_counter()
    runner.run_tile(tile)
    return time.perf_counter() - started


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="underpaint-bench-upscale-"))
    settings = Settings(data_dir=folder / "data")
    registry = ModelRegistry(settings.models_path)
    nets = {"x4": save_pth(compact(scale=4, features=64, convolutions=32), folder / "realesr-general-x4v3.pth"),
            "x2": save_pth(compact(scale=2, features=64, convolutions=32), folder / "2x-compact.pth")}
    for name, path in nets.items():
        registry.put(make_entry(name, path, upscaler=True))
    up = Underpaint(settings, {"classic": ClassicEngine()})
    image = textured(SIDE, SIDE)
    rows = []
    for factor in (2, 4):
        net = f"x{factor}"
        assert up.intake.upscalers is not None
        up.intake.upscalers.load(net)  # loaded (and kept warm) before the clock starts, as in a running agent
        times, peak = timed(lambda net=net, factor=factor: up.upscale(image, factor=factor, upscaler=net))
        rows.append((f"{factor}x, (a) SRVGGNetCompact 64x32 ({net} head)", times, peak))
        times, peak = timed(lambda factor=factor: up.upscale(image, factor=factor))
        rows.append((f"{factor}x, (b) Lanczos + unsharp mask", times, peak))
    where = placement("cpu")
    tiles = {dtype: one_tile_seconds(nets["x4"], dtype) for dtype in (where.dtype, torch.float32)}
    print(f"## Upscale ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/upscale.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, super-resolution in {where.label}. "
          f"A {SIDE}x{SIDE} RGBA image upscaled through the job path (`Underpaint.upscale`, the layer and its "
          f"Background built, no files written), {RUNS} run(s) each; the network in {TILE}-pixel tiles with "
          f"{OVERLAP} pixels of overlap, random weights, loaded before timing.\n")
    print("| upscale | median | runs (s) | peak resident memory of the process | output |")
    print("|---|---|---|---|---|")
    for label, times, peak in rows:
        factor = int(label[0])
        runs = ", ".join(f"{value:.2f}" for value in times)
        print(f"| {label} | {statistics.median(times):.2f} s | {runs} | {peak:.2f} GiB | "
              f"{SIDE * factor}x{SIDE * factor} |")
    label = str(where.dtype).removeprefix("torch.")
    print(f"\nOne {TILE}x{TILE} tile through the 4x network, warm: {tiles[where.dtype]:.2f} s in {label}, "
          f"{tiles[torch.float32]:.2f} s in float32.")


if __name__ == "__main__":
    main()
