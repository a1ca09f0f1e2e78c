"""Tiny random-weight Stable Diffusion pipelines of the real architectures, built at test time.

SD 1.5-style (4 UNet blocks, 2 layers each, CLIP text encoder, 4-block VAE),
its 9-channel inpainting variant, SD 2.x-style (linear-projection UNet,
OpenCLIP-style text encoder) and SDXL-style (3 blocks, text-time embedding,
a CLIP-L-style and a wider OpenCLIP-bigG-style text encoder) - every layer the
real models have, with a few channels each. Tokenizers come from a handwritten
byte-level vocabulary (no network). Each is saved as a diffusers folder and
SD 1.5, SD 2.x and SDXL also as original (LDM-layout) single-file .safetensors
checkpoints, so tests load them through the loaders users use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

TEXT_DIM = 32
BIGG_DIM = 48
"""SDXL's second (OpenCLIP bigG) text encoder is wider than its first (CLIP-L), as in the real model (1280 vs 768):
diffusers' single-file loader tells the two apart by their embedding widths."""
NATIVE = (64, 64, 64 * 64)
"""Working sizes for the tiny models (registered with --native), so tests stay fast."""


def _byte_unicode() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def make_tokenizer(folder: Path) -> CLIPTokenizer:
    chars = _byte_unicode()
    merges = ["r e", "re d</w>", "c a", "ca t</w>", "t h", "th e</w>", "s k", "sk y</w>"]
    vocab_list = chars + [c + "</w>" for c in chars] + [m.replace(" ", "") for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"),
                              model_max_length=77)
    return tokenizer


def _text_config(act: str = "quick_gelu", width: int = TEXT_DIM) -> CLIPTextConfig:
    return CLIPTextConfig(hidden_size=width, intermediate_size=2 * width, num_attention_heads=4, num_hidden_layers=2,
                          vocab_size=len(_byte_unicode()) * 2 + 10, max_position_embeddings=77, hidden_act=act,
                          projection_dim=width, bos_token_id=len(_byte_unicode()) * 2 + 8,
                          eos_token_id=len(_byte_unicode()) * 2 + 9, pad_token_id=len(_byte_unicode()) * 2 + 9)


def _vae() -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4, layers_per_block=1,
        block_out_channels=(8, 8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
    )


def _scheduler() -> EulerDiscreteScheduler:
    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  steps_offset=1, timestep_spacing="leading")


