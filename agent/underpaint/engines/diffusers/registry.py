"""The registry of named models and their add-ons: a small JSON file, managed by `underpaint models ...`.

Each entry says what it is (a whole model, or a LoRA applied on top of one,
or a ControlNet run beside one, with the kind of control it was trained for,
or an IP-Adapter run inside one, with the image encoder it reads,
or a preprocessor model that makes one kind of control map,
or a super-resolution model, whose architecture spandrel detects),
where the weights are (a diffusers folder, a single-file checkpoint or LoRA,
or a hub id already pulled into the Hugging Face cache), what architecture
they are (for a LoRA, ControlNet or IP-Adapter, the family it was made for;
for a preprocessor, its transformers class),
and their content hash, which goes into every recipe.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underpaint.core.conditioning import ControlKind
from underpaint.core.names import NAME_PATTERN
from underpaint.engines.diffusers.architecture import Architecture
from underpaint.engines.diffusers.checkpoint import (
    ModelFileError,
    content_sha256,
    fingerprint,
    read_safetensors_header,
)
from underpaint.engines.diffusers.controlnet_files import controlnet_tensors, detect_controlnet
from underpaint.engines.diffusers.hub import cached_snapshot
from underpaint.engines.diffusers.ip_adapter_files import adapter_file, describe, files_fingerprint, files_sha256
from underpaint.engines.diffusers.lora_files import detect_lora, is_lora
from underpaint.engines.diffusers.preprocessor_files import (
    READY_MAP_KINDS,
    detect_preprocessor,
    ready_map_sentence,
    transformers_config,
)
from underpaint.engines.upscalers.spandrel_models import describe as describe_upscaler
from underpaint.engines.upscalers.spandrel_models import read_model as read_upscaler

SourceKind = Literal["folder", "single_file", "hub"]
Role = Literal["model", "lora", "controlnet", "ip_adapter", "preprocessor", "upscaler"]
_NAME = re.compile(NAME_PATTERN)


class TrainedFrom(BaseModel):
    """Where a LoRA trained by this agent came from: what a recipe of its own making needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str = Field(description="The registered base model it was trained on.")
    base_sha256: str
    dataset_sha256: str = Field(description="Of every image, mask and caption it learned from.")
    recipe: dict[str, Any] = Field(description="The training recipe (training/recipe.py), every field resolved.")


class ModelEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Role = Field(default="model", description="A whole model, or a LoRA that jobs apply on top of one.")
    source: str = Field(description="Folder or file path, or the hub id for pulled models.")
    kind: SourceKind
    path: str = Field(description="Where the weights are on disk (for hub models, the snapshot folder).")
    architecture: str
    sha256: str
    fingerprint: str = ""
    config: str | None = Field(default=None, description="Diffusers folder or hub id with the component configs "
                                                         "and tokenizers a single-file checkpoint needs.")
    native: tuple[int, int, int] | None = Field(default=None, description="Override: long side min, max, max pixels.")
    allow_ckpt: bool = False
    control_kind: ControlKind | None = Field(default=None, description="A ControlNet's kind (what its control "
                                                                       "images show): the user names it; a "
                                                                       "preprocessor's, the kind of map it makes.")
    image_encoder: str | None = Field(default=None, description="An IP-Adapter's CLIP image encoder folder; "
                                                                "`sha256` covers it too.")
    trained: TrainedFrom | None = Field(default=None, description="A LoRA this agent trained: its base, data "
                                                                  "and recipe.")

    @property
    def arch(self) -> Architecture:
        return Architecture.parse(self.architecture)

    @property
    def location(self) -> Path:
        return Path(self.path)


class RegistryError(Exception):
    pass


