"""A tiny random-weight Stable Diffusion 3.5 pipeline of the real architecture, built at test time.

SD3Transformer2DModel (MMDiT joint blocks, 3.5's dual-attention first layer and RMS q/k norms) with SD 3.5's
three text encoders: CLIP-L and the wider CLIP-G (both with projections: their pooled outputs are joined), and
a T5 encoder wide enough to hold the two CLIPs' sequence beside its own (the pipeline pads CLIP's to T5's width);
a VAE with SD3's 16 latent channels (few features each) and its scaling and shift factors. Saved as a diffusers folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
from transformers import CLIPTextModelWithProjection

from tiny_flux import flux_vae, make_t5_tokenizer, t5_encoder
from tiny_pipelines import BIGG_DIM, TEXT_DIM, _text_config, make_tokenizer

LATENT_CHANNELS = 16
"""SD3's own: diffusers' SD3 inpaint pipeline checks for 16 (or 33) transformer input channels."""
T5_DIM = 96
"""At least CLIP-L + CLIP-G (32 + 48): their joined sequence is padded to T5's width."""


def sd3_transformer(seed: int = 0) -> SD3Transformer2DModel:
    torch.manual_seed(seed)
    return SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=LATENT_CHANNELS, num_layers=2,
                                 attention_head_dim=8, num_attention_heads=4, joint_attention_dim=T5_DIM,
                                 caption_projection_dim=32, pooled_projection_dim=TEXT_DIM + BIGG_DIM,
                                 out_channels=LATENT_CHANNELS, pos_embed_max_size=32, dual_attention_layers=(0,),
                                 qk_norm="rms_norm")


def save_sd3(folder: Path) -> Path:
    transformer = sd3_transformer()
    torch.manual_seed(1)
    tokenizer = make_tokenizer(folder / "_tok")
    vae = flux_vae(LATENT_CHANNELS)
    vae.register_to_config(scaling_factor=1.5305, shift_factor=0.0609)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        text_encoder=CLIPTextModelWithProjection(_text_config()), tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(_text_config("gelu", BIGG_DIM)), tokenizer_2=tokenizer,
        text_encoder_3=t5_encoder(T5_DIM), tokenizer_3=make_t5_tokenizer())
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
