"""`make bench`, speed part: Underpaint's engine against a plain fp32 diffusers call, and where the time went.

Issue 17's benchmark.

The SD 1.5 inpainting architecture with random weights (bench/diffusion.py builds and caches it), 512x512,
4 steps Euler, CFG 7, one image, the same seed:
(a) a plain fp32 `StableDiffusionInpaintPipeline.from_pretrained` call, what a user who pip-installs diffusers
gets; (b) Underpaint's diffusers engine as it ships on this machine (`dtype = "auto"`), through `Engine.run`.
Each side runs in its own process (so VmHWM is its own peak memory: (b)'s is read after its first run, before
any of the switches below), the runs interleaved a, b, a, b, ...; then PSNR of (b)'s image against (a)'s.

Each optimisation's own share, every one measured in the same round as a run of (b) and given as its ratio to
that run (the machine is shared and noisy; ratios within a round are what to read):
- bf16: (b) with `dtype = "fp32"`, in a process of its own, started for its run;
- channels-last UNet and VAE: (b)'s process with the memory format switched for one run;
- guidance_skip 0.3 (a quality trade, so with its PSNR against (a));
- prompt embeddings and the source's encoding once per job: what each extra variant would otherwise pay
  (the engine's own encode_prompt and VAE encodes, timed);
- tiled VAE: a 1024x1024 decode tiled and plain, each in its own process (time and peak memory);
- torch.compile (`BENCH_SPEED_COMPILE=1`; minutes of warm-up on a small CPU): the first job with an empty
  cache, the next job, and a second start on the filled cache.
Prints a Markdown section for docs/benchmarks.md with the CPU and its bf16/AMX flags. Random weights give
noise, not pictures; the arithmetic, and so the time, is the real model's.
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
COMPILE = os.environ.get("BENCH_SPEED_COMPILE") == "1"
SEED = 3
PROMPT = "a red cat on the sky"
SWITCHES = ({"dtype": "fp32"}, {"channels_last": ["unet"]}, {"channels_last": ["vae"]}, {"guidance_skip": 0.3})
"""Spread over the rounds (switch i in round i mod RUNS), each run once beside that round's run of (b)."""


def load_engine(dtype: str, scratch: Path, folder: Path, compile_cache: Path | None = None) -> Any:
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions
    from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

    registry = ModelRegistry(scratch / f"models-{os.getpid()}.json")
    registry.put(make_entry("sd15-inpaint-random", folder))
    options = LoadOptions(placement("cpu", dtype), compile=compile_cache is not None, compile_cache=compile_cache)
    engine = DiffusersEngine(registry, "sd15-inpaint-random", options)
    engine.cache.get(engine.entry(None))
    return engine


