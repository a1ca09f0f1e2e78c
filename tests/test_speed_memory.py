"""Weights go straight into the picked dtype: a tensor at a time, read from its file, never the whole stored copy
beside the cast one (engines/diffusers/casting.py; the peak it saves is measured in docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel

from underpaint.engines.diffusers.casting import _weight_file_mappings, cast_module
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.loader import LoadOptions, load_model, stored_dtype
from underpaint.engines.diffusers.registry import ModelRegistry


def test_a_bf16_load_holds_exactly_the_weights_of_diffusers_own_bf16_load(registry_path: Path) -> None:
    entry = ModelRegistry(registry_path).get("sd15")
    ours = load_model(entry, LoadOptions(placement("cpu", "bf16"))).base.unet
    theirs = UNet2DConditionModel.from_pretrained(entry.location, subfolder="unet", torch_dtype=torch.bfloat16)
    assert all(a.dtype == torch.bfloat16 and torch.equal(a, b)
               for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True))


def test_a_lazily_loaded_model_is_cast_from_its_mapped_file(registry_path: Path) -> None:
    folder = ModelRegistry(registry_path).get("sd15").location
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    assert any(mapping.path.endswith("unet/diffusion_pytorch_model.safetensors") for mapping in _weight_file_mappings())
    expected = {name: value.to(torch.bfloat16) for name, value in unet.state_dict().items()}
    cast_module(unet, torch.bfloat16)
    assert all(torch.equal(value, expected[name]) for name, value in unet.state_dict().items())


def test_a_parameter_shared_by_two_layers_stays_shared() -> None:
    first, second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    second.weight = first.weight
    model = torch.nn.Sequential(first, second)
    cast_module(model, torch.bfloat16)
    assert second.weight is first.weight and first.weight.dtype == torch.bfloat16


def test_the_stored_dtype_is_read_from_the_weights_headers(registry_path: Path) -> None:
    assert stored_dtype(ModelRegistry(registry_path).get("sd15").location) == torch.float32
