"""`make bench`, training part (issue 15): LoRA training steps per second.

On every machine: the tiny random-weight SD 1.5 of the tests at 64 px (rank 4, batch 1), on this CPU,
at torch's default thread count and at one thread. On a machine with a CUDA GPU also: the SD 1.5
architecture with random weights at 512x512, rank 16, batch 1 and 4 (frozen weights bf16, adapters
fp32), with the peak GPU memory. Both load through Underpaint's own loader and train through
training/trainer.py, the code a user's training runs; the first steps (warm-up) are not timed.
Random weights give noise, not a look; the arithmetic, and so the time, is the real model's. Prints
a Markdown section for docs/benchmarks.md with the machine, its CPU flags and the GPU.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diffusion import build_sd15
from run import machine
from speed import cpu_flags
from tiny_datasets import brand_image
from tiny_pipelines import save_sd15
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.loader import LoadOptions, load_model
from underpaint.engines.diffusers.registry import make_entry
from underpaint.training.dataset import load_dataset
from underpaint.training.recipe import TrainingRecipe
from underpaint.training.trainer import Trainer

WARMUP, TIMED = 3, 20
IMAGES = 8


def _dataset(folder: Path, side: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(IMAGES):
        brand_image(index, (side, side)).resize((side, side), Image.Resampling.LANCZOS).save(folder / f"b{index}.png")
    return folder


def steps_per_second(model: Path, data: Path, work: Path, device: str, resolution: int, rank: int,
                     batch: int) -> tuple[float, list[float], float | None]:
    """(median steps/s, per-step seconds, peak GPU GiB) of TIMED steps after WARMUP."""
    where = placement(device, "bf16" if device == "cuda" else "fp32")
    loaded = load_model(make_entry("bench-base", model), LoadOptions(where))
    recipe = TrainingRecipe(name="bench", steps=WARMUP + TIMED, rank=rank, resolution=resolution, batch_size=batch)
    trainer = Trainer(loaded.base, loaded.arch.family, load_dataset(data, "bench", resolution), recipe, work)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    for step in range(1, WARMUP + TIMED + 1):
        started = time.perf_counter()
        trainer.step(step)
        if device == "cuda":
            torch.cuda.synchronize()
        if step > WARMUP:
            seconds.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return 1 / statistics.median(seconds), seconds, peak


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="underpaint-bench-training-"))
    tiny = save_sd15(scratch / "tiny-sd15")
    tiny_data = _dataset(scratch / "tiny-data", 64)
    rows = []
    threads = torch.get_num_threads()
    for count in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(count)
        rate, seconds, _ = steps_per_second(tiny, tiny_data, scratch / f"tiny-{count}", "cpu", 64, 4, 1)
        rows.append((f"tiny SD 1.5, 64 px, rank 4, batch 1, CPU fp32, {count} thread{'s' if count > 1 else ''}",
                     rate, seconds, None))
    torch.set_num_threads(threads)
    gpu = ""
    if torch.cuda.is_available():
        gpu = f"; GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}"
        full, data = build_sd15(scratch / "sd15"), _dataset(scratch / "data-512", 512)
        for batch in (1, 4):
            rate, seconds, peak = steps_per_second(full, data, scratch / f"sd15-{batch}", "cuda", 512, 16, batch)
            rows.append((f"SD 1.5 architecture, 512 px, rank 16, batch {batch}, GPU bf16 + fp32 adapters", rate,
                         seconds, peak))
    print(f"## Training ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/training.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}{gpu}. "
          f"LoRA training steps through `training/trainer.py` (UNet attention and projections, AdamW), "
          f"{WARMUP} warm-up steps, then {TIMED} timed; random weights; {IMAGES} drawn images.\n")
    print("| training | steps/s (median) | s/step min-max | images/s | peak GPU memory |")
    print("|---|---|---|---|---|")
    for label, rate, seconds, peak in rows:
        batch = 4 if "batch 4" in label else 1
        memory = f"{peak:.1f} GiB" if peak is not None else "-"
        print(f"| {label} | {rate:.2f} | {min(seconds):.3f}-{max(seconds):.3f} | {rate * batch:.2f} | {memory} |")
    if not torch.cuda.is_available():
        print("\nNo CUDA GPU on this machine: the SD 1.5 at 512 rows (rank 16, batch 1 and 4) are measured "
              "where one is (`python bench/training.py` there).")


if __name__ == "__main__":
    main()