def worker(kind: str, folder: Path, scratch: Path) -> None:
    """Load one side, then run once per line read from stdin (a JSON switch); print each time and peak."""
    import torch
    from PIL import Image

    torch.set_num_threads(os.cpu_count() or 1)
    image, mask = textured(SIDE, SIDE)[..., :3], ellipse(SIDE, SIDE, (96, 96, 320, 320))
    if kind.startswith("vae-"):
        print(json.dumps({"ready": kind}), flush=True)
        decode_once(folder, tiled=kind == "vae-tiled")
        return
    if kind == "plain":
        from diffusers import StableDiffusionInpaintPipeline

        pipe = StableDiffusionInpaintPipeline.from_pretrained(folder, safety_checker=None, feature_extractor=None,
                                                              requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        label = "fp32"

        def once(switch: dict[str, Any]) -> np.ndarray:
            output = pipe(prompt=PROMPT, image=Image.fromarray(image), mask_image=Image.fromarray(mask),
                          width=SIDE, height=SIDE, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                          generator=torch.Generator("cpu").manual_seed(SEED), output_type="np")
            return np.asarray((output.images[0] * 255).round().clip(0, 255), dtype=np.uint8)
    else:
        from underpaint.core import Mode, Params
        from underpaint.engines.base import CancelToken, WorkItem

        cache = scratch / "compile-cache" if kind == "compiled" else None
        engine = load_engine("fp32" if kind == "engine-fp32" else "auto", scratch, folder, cache)
        label = engine.options.placement.label
        model = engine.cache.get(engine.entry(None))

        def once(switch: dict[str, Any]) -> np.ndarray:
            params = Params(prompt=PROMPT, steps=STEPS, guidance=GUIDANCE,
                            guidance_skip=switch.get("guidance_skip", 0.0))
            work = WorkItem(Mode.FILL, SIDE, SIDE, params, [SEED], image=image, mask=mask)
            parts = [getattr(model.base, name) for name in switch.get("channels_last", [])]
            for part in parts:
                part.to(memory_format=torch.channels_last)
            try:
                return next(iter(engine.run(work, lambda *_: None, CancelToken())))
            finally:
                for part in parts:
                    part.to(memory_format=torch.contiguous_format)
    print(json.dumps({"ready": label}), flush=True)
    for line in sys.stdin:
        if line.strip() == "shared":
            print(json.dumps(shared_work(model, image, mask)), flush=True)
            continue
        switch = json.loads(line)
        start = time.perf_counter()
        result = once(switch)
        seconds = time.perf_counter() - start
        np.save(scratch / image_name(kind, switch), result)
        print(json.dumps({"seconds": seconds, "peak_gib": vm_hwm(os.getpid())}), flush=True)


def shared_work(model: Any, image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Seconds of the work a job does once for all its variants: the prompt's encoding (with the negative
    prompt, for guidance) and the VAE encoding of the source and the masked source."""
    import torch

    from underpaint.core import Mode, Params
    from underpaint.engines.base import WorkItem
    from underpaint.engines.diffusers.calls import prompt_arguments

    work = WorkItem(Mode.FILL, SIDE, SIDE, Params(prompt=PROMPT, steps=STEPS, guidance=GUIDANCE), [SEED],
                    image=image, mask=mask)
    start = time.perf_counter()
    prompt_arguments(model, work)
    text = time.perf_counter() - start
    pixels = torch.randn(1, 3, SIDE, SIDE, dtype=model.placement.dtype)
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(2):
            model.base.vae.encode(pixels)
    return {"text": text, "encode": time.perf_counter() - start}


def decode_once(folder: Path, tiled: bool) -> None:
    """A 1024x1024 decode by the VAE in the engine's dtype, tiled or not: its seconds and this process's peak."""
    import torch
    from diffusers import AutoencoderKL

    from underpaint.engines.diffusers.casting import cast_module
    from underpaint.engines.diffusers.device import placement

    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    dtype = placement("cpu").dtype
    cast_module(vae, dtype)
    if tiled:
        vae.enable_tiling()
    latents = torch.randn(1, 4, 128, 128, dtype=dtype)
    start = time.perf_counter()
    with torch.inference_mode():
        vae.decode(latents)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_gib": vm_hwm(os.getpid())}), flush=True)


def image_name(kind: str, switch: dict[str, Any]) -> str:
    return f"{kind}-{switch_name(switch).replace(' ', '_')}.npy"


def switch_name(switch: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        return "+".join(value) if isinstance(value, list) else str(value)

    return " ".join(f"{key} {shown(value)}" for key, value in sorted(switch.items())) or "default"


class Worker:
    """One side of the comparison in its own process, driven a line at a time."""

    def __init__(self, kind: str, folder: Path, scratch: Path) -> None:
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, str(folder), str(scratch)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.label = str(self.reply()["ready"])

    def send(self, line: str) -> None:
        self.stdin.write(line + "\n")
        self.stdin.flush()

    def reply(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise SystemExit(f"a bench worker ended early (exit code {self.proc.wait()})")
        print(f"{self.kind}: {line.strip()}", file=sys.stderr, flush=True)  # each figure as it comes, on a long run
        return dict(json.loads(line))

    def run(self, switch: dict[str, Any] | None = None) -> dict[str, Any]:
        self.send(json.dumps(switch or {}))
        return self.reply()

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait()


def once_in_own_process(kind: str, folder: Path, scratch: Path) -> dict[str, Any]:
    worker = Worker(kind, folder, scratch)
    try:
        return worker.reply() if kind.startswith("vae-") else worker.run()
    finally:
        worker.close()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def cpu_flags() -> str:
    from underpaint.engines.diffusers.device import NATIVE_BF16_FLAGS, cpu_facts

    facts = cpu_facts()
    shown = sorted(flag for flag in facts.flags if flag in NATIVE_BF16_FLAGS or flag.startswith("amx"))
    return f"{', '.join(shown) or 'no bf16/AMX flags'}; torch CPU capability {facts.capability}"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    folder = build_sd15_inpaint(CACHE / "sd15-inpaint-random")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"underpaint-bench-speed-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    loads = [load_average()]
    plain, engine = Worker("plain", folder, scratch), Worker("engine", folder, scratch)
    times: dict[str, list[float]] = {"plain": [], "engine": []}
    peaks: dict[str, float] = {}
    switched: list[tuple[dict[str, Any], float, float]] = []  # switch, its seconds, (b)'s in the same round
    for round_index in range(RUNS):
        for kind, side in (("plain", plain), ("engine", engine)):
            reply = side.run()
            times[kind].append(reply["seconds"])
            peaks.setdefault(kind, reply["peak_gib"])
        for switch in SWITCHES[round_index::RUNS]:
            reply = (once_in_own_process("engine-fp32", folder, scratch) if switch.get("dtype") == "fp32"
                     else engine.run(switch))
            switched.append((switch, reply["seconds"], times["engine"][-1]))
        loads.append(load_average())
    engine.send("shared")
    shared = engine.reply()
    plain.close()
    engine.close()
    decodes = {tiled: once_in_own_process(f"vae-{tiled}", folder, scratch) for tiled in ("plain", "tiled")}
    reference = np.load(scratch / image_name("plain", {}))
    drift = psnr(np.load(scratch / image_name("engine", {})), reference)
    med = {kind: statistics.median(values) for kind, values in times.items()}
    print(f"## Speed ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/speed.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}. "
          f"SD 1.5 inpainting architecture, random weights, {SIDE}x{SIDE}, {STEPS} steps Euler, CFG {GUIDANCE}, "
          f"one image, seed {SEED}; each side in its own process, {RUNS} runs each, interleaved, models warm. "
          f"Load average (1, 5, 15 min) before and after each round: {' | '.join(loads)}.\n")
    print("| measure | median | runs (s) | peak memory | ratio to (a) |")
    print("|---|---|---|---|---|")
    for kind, label in (("plain", f"(a) plain diffusers call, {plain.label}"),
                        ("engine", f"(b) Underpaint's engine, {engine.label}")):
        runs = ", ".join(f"{value:.1f}" for value in times[kind])
        print(f"| {label} | {med[kind]:.1f} s | {runs} | {peaks[kind]:.2f} GiB | {med[kind] / med['plain']:.3f} |")
    print(f"\nDrift of (b) against (a), same seed: PSNR {drift:.1f} dB on the decoded 8-bit image.\n")
    print("| switch on (b), one run beside (b)'s run of the same round | seconds | (b) that round | ratio | note |")
    print("|---|---|---|---|---|")
    for switch, seconds, beside in switched:
        kind, kept = ("engine-fp32", {}) if switch.get("dtype") == "fp32" else ("engine", switch)
        path = scratch / image_name(kind, kept)
        note = f"PSNR {psnr(np.load(path), reference):.1f} dB against (a)"
        print(f"| {switch_name(switch)} | {seconds:.1f} | {beside:.1f} | {seconds / beside:.3f} | {note} |")
    print(f"\nDone once per job instead of once per variant (what each variant after the first saves, in "
          f"{engine.label}): the prompt and negative prompt's encoding {shared['text']:.2f} s; the VAE encoding "
          f"of the source and the masked source {shared['encode']:.2f} s.\n")
    print("| 1024x1024 VAE decode, engine's dtype, own process | seconds | peak memory |")
    print("|---|---|---|")
    for tiled, reply in decodes.items():
        print(f"| {tiled} | {reply['seconds']:.1f} | {reply['peak_gib']:.2f} GiB |")
    if COMPILE:
        compiled(folder, scratch)


def compiled(folder: Path, scratch: Path) -> None:
    """compile = true: first job with an empty cache, the next job, and a fresh process on the filled cache."""
    first = Worker("compiled", folder, scratch)
    cold, warm = first.run(), first.run()
    first.close()
    again = Worker("compiled", folder, scratch)
    second_start = again.run()
    again.close()
    drift = psnr(np.load(scratch / image_name("compiled", {})), np.load(scratch / image_name("engine", {})))
    print(f"\ncompile = true: first job (empty cache, includes compiling) {cold['seconds']:.1f} s, the next "
          f"{warm['seconds']:.1f} s; a second start's first job (filled cache) {second_start['seconds']:.1f} s; "
          f"PSNR against the eager engine {drift:.1f} dB.")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
