"""Random-weight preprocessor models, saved as the hub ships them: a transformers folder with config.json,
model.safetensors and preprocessor_config.json (`save_pretrained` of the model and of its image processor).

- depth: a DPT (DPTForDepthEstimation, the class of Intel/dpt-hybrid-midas and dpt-large) with a four-layer
  ViT 16 wide, reading 32x32 inputs;
- segmentation: a SegFormer (SegformerForSemanticSegmentation, as nvidia/segformer-b0-finetuned-ade-512-512)
  with two encoder stages, labelling ADE20K's 150 classes.
Their weights are drawn wider than transformers' default (initializer_range 0.2, not 0.02): at the default,
DPT's final ReLU leaves a tiny model's depth within 1e-9 of zero everywhere.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    DPTConfig,
    DPTForDepthEstimation,
    DPTImageProcessorPil,
    SegformerConfig,
    SegformerForSemanticSegmentation,
    SegformerImageProcessorPil,
)

INPUT = {"height": 32, "width": 32}
SPREAD = 0.2
ADE20K_LABELS = {index: f"class-{index}" for index in range(150)}


def build_tiny_depth(folder: Path, seed: int = 0) -> Path:
    """A tiny DPT depth estimator saved in `folder`."""
    torch.manual_seed(seed)
    config = DPTConfig(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                       image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8, reassemble_factors=[4, 2, 1, 0.5],
                       initializer_range=SPREAD)
    DPTForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessorPil(size=INPUT, keep_aspect_ratio=False).save_pretrained(folder)
    return folder


def build_tiny_segmentation(folder: Path, seed: int = 0) -> Path:
    """A tiny SegFormer labelling ADE20K's 150 classes, saved in `folder`."""
    torch.manual_seed(seed)
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, id2label=ADE20K_LABELS, initializer_range=SPREAD)
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    SegformerImageProcessorPil(size=INPUT).save_pretrained(folder)
    return folder
