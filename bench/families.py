"""`make bench`, model families part (issue 16): per-step time of each family's tiny pipeline on the CPU, and on a
GPU FLUX.1 [dev]'s real architecture at 1024x1024 with the memory options off and on.

CPU (the default): the tests' tiny random-weight FLUX.1 [dev], [schnell], Fill, Kontext and SD 3.5 models
(tests/tiny_flux.py, tests/tiny_sd3.py), saved as diffusers folders, registered and run through Underpaint's
diffusers engine (`Engine.run`, dtype as the agent picks it here) at 64x64 in each family's main mode. The time
of a step is the time between two progress calls (one transformer pass and a scheduler step); the table gives
the median over every step after the first of a few variants, measured in one run. The tiny models' time is
mostly overhead, not arithmetic: read the ratios between families, not the seconds.

GPU (`--gpu`, on a machine with an NVIDIA GPU and a CUDA build of torch): FLUX.1 [dev]'s architecture at its
published sizes (FluxTransformer2DModel's defaults with guidance_embeds, T5-XXL, CLIP-L, the 16-channel VAE),
random weights made on the GPU in bf16, 1024x1024, through FluxPipeline with
- off: every part on the GPU;
- drop T5: T5 freed after the prompt is encoded (the `drop_text_encoders` setting) - the steps are the same,
  the peak is not;
- model offload (`cpu_offload = true`): each part on the GPU only while it runs;
- sequential offload (`cpu_offload = "sequential"`): each layer on the GPU only while it runs.
it/s from the denoising steps alone (the progress calls' times), peak GPU memory for each. `--dry-run` runs the
GPU path's code on the CPU with tiny configs (tests/test_families_bench.py; the two offload rows there run
without offload, which needs CUDA).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from run import machine
from speed import cpu_flags, load_average
from underpaint.core import Mode, Params
from underpaint.engines.base import CancelToken, WorkItem

SIDE, STEPS, VARIANTS, ROUNDS = 64, 4, 2, 3
MAIN_MODE = {"flux-dev": Mode.GENERATE, "flux-schnell": Mode.GENERATE, "flux-fill": Mode.FILL,
             "flux-kontext": Mode.EDIT, "sd3": Mode.GENERATE}


def step_times(run: Callable[[Callable[..., None]], Any]) -> list[float]:
    """Seconds between successive progress calls of `run` within each variant (its first step left out)."""
    stamps: list[tuple[int, int, float]] = []
    run(lambda variant, step, steps, preview=None: stamps.append((variant, step, time.perf_counter())))
    return [later - earlier for (va, sa, earlier), (vb, sb, later) in itertools.pairwise(stamps)
            if va == vb and sb == sa + 1 and sa >= 1]


def cpu_section() -> str:
    from tiny_flux import build_tiny_families
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions
    from underpaint.engines.diffusers.registry import ModelRegistry

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[16:48, 16:48] = 255
    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="underpaint-bench-families-") as temp:
        registry = ModelRegistry(build_tiny_families(Path(temp)))
        chosen = placement("cpu")
        engine = DiffusersEngine(registry, "flux-dev", LoadOptions(chosen), max_models=5)
        jobs = {}
        for model, mode in MAIN_MODE.items():
            params = Params(prompt="make the jacket red", model=model, steps=STEPS, variants=VARIANTS, seed=1)
            jobs[model] = WorkItem(mode=mode, width=SIDE, height=SIDE, params=params, seeds=params.seeds(),
                                   image=None if mode is Mode.GENERATE else image, mask=mask)
            list(engine.run(replace(jobs[model], seeds=[0]), lambda *a: None, CancelToken()))  # loaded and warm
        times: dict[str, list[float]] = {model: [] for model in jobs}
        for _ in range(ROUNDS):  # interleaved, so a busy moment of the machine falls on every family alike
            for model, job in jobs.items():
                times[model] += step_times(lambda progress, job=job: list(engine.run(job, progress, CancelToken())))
        rows = [f"| {model} | {MAIN_MODE[model]} | {statistics.median(found) * 1000:.1f} ms | {len(found)} |"
                for model, found in times.items()]
    loads.append(load_average())
    return "\n".join([
        f"## Model families, tiny pipelines on the CPU ({time.strftime('%Y-%m-%d')})\n",
        f"`bench/families.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}; dtype "
        f"{chosen.label}. Each family's tiny random-weight model (tests/tiny_flux.py, tests/tiny_sd3.py) through "
        f"the diffusers engine, {SIDE}x{SIDE}, {STEPS} steps, {VARIANTS} variants, warm, {ROUNDS} rounds over the "
        f"families interleaved; median time between two steps' progress calls, one run. Load average (1, 5, "
        f"15 min) before and after: {' | '.join(loads)}.\n",
        "| family | mode | per step | steps timed |", "|---|---|---|---|", *rows, ""])


FLUX_DEV_SIZES: dict[str, Any] = {"guidance_embeds": True}
"""black-forest-labs/FLUX.1-dev's transformer/config.json: diffusers' FluxTransformer2DModel defaults (19 double-
and 38 single-stream blocks, 3072 wide, 4096-wide T5 context) with the guidance embedding."""
T5_XXL: dict[str, Any] = {"vocab_size": 32128, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24,
                          "num_heads": 64, "feed_forward_proj": "gated-gelu"}
"""google/t5-v1_1-xxl's encoder, FLUX's text_encoder_2."""
TINY_SIZES: dict[str, Any] = {"num_layers": 1, "num_single_layers": 1, "attention_head_dim": 16,
                              "num_attention_heads": 2, "joint_attention_dim": 32, "pooled_projection_dim": 32,
                              "axes_dims_rope": (4, 4, 8), "in_channels": 16, "guidance_embeds": True}


def flux_pipeline(device: str, dtype: torch.dtype, tiny: bool, folder: Path) -> Any:
    """FLUX.1 [dev]'s architecture with random weights, made on `device` in `dtype`."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from tiny_flux import flux_vae, make_t5_tokenizer, t5_encoder
    from tiny_pipelines import _text_config, make_tokenizer

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            if tiny:
                transformer = FluxTransformer2DModel(**TINY_SIZES)
                vae, clip, t5 = flux_vae(), CLIPTextModel(_text_config()), t5_encoder()
            else:
                transformer = FluxTransformer2DModel(**FLUX_DEV_SIZES)
                vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(
                    128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                    up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, use_quant_conv=False,
                    use_post_quant_conv=False, scaling_factor=0.3611, shift_factor=0.1159)
                clip = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                                    num_attention_heads=12, vocab_size=49408,
                                                    max_position_embeddings=77))
                t5 = T5EncoderModel(T5Config(**T5_XXL))
    finally:
        torch.set_default_dtype(previous)
    pipe = FluxPipeline(transformer=transformer, vae=vae, text_encoder=clip, tokenizer=make_tokenizer(folder),
                        text_encoder_2=t5, tokenizer_2=make_t5_tokenizer(),
                        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def gpu_section(dry_run: bool) -> str:
    from underpaint.engines.diffusers.memory import drop

    device, dtype = ("cpu", torch.float32) if dry_run else ("cuda", torch.bfloat16)
    side, steps = (64, 2) if dry_run else (1024, 8)
    rows = []
    for option in ("off", "drop T5", "model offload", "sequential offload"):
        with tempfile.TemporaryDirectory(prefix="underpaint-bench-flux-") as temp:
            pipe = flux_pipeline(device, dtype, dry_run, Path(temp) / "tok")
            if option == "model offload" and not dry_run:
                pipe.to("cpu")
                pipe.enable_model_cpu_offload()
            elif option == "sequential offload" and not dry_run:
                pipe.to("cpu")
                pipe.enable_sequential_cpu_offload()
            if not dry_run:
                torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode():
                embeds, pooled, _ = pipe.encode_prompt(prompt="a red cat", prompt_2=None, device=device,
                                                       max_sequence_length=512)
            if option == "drop T5":
                drop(pipe, "text_encoder_2")
            stamps: list[float] = []

            def stamp(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any],
                      stamps: list[float] = stamps) -> dict[str, Any]:
                if not dry_run:
                    torch.cuda.synchronize()
                stamps.append(time.perf_counter())
                return tensors

            with torch.inference_mode():
                pipe(prompt_embeds=embeds, pooled_prompt_embeds=pooled, height=side, width=side,
                     num_inference_steps=steps, guidance_scale=3.5, output_type="np", callback_on_step_end=stamp,
                     generator=torch.Generator("cpu").manual_seed(0))
            rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
            peak = torch.cuda.max_memory_allocated() / 2**30 if not dry_run else 0.0
            rows.append(f"| {option} | {rate:.3g} | {peak:.1f} GiB |")
            del pipe
            if not dry_run:
                torch.cuda.empty_cache()
    gpu = "CPU dry run, tiny configs" if dry_run else torch.cuda.get_device_name()
    return "\n".join([
        f"## FLUX.1 [dev] architecture on a GPU ({time.strftime('%Y-%m-%d')})\n",
        f"`bench/families.py --gpu`. {gpu}; random weights in {str(dtype).removeprefix('torch.')}, {side}x{side}, "
        f"{steps} steps, guidance 3.5; it/s over the steps after the first.\n",
        "| memory option | it/s | peak GPU memory |", "|---|---|---|", *rows, ""])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="FLUX.1 [dev] at 1024x1024 on the GPU")
    parser.add_argument("--dry-run", action="store_true", help="the --gpu path on the CPU with tiny configs")
    args = parser.parse_args(argv)
    report = gpu_section(args.dry_run) if args.gpu or args.dry_run else cpu_section()
    print(report)
    return report


if __name__ == "__main__":
    main()
