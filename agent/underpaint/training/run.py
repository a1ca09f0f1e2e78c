"""One training from start to registered LoRA: check, load, train (or resume), export, report, register.

`check_training` is the cheap part (the base is registered and trainable, the dataset has enough
usable images, the settings are possible), run before a training is queued so a bad request fails at
once; `run_training` is the long part, run by the job. The LoRA lands in `folder/NAME.safetensors`
with its report beside it and joins the registry with its base's hash, the dataset's hash and the
recipe, under NAME.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from underpaint.core import ErrorCode, RequestError
from underpaint.engines.base import CancelToken
from underpaint.engines.diffusers.architecture import NATIVE, Architecture, Family
from underpaint.engines.diffusers.registry import ModelEntry, ModelRegistry, RegistryError, TrainedFrom, make_entry
from underpaint.training.dataset import Dataset, load_dataset
from underpaint.training.recipe import TrainingRecipe

if TYPE_CHECKING:
    from underpaint.training.trainer import Trained, TrainingEvents

TRAINABLE = frozenset({Family.SD1, Family.SD2, Family.SDXL})


def native_resolution(arch: Architecture) -> int:
    """The square side a family was trained at: 512 (SD 1.x), 768 (SD 2.x), 1024 (SDXL)."""
    return {Family.SD1: 512, Family.SD2: 768, Family.SDXL: 1024}[arch.family]


@dataclass(frozen=True)
class Checked:
    recipe: TrainingRecipe
    """With `base`, `trigger` and `resolution` resolved."""
    base: ModelEntry
    dataset: Dataset


def check_training(recipe: TrainingRecipe, folder: Path, registry: ModelRegistry, default_base: str | None) -> Checked:
    """The recipe resolved against the registry and the dataset read; RequestError when it cannot train."""
    base_name = recipe.base or default_base
    try:
        entries = registry.entries()
    except RegistryError as exc:
        raise RequestError(ErrorCode.MODEL_UNAVAILABLE, str(exc)) from None
    if base_name is None:
        base_name = next((name for name in sorted(entries) if entries[name].role == "model"), None)
    if base_name is None or base_name not in entries or entries[base_name].role != "model":
        known = ", ".join(sorted(n for n, e in entries.items() if e.role == "model")) or "none registered"
        raise RequestError(ErrorCode.UNKNOWN_MODEL, f"No base model '{base_name}' to train on (known: {known}).")
    base = entries[base_name]
    if base.arch.inpaint or base.arch.family not in TRAINABLE:
        raise RequestError(ErrorCode.BAD_TRAINING, f"'{base_name}' is an {base.architecture} model; train a LoRA on "
                                                   "the plain SD 1.5, SD 2.x or SDXL model its looks build on.")
    if recipe.name in entries and entries[recipe.name].trained is None:
        raise RequestError(ErrorCode.BAD_TRAINING, f"'{recipe.name}' names a {entries[recipe.name].role} this "
                                                   "agent did not train; choose another name.")
    resolution = recipe.resolution or native_resolution(base.arch)
    if resolution * resolution > 2 * NATIVE[base.arch.family][2]:
        raise RequestError(ErrorCode.BAD_TRAINING, f"Resolution {resolution} is far above what {base_name} was "
                                                   f"made for ({native_resolution(base.arch)}).")
    if recipe.checkpoint_every > recipe.steps:
        recipe = recipe.model_copy(update={"checkpoint_every": recipe.steps})
    resolved = recipe.model_copy(update={"base": base_name, "trigger": recipe.trigger_word, "resolution": resolution})
    dataset = load_dataset(folder, resolved.trigger, resolution)
    if resolved.batch_size > len(dataset.images):
        raise RequestError(ErrorCode.BAD_TRAINING, f"Batch size {resolved.batch_size} is larger than the "
                                                   f"{len(dataset.images)} usable images.")
    return Checked(resolved, base, dataset)


@dataclass(frozen=True)
class TrainedLora:
    entry: ModelEntry
    trained: Trained
    report: dict[str, Path]
    device: str


def run_training(checked: Checked, registry: ModelRegistry, folder: Path, device: str, events: TrainingEvents,
                 cancel: CancelToken, turn: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
                 ) -> TrainedLora:
    """Train `checked` in `folder` (resuming from its newest checkpoint), export, report and register it."""
    from underpaint.engines.diffusers.device import pick_device, placement
    from underpaint.engines.diffusers.loader import LoadOptions, load_model
    from underpaint.training.report import write_report
    from underpaint.training.trainer import Trainer

    # Frozen weights in bf16 on GPUs (trained adapters stay fp32); fp32 on CPUs, where backward in bf16
    # loses the small updates a LoRA is made of.
    cancel.raise_if_cancelled()  # queued behind another training, then cancelled or the agent stopped
    where = placement(device, "bf16" if pick_device(device).type == "cuda" else "fp32")
    loaded = load_model(checked.base, LoadOptions(where))
    with turn():  # the latents and prompt embeddings are device work too
        trainer = Trainer(loaded.base, loaded.arch.family, checked.dataset, checked.recipe, folder, turn)
    trained = trainer.run(events, cancel)
    report = write_report(folder, checked.recipe.name, trained.losses, {
        "seconds": round(trained.seconds, 2), "device": where.label, "images": len(checked.dataset.images),
        "skipped": [{"file": name, "why": why} for name, why in checked.dataset.skipped],
        "dataset_sha256": checked.dataset.sha256, "base": checked.base.name, "base_sha256": checked.base.sha256,
        "resumed_from": trained.resumed_from, "recipe": checked.recipe.model_dump(mode="json")})
    entry = make_entry(checked.recipe.name, trained.path).model_copy(update={"trained": TrainedFrom(
        base=checked.base.name, base_sha256=checked.base.sha256, dataset_sha256=checked.dataset.sha256,
        recipe=checked.recipe.model_dump(mode="json"))})
    registry.put(entry)
    return TrainedLora(entry, trained, report, where.label)