class ModelRegistry:
    """Named models in `path` (JSON). Reads on every call, writes atomically: the CLI and agent may share it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> dict[str, ModelEntry]:
        if not self.path.is_file():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: ModelEntry.model_validate(value) for name, value in raw.get("models", {}).items()}
        except (json.JSONDecodeError, ValidationError, AttributeError) as exc:
            raise RegistryError(f"The model registry {self.path} is corrupt ({exc}); fix or delete it.") from None

    def get(self, name: str) -> ModelEntry:
        entries = self.entries()
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none registered"
            raise RegistryError(f"No model named '{name}' (known: {known}). Add it with "
                                "`underpaint models add NAME PATH` or `underpaint models pull HUB_ID`.")
        return entries[name]

    def put(self, entry: ModelEntry) -> None:
        entries = self.entries()
        entries[entry.name] = entry
        self._write(entries)

    def remove(self, name: str) -> ModelEntry:
        entries = self.entries()
        if name not in entries:
            raise RegistryError(f"No model named '{name}'.")
        entry = entries.pop(name)
        self._write(entries)
        return entry

    def _write(self, entries: dict[str, ModelEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"models": {name: entry.model_dump(mode="json") for name, entry in sorted(entries.items())}}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


def make_entry(name: str, path: Path, kind: SourceKind | None = None, source: str | None = None,
               config: str | None = None, native: tuple[int, int, int] | None = None,
               allow_ckpt: bool = False, control_kind: ControlKind | None = None,
               image_encoder: Path | None = None, upscaler: bool = False) -> ModelEntry:
    """Inspect `path` (model, LoRA, ControlNet, IP-Adapter, preprocessor or, with `upscaler`, super-resolution
    model; its architecture, its content hash) and describe it as a registry entry; a ControlNet's `control_kind`
    is not in its weights, so the caller gives it (a preprocessor's is read from its config; given, it must
    match)."""
    if not _NAME.match(name):
        raise RegistryError(f"'{name}' is not a usable model name: letters, digits, '.', '_' and '-', "
                            "at most 64 characters.")
    try:
        path = cached_snapshot(path.expanduser().resolve())
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    if upscaler:
        if control_kind is not None or config is not None or native is not None or image_encoder is not None:
            raise RegistryError(f"{path} is added as an upscaler; --config, --native and --image-encoder are for "
                                "diffusion models and IP-Adapters.")
        # spandrel reads .pth files through its restricted unpickler (tensors and containers only): no --allow-ckpt.
        return ModelEntry(name=name, role="upscaler", source=source or str(path), kind=kind or "single_file",
                          path=str(path), architecture=describe_upscaler(read_upscaler(path)),
                          sha256=content_sha256(path), fingerprint=fingerprint(path))
    if (controlnet := controlnet_tensors(path)) is not None:
        if control_kind is None:
            raise RegistryError(f"{path} is a ControlNet: say which kind of control it was trained for "
                                f"(--kind {'|'.join(ControlKind)}).")
        if native is not None or allow_ckpt:
            raise RegistryError(f"{path} is a ControlNet; --native and --allow-ckpt are for models.")
        return ModelEntry(name=name, role="controlnet", source=source or str(path),
                          kind=kind or ("folder" if path.is_dir() else "single_file"), path=str(path),
                          architecture=str(detect_controlnet(controlnet, path)), sha256=content_sha256(path),
                          fingerprint=fingerprint(path), config=config, control_kind=control_kind)
    if (transformers := transformers_config(path)) is not None:
        if config is not None or native is not None or allow_ckpt or image_encoder is not None:
            raise RegistryError(f"{path} is a transformers model (a preprocessor); --config, --native, "
                                "--allow-ckpt and --image-encoder are for diffusion models and IP-Adapters.")
        made = detect_preprocessor(path, transformers, control_kind)
        return ModelEntry(name=name, role="preprocessor", source=source or str(path), kind=kind or "folder",
                          path=str(path), architecture=made.architecture, sha256=content_sha256(path),
                          fingerprint=fingerprint(path), control_kind=made.kind)
    if control_kind in READY_MAP_KINDS:
        raise RegistryError(f"{path} is no ControlNet. {ready_map_sentence(control_kind)}")
    if control_kind is not None:
        raise RegistryError(f"--kind is for ControlNets and preprocessor models (transformers depth-estimation or "
                            f"segmentation folders); {path} is neither.")
    if (adapter := adapter_file(path)) is not None:
        if config is not None or native is not None or allow_ckpt:
            raise RegistryError(f"{path} is an IP-Adapter; --config, --native and --allow-ckpt are for models.")
        files = describe(adapter, image_encoder.expanduser().resolve() if image_encoder else None)
        return ModelEntry(name=name, role="ip_adapter", source=source or str(path), kind=kind or "single_file",
                          path=str(adapter), architecture=str(files.kind.family), image_encoder=str(files.encoder),
                          sha256=files_sha256(adapter, files.encoder),
                          fingerprint=files_fingerprint(adapter, files.encoder))
    if image_encoder is not None:
        raise RegistryError(f"--image-encoder is for IP-Adapters; {path} is not one.")
    if path.is_file() and path.suffix == ".safetensors" and is_lora(tensors := read_safetensors_header(path)):
        if config is not None or native is not None:
            raise RegistryError(f"{path} is a LoRA; --config and --native are for models.")
        return ModelEntry(name=name, role="lora", source=source or str(path), kind=kind or "single_file",
                          path=str(path), architecture=str(detect_lora(tensors, path)), sha256=content_sha256(path),
                          fingerprint=fingerprint(path))
    if path.is_file() and path.suffix != ".safetensors" and not allow_ckpt:
        raise ModelFileError(f"{path} is a pickle checkpoint, which can run code when loaded. Convert it to "
                             ".safetensors, or add it with --allow-ckpt if you trust where it came from.")
    from underpaint.engines.diffusers.loader import detect_source

    arch = detect_source(path, allow_ckpt)
    return ModelEntry(
        name=name, source=source or str(path), kind=kind or ("folder" if path.is_dir() else "single_file"),
        path=str(path), architecture=arch.name, sha256=content_sha256(path), fingerprint=fingerprint(path),
        config=config, native=native, allow_ckpt=allow_ckpt,
    )


def checked_location(entry: ModelEntry, what: str, read: Callable[[Path], object], add_options: str = "") -> Path:
    """Where `entry`'s weights are: there, readable by `read`, and still the content they were registered
    with (the cheap fingerprint first, the content hash only when it differs). ModelFileError naming `what`
    (LoRA, ControlNet, ...) and the fix otherwise."""
    location = entry.location
    if not location.exists():
        raise ModelFileError(f"{what} '{entry.name}': {location} does not exist. Put it back, or "
                             f"`underpaint models remove {entry.name}` and add it again.")
    try:
        read(location)
    except (ModelFileError, OSError) as exc:
        raise ModelFileError(f"{what} '{entry.name}': {exc}") from None
    if fingerprint(location) != entry.fingerprint and content_sha256(location) != entry.sha256:
        raise ModelFileError(f"{what} '{entry.name}': {location} is not what it was registered as (its content "
                             f"changed); `underpaint models add {entry.name} {location}{add_options}` again to use "
                             "it as it is now.")
    return location
