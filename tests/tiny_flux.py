"""Tiny random-weight FLUX.1 pipelines of the real architectures, built at test time and saved as diffusers folders.

Every part the real models have, with a few channels each: FluxTransformer2DModel (double- and single-stream
blocks, rotary positions; [dev] and Kontext with the distilled guidance embedding, [schnell] without), a CLIP-L
text encoder (its pooled output) and a T5 encoder (the sequence), an AutoencoderKL without quant convs and with
FLUX's shift factor, its 16-channel latents scaled down to 4 (the transformer sees them packed 2x2, so 16 input
channels), and FLUX Fill's widened input (latents + masked-image latents + the 8x8-packed mask). Tokenizers are
made here: CLIP's from tiny_pipelines' byte-level vocabulary, T5's from a small `tokenizers` Unigram vocabulary
(no sentencepiece, no network). Kontext is saved with its own pipeline class in model_index.json, the one thing
that tells it from [dev].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    FluxFillPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    FluxTransformer2DModel,
)
from transformers import CLIPTextModel, T5Config, T5EncoderModel, T5Tokenizer

from tiny_pipelines import TEXT_DIM, _text_config, make_tokenizer, registered_once

LATENT_CHANNELS = 4
"""FLUX's VAE has 16; the tiny one 4, packed 2x2 into the transformer's 16 input channels."""
VAE_BLOCKS = (8, 8, 16, 16)
"""Four blocks, as the real VAE: an 8x downscale, so the working size is a multiple of 16 as for real FLUX."""
T5_WORDS = ("a", "red", "cat", "the", "sky", "make", "jacket", "blue", "turn", "it", "into", "watercolour")
NATIVE = (64, 64, 64 * 64)
"""Working sizes for the tiny models (registered with --native), so tests stay fast."""


def make_t5_tokenizer() -> T5Tokenizer:
    """T5's tokenizer (transformers' tokenizers-backed T5TokenizerFast) over a tiny Unigram vocabulary."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(chr(code), -3.0) for code in range(ord("a"), ord("z") + 1)]
    vocab += [("▁" + word, -1.5) for word in T5_WORDS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)


def t5_encoder(width: int = TEXT_DIM) -> T5EncoderModel:
    return T5EncoderModel(T5Config(vocab_size=64, d_model=width, d_kv=8, d_ff=2 * width, num_layers=2, num_heads=4,
                                   relative_attention_num_buckets=8, relative_attention_max_distance=16,
                                   feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1))


def flux_vae(latent_channels: int = LATENT_CHANNELS) -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels, norm_num_groups=4, layers_per_block=1,
        block_out_channels=VAE_BLOCKS, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64, use_quant_conv=False, use_post_quant_conv=False,
        scaling_factor=0.3611, shift_factor=0.1159,
    )


def flux_scheduler(dynamic: bool = True) -> FlowMatchEulerDiscreteScheduler:
    """[dev]'s scheduler shifts its sigmas by the image's token count (`use_dynamic_shifting`); [schnell]'s does not."""
    return FlowMatchEulerDiscreteScheduler(shift=3.0 if dynamic else 1.0, use_dynamic_shifting=dynamic,
                                           base_image_seq_len=256, max_image_seq_len=4096, base_shift=0.5,
                                           max_shift=1.15)


def flux_transformer(guidance: bool, fill: bool = False, seed: int = 0) -> FluxTransformer2DModel:
    """Random weights drawn from `seed`: each tiny model gets its own, as real checkpoints differ."""
    torch.manual_seed(seed)
    packed = LATENT_CHANNELS * 4
    # Fill: latents, the masked image's latents and the mask, its 8x8 pixels per latent packed 2x2 too.
    in_channels = 2 * packed + 8 * 8 * 4 if fill else packed
    return FluxTransformer2DModel(patch_size=1, in_channels=in_channels, out_channels=packed, num_layers=1,
                                  num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
                                  joint_attention_dim=TEXT_DIM, pooled_projection_dim=TEXT_DIM,
                                  guidance_embeds=guidance, axes_dims_rope=(4, 4, 8))


