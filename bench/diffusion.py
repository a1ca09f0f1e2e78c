"""`make bench`, diffusion part: the agent's overhead on a real-size Stable Diffusion 1.5 inpaint.

A pipeline of the real SD 1.5 inpainting architecture (860M-parameter UNet with
9 input channels, the SD VAE, CLIP ViT-L/14 text encoder) with random weights
is built once into a diffusers folder (no download) and registered like a
user's model. Then, interleaved, at 512x512 with few steps:
- a raw diffusers call (the engine's own warm StableDiffusionInpaintPipeline);
- `underpaint.fill` in-process (planner -> engine -> composer);
- the same fill through the agent (`underpaint serve --model`, separate
  process, websocket client), submit to `done`;
and, on the raw pipeline, variants one by one versus batched; then the LoRA
part: the same in-process fill with a stack of two random-weight kohya LoRAs
of real SD 1.5 size (rank 32 on every attention projection and transformer
projection of the UNet and the text encoder, fp16 files like sd-scripts
writes), their first load, the switch between stacks from one job to the
next, and a full model reload, which is what switching would cost an engine
that merged LoRAs into the weights; and the ControlNet part: the same fill
without control, with one ControlNet and with two (random-weight ControlNets
of real SD 1.5 size, `ControlNetModel.from_unet` on the bench's UNet, saved
as fp16 diffusers folders as they are published; canny and tile, derived from
the source by the agent), and the first job's loading of both. `--loras` or
`--controls` runs only that part (the whole script is about 45 minutes on 2
cores). Prints a Markdown section for docs/benchmarks.md. Random weights give
noise, not pictures; the arithmetic, and so the time, is the real model's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from run import agent_fill, ellipse, machine, start_agent, textured
from underpaint import api
from underpaint.core import Params
from underpaint.core.conditioning import ControlKind
from underpaint.core.spec import LoraRef
from underpaint.engines.diffusers import adapters
from underpaint.engines.diffusers.checkpoint import read_safetensors_header
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions, load_model
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

SIDE, STEPS, GUIDANCE, REPEATS = 512, int(os.environ.get("BENCH_STEPS", "4")), 7.0, 2
LORA_RANK, SWITCHES = 32, 5
CONTROLNETS = {"bench-canny": ControlKind.CANNY, "bench-tile": ControlKind.TILE}
CACHE = Path(os.environ.get("UNDERPAINT_BENCH_CACHE", Path.home() / ".cache" / "underpaint-bench"))


def build_sd15_inpaint(folder: Path) -> Path:
    """SD 1.5 inpainting's architecture with random weights, saved as a diffusers folder (once)."""
    return build_sd15(folder, inpaint=True)