def sd15_components(in_channels: int = 4) -> dict[str, Any]:
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=in_channels, out_channels=4, layers_per_block=2,
        block_out_channels=(16, 16, 32, 32), norm_num_groups=8, attention_head_dim=4,
        cross_attention_dim=TEXT_DIM,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    )
    return {"unet": unet, "vae": _vae(), "text_encoder": CLIPTextModel(_text_config()), "scheduler": _scheduler(),
            "safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


def sd2_components() -> dict[str, Any]:
    """SD 2.x: linear projections in the transformers, an OpenCLIP (gelu) text encoder, v-prediction."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(16, 16, 32, 32), norm_num_groups=8, attention_head_dim=(2, 2, 4, 4),
        use_linear_projection=True, cross_attention_dim=TEXT_DIM,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading", prediction_type="v_prediction")
    return {"unet": unet, "vae": _vae(), "text_encoder": CLIPTextModel(_text_config("gelu")), "scheduler": scheduler,
            "safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


def sdxl_components() -> dict[str, Any]:
    torch.manual_seed(0)
    time_dim = 8
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(16, 32, 32),
        norm_num_groups=8, attention_head_dim=(2, 4, 4), use_linear_projection=True,
        transformer_layers_per_block=(1, 1, 2), cross_attention_dim=TEXT_DIM + BIGG_DIM,
        addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + BIGG_DIM,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    )
    return {"unet": unet, "vae": _vae(), "text_encoder": CLIPTextModel(_text_config()),
            "text_encoder_2": CLIPTextModelWithProjection(_text_config("gelu", BIGG_DIM)), "scheduler": _scheduler()}


def save_sd15(folder: Path, inpaint: bool = False) -> Path:
    components = sd15_components(9 if inpaint else 4)
    tokenizer = make_tokenizer(folder / "_tok")
    cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe = cls(tokenizer=tokenizer, **components)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_sd2(folder: Path) -> Path:
    pipe = StableDiffusionPipeline(tokenizer=make_tokenizer(folder / "_tok"), **sd2_components())
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_sdxl(folder: Path) -> Path:
    components = sdxl_components()
    tokenizer = make_tokenizer(folder / "_tok")
    pipe = StableDiffusionXLPipeline(tokenizer=tokenizer, tokenizer_2=tokenizer, **components)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


# Diffusers -> original (LDM) layout, the inverse of diffusers' single-file conversion
# (diffusers/loaders/single_file_utils.py), for SD 1.x, SD 2.x and SDXL.

def _unet_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    layers = config["layers_per_block"]
    blocks = len(config["block_out_channels"])
    resnet = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
              ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]
    prefixes = [("time_embedding.linear_1.", "time_embed.0."), ("time_embedding.linear_2.", "time_embed.2."),
                ("conv_in.", "input_blocks.0.0."), ("conv_norm_out.", "out.0."), ("conv_out.", "out.2."),
                ("add_embedding.linear_1.", "label_emb.0.0."), ("add_embedding.linear_2.", "label_emb.0.2.")]
    for i in range(blocks):
        for j in range(layers):
            prefixes += [(f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{1 + i * (layers + 1) + j}.0."),
                         (f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{1 + i * (layers + 1) + j}.1.")]
        if i < blocks - 1:
            prefixes.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(i + 1) * (layers + 1)}.0.op."))
        for j in range(layers + 1):
            prefixes += [(f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{i * (layers + 1) + j}.0."),
                         (f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{i * (layers + 1) + j}.1.")]
        if i < blocks - 1:
            has_attention = any(k.startswith(f"up_blocks.{i}.attentions.") for k in state)
            prefixes.append((f"up_blocks.{i}.upsamplers.0.",
                             f"output_blocks.{i * (layers + 1) + layers}.{2 if has_attention else 1}."))
    prefixes += [("mid_block.resnets.0.", "middle_block.0."), ("mid_block.attentions.0.", "middle_block.1."),
                 ("mid_block.resnets.1.", "middle_block.2.")]
    out = {}
    for key, value in state.items():
        new = key
        for old, ldm in prefixes:
            if key.startswith(old):
                rest = key[len(old):]
                if ".resnets." in old:
                    for a, b in resnet:
                        rest = rest.replace(a, b)
                new = ldm + rest
                break
        else:
            raise AssertionError(f"unmapped UNet key {key}")
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        for i in range(blocks):
            new = new.replace(f"encoder.down_blocks.{i}.resnets.", f"encoder.down.{i}.block.")
            new = new.replace(f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample.")
            new = new.replace(f"decoder.up_blocks.{i}.resnets.", f"decoder.up.{blocks - 1 - i}.block.")
            new = new.replace(f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{blocks - 1 - i}.upsample.")
        for j in range(2):
            new = new.replace(f"mid_block.resnets.{j}.", f"mid.block_{j + 1}.")
        if "mid_block.attentions.0." in new:
            new = new.replace("mid_block.attentions.0.", "mid.attn_1.")
            for a, b in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
                new = new.replace(a, b)
            if value.ndim == 2:
                value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def _clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """OpenAI CLIP (SD 1.x, SDXL's first encoder): transformers' names under `prefix`.

    Original checkpoints keep transformers' 4.x names (text_model.*); 5.x flattened CLIPTextModel's.
    """
    return {prefix + ("" if k.startswith("text_model.") else "text_model.") + k: v for k, v in state.items()}


def _open_clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """OpenCLIP (SD 2.x, SDXL's bigG): fused in_proj q/k/v, resblocks, ln_final, text_projection as x @ P."""
    state = {k.removeprefix("text_model."): v for k, v in state.items()}
    out = {prefix + "token_embedding.weight": state.pop("embeddings.token_embedding.weight"),
           prefix + "positional_embedding": state.pop("embeddings.position_embedding.weight"),
           prefix + "ln_final.weight": state.pop("final_layer_norm.weight"),
           prefix + "ln_final.bias": state.pop("final_layer_norm.bias")}
    if "text_projection.weight" in state:
        out[prefix + "text_projection"] = state.pop("text_projection.weight").T
    layers = {int(k.split(".")[2]) for k in state if k.startswith("encoder.layers.")}
    for i in layers:
        ours, theirs = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[f"{theirs}attn.in_proj_{kind}"] = torch.cat(
                [state.pop(f"{ours}self_attn.{p}_proj.{kind}") for p in "qkv"])
            for a, b in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                         ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
                out[f"{theirs}{b}.{kind}"] = state.pop(f"{ours}{a}.{kind}")
    if state:
        raise AssertionError(f"unmapped text encoder keys {sorted(state)}")
    return out


def _checkpoint_pipeline(folder: Path) -> Any:
    unet = json.loads((folder / "unet" / "config.json").read_text())
    if unet.get("addition_embed_type") == "text_time":
        return StableDiffusionXLPipeline.from_pretrained(folder)
    cls = StableDiffusionPipeline if unet["in_channels"] == 4 else StableDiffusionInpaintPipeline
    return cls.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)


def save_single_file(folder: Path, path: Path) -> Path:
    """The diffusers folder `folder` (SD 1.x, SD 2.x or SDXL) as one original-layout checkpoint at `path`."""
    pipe = _checkpoint_pipeline(folder)
    state = _unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config))
    state |= _vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels))
    text = pipe.text_encoder.state_dict()
    if isinstance(pipe, StableDiffusionXLPipeline):
        state |= _clip_to_ldm(text, "conditioner.embedders.0.transformer.")
        state |= _open_clip_to_ldm(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model.")
    elif pipe.text_encoder.config.hidden_act == "gelu":  # OpenCLIP: SD 2.x
        state |= _open_clip_to_ldm(text, "cond_stage_model.model.")
    else:
        state |= _clip_to_ldm(text, "cond_stage_model.transformer.")
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path



# Everything the diffusers tests share, built once per test session.

MODELS = ("sd15", "sd15-inpaint", "sd15-file", "sd2", "sd2-file", "sdxl", "sdxl-file")


def registered_once(root: Path, register: Callable[[ModelRegistry], None]) -> Path:
    """`root/models.json`, filled by `register` the first time and read as it is after: the registry is written
    under another name and renamed when complete, so a half-built set of models is never taken for a built one."""
    registry_path = root / "models.json"
    if registry_path.is_file():
        return registry_path
    root.mkdir(parents=True, exist_ok=True)
    registry = ModelRegistry(root / "models.tmp.json")
    register(registry)
    registry.path.rename(registry_path)
    return registry_path


def build_tiny_models(root: Path) -> Path:
    """Tiny models under `root`, registered in `root/models.json` (as `underpaint models add` does); idempotent."""
    return registered_once(root, _register_tiny_models)


def _register_tiny_models(registry: ModelRegistry) -> None:
    root = registry.path.parent
    sd15 = save_sd15(root / "sd15")
    inpaint = save_sd15(root / "sd15-inpaint", inpaint=True)
    sd2 = save_sd2(root / "sd2")
    sdxl = save_sdxl(root / "sdxl")
    (root / "checkpoints").mkdir(exist_ok=True)
    single = save_single_file(sd15, root / "checkpoints" / "model.safetensors")
    sd2_single = save_single_file(sd2, root / "checkpoints" / "sd2.safetensors")
    sdxl_single = save_single_file(sdxl, root / "checkpoints" / "sdxl.safetensors")
    registry.put(make_entry("sd15", sd15, native=NATIVE))
    registry.put(make_entry("sd15-inpaint", inpaint, native=NATIVE))
    # Component configs and tokenizer from a folder of the same architecture, as a user would pass --config.
    registry.put(make_entry("sd15-file", single, native=NATIVE, config=str(sd15)))
    registry.put(make_entry("sd2", sd2, native=NATIVE))
    registry.put(make_entry("sd2-file", sd2_single, native=NATIVE, config=str(sd2)))
    registry.put(make_entry("sdxl", sdxl, native=NATIVE))
    registry.put(make_entry("sdxl-file", sdxl_single, native=NATIVE, config=str(sdxl)))
