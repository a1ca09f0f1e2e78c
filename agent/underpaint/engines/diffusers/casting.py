"""Weights into another dtype without holding both copies: the cast reads each tensor from its file.

diffusers, asked for bf16 from fp32 files, reads the whole fp32 state dict and casts it, so loading the SD 1.5
UNet peaks at fp32 + bf16 (5.2 GiB for a 1.7 GiB result). Loaded in the file's own dtype its tensors are
views of the memory-mapped file that nothing has read yet; casting them one by one through the mapping
would page the whole file into this process's memory too. So each tensor that lies in a mapped weight file
is read with `pread` (through the page cache, never mapped here) and cast on its own: the peak is the cast
weights and one tensor. Where the mapping cannot be told (no /proc/self/maps: macOS, Windows) tensors are
cast in place, which is right, only less frugal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from underpaint.engines.diffusers.checkpoint import WEIGHT_SUFFIXES


@dataclass(frozen=True)
class _Mapping:
    start: int
    end: int
    offset: int
    path: str


def cast_module(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Casts `module`'s floating-point parameters and buffers to `dtype`, each read from its weight file where
    it is a view of one; parameters shared between submodules stay shared."""
    mappings = _weight_file_mappings()
    files: dict[str, int] = {}
    try:
        for parameter in module.parameters():
            if parameter.is_floating_point() and parameter.dtype != dtype:
                parameter.data = _cast(parameter.data, dtype, mappings, files)
        cast: dict[int, torch.Tensor] = {}
        for owner in module.modules():
            for name, buffer in owner._buffers.items():
                if buffer is not None and buffer.is_floating_point() and buffer.dtype != dtype:
                    if id(buffer) not in cast:
                        cast[id(buffer)] = _cast(buffer, dtype, mappings, files)
                    owner._buffers[name] = cast[id(buffer)]
    finally:
        for descriptor in files.values():
            os.close(descriptor)


def _cast(tensor: torch.Tensor, dtype: torch.dtype, mappings: list[_Mapping], files: dict[str, int]) -> torch.Tensor:
    size = tensor.numel() * tensor.element_size()
    address = tensor.data_ptr()
    mapping = next((m for m in mappings if m.start <= address and address + size <= m.end), None)
    if mapping is None or size == 0 or not tensor.is_contiguous() or tensor.device.type != "cpu":
        return tensor.to(dtype)
    if mapping.path not in files:
        files[mapping.path] = os.open(mapping.path, os.O_RDONLY)
    data = bytearray(size)
    if os.preadv(files[mapping.path], [data], mapping.offset + address - mapping.start) != size:
        return tensor.to(dtype)  # the file changed under its mapping: read what the mapping holds
    return torch.frombuffer(data, dtype=tensor.dtype).view(tensor.shape).to(dtype)


def _weight_file_mappings() -> list[_Mapping]:
    """This process's memory mappings of weight files (Linux), as /proc/self/maps lists them."""
    try:
        lines = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    mappings = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].endswith(WEIGHT_SUFFIXES):
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        mappings.append(_Mapping(start, end, int(fields[2], 16), fields[5]))
    return mappings
