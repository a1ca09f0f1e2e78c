"""The GPU half of issue 17's benchmark: UNet it/s of the real SD 1.5 and SDXL architectures, optimisations off/on.

Run by bench/gpu.sh on a machine with an NVIDIA GPU (it makes its own venv with a CUDA build of torch).
Random weights of the real architectures (SD 1.5's UNet is diffusers' default UNet2DConditionModel, as
bench/diffusion.py builds it; SDXL base's from its published config, below), made on the GPU in fp16. At
batch 1 with classifier-free guidance (the UNet sees two rows), 512x512 for SD 1.5 (64x64 latents) and
1024x1024 for SDXL (128x128):
- off: fp16, eager, as `from_pretrained(torch_dtype=torch.float16).to("cuda")` gives it;
- on: what Underpaint's GPU path does: fp16, channels-last, fused QKV projections, SDPA (diffusers' default
  attention processor on torch 2), torch.compile (mode `reduce-overhead`: CUDA graphs, as the shapes of one
  working size are static; `--mode max-autotune-no-cudagraphs` tunes the matmuls too, minutes longer);
the warm-up (the compiled UNet's first calls), and the time to the first of 4 variants: SD 1.5's whole
pipeline (text encoder, 20 Euler steps, VAE decode), scheduler timesteps on the GPU, after the warm-up.
Prints a Markdown section for docs/benchmarks.md. `--dry-run` runs every code path on the CPU with tiny
configs and one step (tests/test_speed_gpu_bench.py), so this file is never untested.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import UNet2DConditionModel

SDXL_UNET: dict[str, Any] = {
    "sample_size": 128, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280), "cross_attention_dim": 2048, "attention_head_dim": (5, 10, 20),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10), "use_linear_projection": True, "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816,
}
"""stabilityai/stable-diffusion-xl-base-1.0's unet/config.json (the fields that differ from diffusers' defaults)."""
TINY = {"block_out_channels": (32, 64), "layers_per_block": 1, "attention_head_dim": 8, "norm_num_groups": 8,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D")}
"""--dry-run's stand-in for both: the same block kinds, a few thousandths of the work."""


@dataclass(frozen=True)
class Case:
    name: str
    config: dict[str, Any]
    latent: int
    text_dim: int
    pooled: int = 0
    """SDXL's pooled text embedding width (its added conditions); 0 for SD 1.5."""


def cases(dry_run: bool) -> list[Case]:
    if dry_run:
        return [Case("SD 1.5 (tiny)", TINY | {"cross_attention_dim": 32}, 8, 32),
                Case("SDXL (tiny)", TINY | {"cross_attention_dim": 32, "addition_embed_type": "text_time",
                                            "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 56,
                                            "transformer_layers_per_block": (1, 1)}, 8, 32, pooled=8)]
    return [Case("SD 1.5, 512x512", {"cross_attention_dim": 768}, 64, 768),
            Case("SDXL, 1024x1024", SDXL_UNET, 128, 2048, pooled=1280)]


def unet_inputs(case: Case, device: torch.device, dtype: torch.dtype, channels_last: bool) -> dict[str, Any]:
    """One guided step's UNet arguments: two rows (unconditional, conditional), 77 text tokens."""
    sample = torch.randn(2, 4, case.latent, case.latent, device=device, dtype=dtype)
    if channels_last:
        sample = sample.to(memory_format=torch.channels_last)
    inputs: dict[str, Any] = {"sample": sample, "timestep": torch.tensor(500, device=device),
                              "encoder_hidden_states": torch.randn(2, 77, case.text_dim, device=device, dtype=dtype)}
    if case.pooled:
        side = case.latent * 8
        inputs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, case.pooled, device=device, dtype=dtype),
            "time_ids": torch.tensor([[side, side, 0, 0, side, side]] * 2, device=device, dtype=dtype)}
    return inputs


def optimised(unet: UNet2DConditionModel, mode: str | None) -> UNet2DConditionModel:
    """Underpaint's GPU path on `unet`: channels-last, fused QKV, compiled in place (`mode` None: not compiled)."""
    unet.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    unet.fuse_qkv_projections()
    if mode is not None:
        unet.compile(mode=mode, fullgraph=True)
    return unet


def iterations_per_second(step: Callable[[], Any], seconds: float, sync: Callable[[], None]) -> float:
    """Steps per second over about `seconds` of steady running (at least 3 steps)."""
    count, start = 0, time.perf_counter()
    while count < 3 or time.perf_counter() - start < seconds:
        step()
        count += 1
    sync()
    return count / (time.perf_counter() - start)