def flux_components(folder: Path, guidance: bool = True, fill: bool = False, seed: int = 0) -> dict[str, Any]:
    """The parts of a tiny FLUX pipeline; the CLIP tokenizer's files are written under `folder`."""
    transformer = flux_transformer(guidance, fill, seed)
    torch.manual_seed(1)
    tokenizer = make_tokenizer(folder / "_tok")
    return {"transformer": transformer, "vae": flux_vae(), "text_encoder": CLIPTextModel(_text_config()),
            "tokenizer": tokenizer, "text_encoder_2": t5_encoder(), "tokenizer_2": make_t5_tokenizer(),
            "scheduler": flux_scheduler(dynamic=guidance)}


def _save(pipe: Any, folder: Path) -> Path:
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_flux_dev(folder: Path) -> Path:
    """FLUX.1 [dev]: the transformer embeds the distilled guidance (guidance_embeds true)."""
    return _save(FluxPipeline(**flux_components(folder, guidance=True)), folder)


def save_flux_schnell(folder: Path) -> Path:
    """FLUX.1 [schnell]: timestep-distilled, no guidance embedding, no dynamic shift."""
    return _save(FluxPipeline(**flux_components(folder, guidance=False, seed=1)), folder)


def save_flux_fill(folder: Path) -> Path:
    """FLUX.1 Fill [dev]: the transformer takes the masked image and the mask beside the latents."""
    return _save(FluxFillPipeline(**flux_components(folder, guidance=True, fill=True, seed=2)), folder)


def save_flux_kontext(folder: Path) -> Path:
    """FLUX.1 Kontext [dev]: [dev]'s architecture, saved by FluxKontextPipeline (model_index.json says so)."""
    return _save(FluxKontextPipeline(**flux_components(folder, guidance=True, seed=3)), folder)


def save_transformer_file(folder: Path, path: Path) -> Path:
    """The transformer of the FLUX folder `folder` alone, as one .safetensors file (how FLUX fine-tunes are shared)."""
    from safetensors.torch import save_file

    transformer = FluxTransformer2DModel.from_pretrained(folder / "transformer")
    save_file({name: value.contiguous() for name, value in transformer.state_dict().items()}, str(path))
    return path


def save_transformer_lora(model_folder: Path, path: Path, seed: int = 0) -> Path:
    """A diffusers/peft-format LoRA for the tiny FLUX or SD 3.5 model at `model_folder` (its transformer's
    attention; FLUX's double- and single-stream blocks alike), written by the pipeline's own
    `save_lora_weights`, as diffusers' FLUX and SD 3 training scripts do."""
    from diffusers import SD3Transformer2DModel, StableDiffusion3Pipeline

    from tiny_loras import _peft_layers

    flux = "Flux" in (model_folder / "transformer" / "config.json").read_text()
    transformer_class, pipeline_class = ((FluxTransformer2DModel, FluxPipeline) if flux
                                         else (SD3Transformer2DModel, StableDiffusion3Pipeline))
    transformer = transformer_class.from_pretrained(model_folder / "transformer")
    layers, metadata = _peft_layers(transformer, ("to_q", "to_k", "to_v", "to_out.0"),
                                    torch.Generator().manual_seed(seed))
    pipeline_class.save_lora_weights(path.parent, transformer_lora_layers=layers, weight_name=path.name,
                                     transformer_lora_adapter_metadata=metadata)
    return path


# Every family's tiny model, built once per test session and registered as `underpaint models add` does.

FAMILY_MODELS = {"flux-dev": save_flux_dev, "flux-schnell": save_flux_schnell, "flux-fill": save_flux_fill,
                 "flux-kontext": save_flux_kontext}
"""Registry name -> builder; each name is its family's (tests/tiny_sd3.py adds sd3)."""


def build_tiny_families(root: Path) -> Path:
    """The tiny FLUX.1 and SD 3.5 models under `root`, registered in `root/models.json`; idempotent."""
    from tiny_sd3 import save_sd3
    from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

    def register(registry: ModelRegistry) -> None:
        for name, save in {**FAMILY_MODELS, "sd3": save_sd3}.items():
            registry.put(make_entry(name, save(root / name), native=NATIVE))

    return registered_once(root, register)