def build_sd15(folder: Path, inpaint: bool = False) -> Path:
    """SD 1.5's architecture (UNet, VAE, CLIP ViT-L text encoder; the 9-channel UNet when `inpaint`) with random
    weights, saved as a diffusers folder (once)."""
    if (folder / "model_index.json").is_file():
        return folder
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from tiny_pipelines import make_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(in_channels=9 if inpaint else 4, cross_attention_dim=768,
                                sample_size=64)  # SD 1.5's defaults
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        sample_size=512)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                        num_hidden_layers=12, vocab_size=49408, max_position_embeddings=77,
                                        hidden_act="quick_gelu", projection_dim=768))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    kind = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe = kind(vae=vae, text_encoder=text, tokenizer=make_tokenizer(folder / "_tok"), unet=unet, scheduler=scheduler,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def timed(function: Any, *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def vm_hwm(pid: int) -> float:
    """Peak resident memory of process `pid`, GiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def build_loras(pipe: Any, folder: Path) -> dict[str, Path]:
    """Two random kohya LoRAs for `pipe`'s modules (read before any LoRA wraps them), saved once as fp16."""
    from safetensors.torch import save_file

    from tiny_loras import kohya_state_dict

    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}-r{LORA_RANK}.safetensors" for name in ("bench-ink", "bench-paper")}
    for seed, path in enumerate(paths.values()):
        if not path.is_file():
            # Small factors, like a trained LoRA's: the tiny tests' scale would overflow a real-size UNet.
            state = kohya_state_dict(pipe, seed=seed, rank=LORA_RANK, scale=0.02)
            save_file({key: value.half().contiguous() for key, value in state.items()}, str(path))
    return paths


def reload_model(engine: DiffusersEngine) -> None:
    """Load the model again, every weight read: safetensors are memory-mapped, so loading alone defers the
    reading to the first denoising step (here from the page cache; a cold disk adds its read time)."""
    reloaded = load_model(engine.entry(None), engine.options)
    with torch.inference_mode():
        for name in ("unet", "vae", "text_encoder"):
            for parameter in getattr(reloaded.base, name).parameters():
                parameter.sum()


def lora_section(engine: DiffusersEngine, registry: ModelRegistry, underpaint: api.Underpaint, image: Any,
                 mask: Any, params: Params) -> None:
    """The LoRA part: a stack of two against none, loading, switching, and a full reload for comparison."""
    model = engine.cache.get(engine.entry(None))
    paths = build_loras(model.base, CACHE / "loras")
    for name, path in paths.items():
        registry.put(make_entry(name, path))
    stack = [LoraRef(name="bench-ink", weight=0.8), LoraRef(name="bench-paper", weight=0.5)]
    entries = [(registry.get(ref.name), ref.weight) for ref in stack]
    first_load = timed(adapters.apply, model, entries)
    adapters.switch_off(model)
    megabytes = sum(path.stat().st_size for path in paths.values()) / 2**20

    def fill(loras: list[LoraRef]) -> None:
        underpaint.fill(image, mask, **params.model_dump(exclude_unset=True), loras=loras)

    times: dict[str, list[float]] = {"none": [], "stack": []}
    for _ in range(REPEATS):
        times["none"].append(timed(fill, []))
        times["stack"].append(timed(fill, stack))
    # Between jobs: the next job's stack set (here alternating two stacks), the last one's switched off.
    switch = [timed(adapters.apply, model, entries if i % 2 else entries[:1]) + timed(adapters.switch_off, model)
              for i in range(SWITCHES)]
    reload = timed(reload_model, engine)

    none, with_stack, switched = (statistics.median(values) for values in (times["none"], times["stack"], switch))
    print(f"### LoRA stacks ({time.strftime('%Y-%m-%d')})\n")
    layers = sum(name.endswith("lora_down.weight") for name in read_safetensors_header(paths["bench-ink"]))
    print(f"Two random-weight kohya LoRAs of SD 1.5 size, each rank {LORA_RANK} on {layers} layers (every "
          f"attention and transformer projection of the UNet and the text encoder), {megabytes:.0f} MB together "
          "(fp16); weights 0.8 and 0.5; the same in-process fill as above.\n")
    print("| measure | median | runs | ratio |")
    print("|---|---|---|---|")
    print(f"| `underpaint.fill`, no LoRA | {none:.2f} s | {REPEATS} | 1.000 |")
    print(f"| `underpaint.fill`, stack of two | {with_stack:.2f} s | {REPEATS} | {with_stack / none:.3f} |")
    print(f"| first load of the stack (`load_lora_weights` x2, into the warm model) | {first_load:.2f} s | 1 | |")
    print(f"| switch between jobs (set the next stack, switch the last off) | {switched * 1000:.0f} ms "
          f"| {SWITCHES} | |")
    print(f"| full model reload, every weight read (what merging LoRAs would cost per switch) | {reload:.1f} s | 1 | "
          f"{reload / switched:.0f}x the switch |")


def build_controlnets(unet: Any, folder: Path) -> dict[str, Path]:
    """Two random ControlNets of `unet`'s (SD 1.5) size, made before any LoRA wraps its layers, saved once."""
    from tiny_controlnets import make_controlnet

    paths = {name: folder / name for name in CONTROLNETS}
    for seed, path in enumerate(paths.values()):
        if not (path / "config.json").is_file():
            # Real conditioning widths; small zero convolutions, like a trained ControlNet's residuals.
            controlnet = make_controlnet(unet, seed, scale=0.01, conditioning_channels=(16, 32, 96, 256))
            controlnet.half().save_pretrained(path, safe_serialization=True)
    return paths


def control_section(engine: DiffusersEngine, registry: ModelRegistry, underpaint: api.Underpaint, image: Any,
                    mask: Any, params: Params) -> None:
    """The ControlNet part: the same fill without control, with one and with two."""
    model = engine.cache.get(engine.entry(None))
    for name, path in build_controlnets(model.base.unet, CACHE / "controlnets").items():
        registry.put(make_entry(name, path, control_kind=CONTROLNETS[name]))
    canny = api.Control("canny", "source", model="bench-canny")
    tile = api.Control("tile", "source", model="bench-tile", strength=0.5)
    stacks: dict[str, list[api.Control]] = {"none": [], "one": [canny], "two": [canny, tile]}

    def fill(controls: list[api.Control]) -> None:
        underpaint.fill(image, mask, **params.model_dump(exclude_unset=True), controls=controls)

    first = timed(fill, stacks["two"])
    times: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(REPEATS):
        for name, controls in stacks.items():
            times[name].append(timed(fill, controls))
    med = {name: statistics.median(values) for name, values in times.items()}
    megabytes = sum(p.stat().st_size for p in (CACHE / "controlnets").rglob("*.safetensors")) / 2**20
    print(f"### ControlNet ({time.strftime('%Y-%m-%d')})\n")
    print(f"Two random-weight ControlNets of SD 1.5 size (`ControlNetModel.from_unet` on the model's UNet), "
          f"{megabytes:.0f} MB together (fp16 files, run in fp32): canny (strength 1) and tile (strength 0.5), both "
          "derived from the source by the agent; the same in-process fill as above.\n")
    print("| measure | median | runs | ratio |")
    print("|---|---|---|---|")
    for name, label in (("none", "`underpaint.fill`, no control"), ("one", "`underpaint.fill`, one ControlNet"),
                        ("two", "`underpaint.fill`, two ControlNets")):
        print(f"| {label} | {med[name]:.2f} s | {REPEATS} | {med[name] / med['none']:.3f} |")
    print(f"| first fill with both (loads them, makes the ControlNet pipeline) | {first:.2f} s | 1 | |")


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    only_loras = "--loras" in sys.argv[1:]
    only_controls = "--controls" in sys.argv[1:]
    folder = Path(tempfile.mkdtemp(prefix="underpaint-bench-diffusion-"))
    registry = ModelRegistry(folder / "models.json")
    started = time.perf_counter()
    model = build_sd15_inpaint(CACHE / "sd15-inpaint-random")
    registry.put(make_entry("sd15-inpaint-random", model))
    prepared = time.perf_counter() - started
    engine = DiffusersEngine(registry, "sd15-inpaint-random", LoadOptions(placement("cpu")))
    started = time.perf_counter()
    pipe = engine.cache.get(engine.entry(None)).pipeline("inpaint")
    load = time.perf_counter() - started

    image, mask = textured(SIDE, SIDE), ellipse(SIDE, SIDE, (96, 96, 320, 320))
    params = Params(prompt="a red cat on the sky", steps=STEPS, guidance=GUIDANCE, seed=3)
    if only_loras or only_controls:
        print(f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads, fp32. Model "
              f"loaded in {load:.1f} s. Work: {SIDE}x{SIDE}, {STEPS} steps, CFG {GUIDANCE}, Euler, one variant.\n")
        section = lora_section if only_loras else control_section
        section(engine, registry, api.Underpaint(engines={"diffusers": engine}), image, mask, params)
        return
    raw_args = {"prompt": params.prompt, "image": Image.fromarray(image[..., :3]), "mask_image": Image.fromarray(mask),
                "width": SIDE, "height": SIDE, "num_inference_steps": STEPS, "guidance_scale": GUIDANCE,
                "output_type": "np"}

    def raw(images: int = 1) -> None:
        pipe(generator=torch.Generator("cpu").manual_seed(3), num_images_per_prompt=images, **raw_args)

    underpaint = api.Underpaint(engines={"diffusers": engine})

    def in_process() -> None:
        result = underpaint.fill(image, mask, **params.model_dump(exclude_unset=True))
        assert result.layers[0].pixels.shape[:2] == (SIDE, SIDE)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"UNDERPAINT_PORT": str(port), "UNDERPAINT_CONFIG_DIR": str(folder / "config"),
                        "UNDERPAINT_DATA_DIR": str(folder / "data"), "UNDERPAINT_MODELS_FILE": str(registry.path),
                        "UNDERPAINT_MODEL": "sd15-inpaint-random", "UNDERPAINT_ENGINE": "diffusers",
                        "UNDERPAINT_DEVICE": "cpu"}
    agent = start_agent(env)
    token = subprocess.run([sys.executable, "-m", "underpaint", "token"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    url = f"ws://127.0.0.1:{port}/v1/ws"
    times: dict[str, list[float]] = {"raw": [], "fill": [], "agent": []}
    try:
        asyncio.run(agent_fill(url, token, image, mask, params))  # warm: the agent loads its model
        in_process()
        for _ in range(REPEATS):
            times["raw"].append(timed(raw))
            times["fill"].append(timed(in_process))
            times["agent"].append(asyncio.run(agent_fill(url, token, image, mask, params)))
        peak = vm_hwm(agent.pid)
        seq_first = timed(raw)
        seq_total = seq_first + timed(raw)
        batched = timed(raw, 2)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)

    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"## Diffusers engine, SD 1.5 inpaint architecture ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads, fp32.\n")
    print(f"Model: random weights, built and hashed in {prepared:.0f} s; loaded (warm pipelines) in {load:.1f} s.\n")
    print(f"Work: {SIDE}x{SIDE}, {STEPS} steps, CFG {GUIDANCE}, Euler, one variant; a {320}x{320} soft ellipse.\n")
    print("| measure | median | runs | ratio to raw |")
    print("|---|---|---|---|")
    for name, label in (("raw", "raw diffusers call (the warm StableDiffusionInpaintPipeline)"),
                        ("fill", "`underpaint.fill` in-process"),
                        ("agent", "the same fill through the agent (websocket, separate process)")):
        print(f"| {label} | {med[name]:.2f} s | {REPEATS} | {med[name] / med['raw']:.3f} |")
    print(f"| agent process peak resident memory | {peak:.2f} GiB | | |")
    print()
    print("| two variants | first image | both |")
    print("|---|---|---|")
    print(f"| one by one (what the engine does) | {seq_first:.2f} s | {seq_total:.2f} s |")
    print(f"| batched (`num_images_per_prompt=2`) | {batched:.2f} s | {batched:.2f} s |")
    print()
    # Before the LoRAs: the ControlNets are made from the UNet's own layers, which LoRAs wrap.
    control_section(engine, registry, underpaint, image, mask, params)
    print()
    lora_section(engine, registry, underpaint, image, mask, params)


if __name__ == "__main__":
    main()
