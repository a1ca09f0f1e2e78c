"""`make bench`, speed part: Underpaint's engine against a plain fp32 diffusers call (issue 17).

The SD 1.5 inpainting architecture with random weights (bench/diffusion.py builds
and caches it), 512x512, 4 steps Euler, CFG 7, one image, the same seed:
(a) a plain fp32 `StableDiffusionInpaintPipeline.from_pretrained` call, what a
user who pip-installs diffusers gets; (b) Underpaint's diffusers engine with the
arithmetic it picks on this machine (`dtype = "auto"`), through `Engine.run`.
Each runs in its own process (so VmHWM is its own peak memory), the runs
interleaved a, b, a, b, ...; then PSNR of (b)'s image against (a)'s. Prints a
Markdown section for docs/benchmarks.md with the CPU and its bf16/AMX flags.
Random weights give noise, not pictures; the arithmetic, and so the time, is the
real model's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from diffusion import CACHE, GUIDANCE, SIDE, STEPS, build_sd15_inpaint, vm_hwm
from run import ellipse, machine, textured

RUNS = int(os.environ.get("BENCH_SPEED_RUNS", "3"))
SEED = 3
PROMPT = "a red cat on the sky"


def worker(kind: str, folder: Path, out: Path) -> None:
    """Load (a) or (b), then run once per line read from stdin; print each time, save the last image."""
    import torch
    from PIL import Image

    torch.set_num_threads(os.cpu_count() or 1)
    image, mask = textured(SIDE, SIDE)[..., :3], ellipse(SIDE, SIDE, (96, 96, 320, 320))
    if kind == "plain":
        from diffusers import StableDiffusionInpaintPipeline

        pipe = StableDiffusionInpaintPipeline.from_pretrained(folder, safety_checker=None, feature_extractor=None,
                                                              requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        label = "fp32"

        def once() -> np.ndarray:
            output = pipe(prompt=PROMPT, image=Image.fromarray(image), mask_image=Image.fromarray(mask),
                          width=SIDE, height=SIDE, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                          generator=torch.Generator("cpu").manual_seed(SEED), output_type="np")
            return np.asarray((output.images[0] * 255).round().clip(0, 255), dtype=np.uint8)
    else:
        from underpaint.core import Mode, Params
        from underpaint.engines.base import CancelToken, WorkItem
        from underpaint.engines.diffusers.device import placement
        from underpaint.engines.diffusers.engine import DiffusersEngine
        from underpaint.engines.diffusers.loader import LoadOptions
        from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

        registry = ModelRegistry(out.parent / "models.json")
        registry.put(make_entry("sd15-inpaint-random", folder))
        engine = DiffusersEngine(registry, "sd15-inpaint-random", LoadOptions(placement("cpu")))
        engine.cache.get(engine.entry(None))
        label = engine.options.placement.label
        work = WorkItem(Mode.FILL, SIDE, SIDE, Params(prompt=PROMPT, steps=STEPS, guidance=GUIDANCE), [SEED],
                        image=image, mask=mask)

        def once() -> np.ndarray:
            return next(iter(engine.run(work, lambda *_: None, CancelToken())))
    print(json.dumps({"ready": label}), flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        result = once()
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
    np.save(out, result)
    print(json.dumps({"peak_gib": vm_hwm(os.getpid())}), flush=True)


class Worker:
    """One side of the comparison in its own process, driven a line at a time."""

    def __init__(self, kind: str, folder: Path, out: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, str(folder), str(out)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def send(self, line: str) -> None:
        self.stdin.write(line + "\n")
        self.stdin.flush()

    def reply(self, key: str) -> Any:
        return json.loads(self.stdout.readline())[key]

    def finish(self) -> float:
        """Its peak memory (GiB) once it has saved its last image and ended."""
        self.stdin.close()
        peak = float(self.reply("peak_gib"))
        self.proc.wait()
        return peak


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def cpu_flags() -> str:
    from underpaint.engines.diffusers.device import NATIVE_BF16_FLAGS, cpu_facts

    facts = cpu_facts()
    shown = sorted(flag for flag in facts.flags if flag in NATIVE_BF16_FLAGS or flag.startswith("amx"))
    return f"{', '.join(shown) or 'no bf16/AMX flags'}; torch CPU capability {facts.capability}"


def main() -> None:
    folder = build_sd15_inpaint(CACHE / "sd15-inpaint-random")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"underpaint-bench-speed-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    procs = {kind: Worker(kind, folder, scratch / f"{kind}.npy") for kind in ("plain", "engine")}
    labels = {kind: proc.reply("ready") for kind, proc in procs.items()}
    times: dict[str, list[float]] = {"plain": [], "engine": []}
    for _ in range(RUNS):
        for kind, proc in procs.items():
            proc.send("run")
            times[kind].append(proc.reply("seconds"))
    peaks = {kind: proc.finish() for kind, proc in procs.items()}
    drift = psnr(np.load(scratch / "engine.npy"), np.load(scratch / "plain.npy"))
    med = {kind: statistics.median(values) for kind, values in times.items()}
    print(f"## Speed ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/speed.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}. "
          f"SD 1.5 inpainting architecture, random weights, {SIDE}x{SIDE}, {STEPS} steps Euler, CFG {GUIDANCE}, "
          f"one image, seed {SEED}; each side in its own process, {RUNS} runs each, interleaved, models warm.\n")
    print("| measure | median | runs (s) | peak memory | ratio |")
    print("|---|---|---|---|---|")
    rows = (("plain", f"(a) plain diffusers call, {labels['plain']}"),
            ("engine", f"(b) Underpaint's engine, {labels['engine']}"))
    for kind, label in rows:
        runs = ", ".join(f"{value:.1f}" for value in times[kind])
        print(f"| {label} | {med[kind]:.1f} s | {runs} | {peaks[kind]:.2f} GiB | {med[kind] / med['plain']:.3f} |")
    print(f"\nDrift of (b) against (a), same seed: PSNR {drift:.1f} dB on the decoded 8-bit image.")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
