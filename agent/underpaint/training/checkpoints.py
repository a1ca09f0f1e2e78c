"""Checkpoints of a training: adapter weights, optimizer state, step, losses and time, every K steps.

One file per checkpoint, written beside its final name and renamed over it, so a training killed at
any moment leaves only whole checkpoints; the newest two are kept. The random state needs no saving:
noise, timesteps and batch order are drawn from generators seeded by (seed, step), so a resumed
training draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

KEEP = 2
_NAME = re.compile(r"^step-(\d{6,})\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    adapters: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    losses: list[float]
    seconds: float
    """Training time spent up to this step, over every run of it."""


def save_checkpoint(folder: Path, checkpoint: Checkpoint) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{checkpoint.step:06d}.pt"
    temporary = folder / f".{path.name}.tmp"
    with temporary.open("wb") as handle:
        torch.save({"step": checkpoint.step, "adapters": checkpoint.adapters, "optimizer": checkpoint.optimizer,
                    "losses": checkpoint.losses, "seconds": checkpoint.seconds}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    for old in sorted(_checkpoints(folder))[:-KEEP]:
        old[1].unlink(missing_ok=True)
    return path


def latest_checkpoint(folder: Path) -> Checkpoint | None:
    """The newest checkpoint in `folder` that reads (an unreadable one is passed over), or None."""
    for _, path in sorted(_checkpoints(folder), reverse=True):
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            return Checkpoint(int(data["step"]), data["adapters"], data["optimizer"],
                              [float(x) for x in data["losses"]], float(data["seconds"]))
        except Exception:
            continue
    return None


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    return [(int(match.group(1)), path) for path in folder.iterdir() if (match := _NAME.match(path.name))]