def measure(case: Case, device: torch.device, dtype: torch.dtype, mode: str | None, seconds: float,
            sync: Callable[[], None]) -> dict[str, float]:
    """it/s off and on, and the warm-up of `on` (its first three calls)."""
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**case.config).to(dtype).eval()
    figures: dict[str, float] = {}
    with torch.inference_mode():
        plain = unet_inputs(case, device, dtype, channels_last=False)
        unet(**plain)
        sync()
        figures["off"] = iterations_per_second(lambda: unet(**plain), seconds, sync)
        fast = unet_inputs(case, device, dtype, channels_last=True)
        start = time.perf_counter()
        optimised(unet, mode)
        for _ in range(3):
            unet(**fast)
        sync()
        figures["warmup"] = time.perf_counter() - start
        figures["on"] = iterations_per_second(lambda: unet(**fast), seconds, sync)
    return figures


def first_of_four(device: torch.device, dtype: torch.dtype, mode: str | None, dry_run: bool,
                  sync: Callable[[], None]) -> tuple[float, float]:
    """SD 1.5's pipeline, 20 steps at 512 (one step at 64 dry): the first variant's seconds after warm-up,
    off and on (variants run one by one in Underpaint, so the first arrives after one call)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tiny = dry_run
    side, steps = (64, 1) if tiny else (512, 20)
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**(TINY | {"cross_attention_dim": 32} if tiny else {"cross_attention_dim": 768}))
        vae = AutoencoderKL(**({"block_out_channels": (32, 32), "norm_num_groups": 8,
                                "down_block_types": ("DownEncoderBlock2D",) * 2,
                                "up_block_types": ("UpDecoderBlock2D",) * 2} if tiny else
                               {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2,
                                "down_block_types": ("DownEncoderBlock2D",) * 4,
                                "up_block_types": ("UpDecoderBlock2D",) * 4}))
        text = CLIPTextModel(CLIPTextConfig(**({"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                                                "num_hidden_layers": 2} if tiny else
                                               {"hidden_size": 768, "intermediate_size": 3072,
                                                "num_attention_heads": 12, "num_hidden_layers": 12}),
                                            vocab_size=49408, max_position_embeddings=77))
    tokenizer = _tokenizer(CLIPTokenizer)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                                                    beta_schedule="scaled_linear", steps_offset=1),
                                   safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)

    def variant() -> float:
        start = time.perf_counter()
        pipe(prompt="a red kite", num_inference_steps=steps, guidance_scale=7.0, width=side, height=side,
             generator=torch.Generator("cpu").manual_seed(1), output_type="np")
        sync()
        return time.perf_counter() - start

    variant()
    off = variant()
    optimised(pipe.unet, mode)
    pipe.vae.to(memory_format=torch.channels_last)
    variant()  # warm-up
    return off, variant()


def _tokenizer(cls: Any) -> Any:
    """A CLIP tokenizer of the real vocabulary size's shape, built here (no download): tests/tiny_pipelines'."""
    import sys
    from pathlib import Path
    from tempfile import mkdtemp

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from tiny_pipelines import make_tokenizer

    return make_tokenizer(Path(mkdtemp(prefix="underpaint-gpu-bench-")))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny configs on the CPU, one step: checks the code")
    parser.add_argument("--mode", default="reduce-overhead", help="torch.compile mode of the optimised UNet")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady running per it/s figure")
    args = parser.parse_args(argv)
    if args.dry_run:
        device, dtype, mode, seconds = torch.device("cpu"), torch.float32, None, 0.0
        name = "CPU (dry run: tiny configs, not compiled)"
    else:
        if not torch.cuda.is_available():
            raise SystemExit("No CUDA GPU is visible to torch here; bench/gpu.sh is for NVIDIA machines "
                             "(`--dry-run` checks it on a CPU).")
        device, dtype, mode, seconds = torch.device("cuda"), torch.float16, args.mode, args.seconds
        name = f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}"

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    lines = [f"## GPU ({time.strftime('%Y-%m-%d')})\n",
             f"`bench/gpu.sh` on {name}; UNet at batch 1 with CFG (2 rows), random weights of the real "
             f"architecture, {str(dtype).removeprefix('torch.')}; on = channels-last + fused QKV + SDPA + "
             f"torch.compile mode `{mode}`.\n",
             "| model | off (it/s) | on (it/s) | gain | warm-up (s) |", "|---|---|---|---|---|"]
    for case in cases(args.dry_run):
        figures = measure(case, device, dtype, mode, seconds, sync)
        lines.append(f"| {case.name} | {figures['off']:.3g} | {figures['on']:.3g} | "
                     f"{figures['on'] / figures['off']:.2f}x | {figures['warmup']:.3g} |")
    off, on = first_of_four(device, dtype, mode, args.dry_run, sync)
    job = "64x64, 1 step" if args.dry_run else "512x512, 20 steps Euler, CFG 7"
    lines.append(f"\nTime to the first of 4 variants (SD 1.5 pipeline, {job}, after warm-up): "
                 f"{off:.2f} s off, {on:.2f} s on ({off / on:.2f}x).")
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
