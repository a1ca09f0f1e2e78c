"""The registry of named models and LoRAs: a small JSON file, managed by `underpaint models ...`.

Each entry says what it is (a whole model, or a LoRA applied on top of one),
where the weights are (a diffusers folder, a single-file checkpoint or LoRA,
or a hub id already pulled into the Hugging Face cache), what architecture
they are (for a LoRA, the family it was made for), and their content hash,
which goes into every recipe.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underpaint.engines.diffusers.architecture import Architecture
from underpaint.engines.diffusers.checkpoint import (
    ModelFileError,
    content_sha256,
    fingerprint,
    read_safetensors_header,
)
from underpaint.engines.diffusers.lora_files import detect_lora, is_lora

SourceKind = Literal["folder", "single_file", "hub"]
Role = Literal["model", "lora"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
               allow_ckpt: bool = False) -> ModelEntry:
    """Inspect `path` (model or LoRA, its architecture, its content hash) and describe it as a registry entry."""
    if not _NAME.match(name):
        raise RegistryError(f"'{name}' is not a usable model name: letters, digits, '.', '_' and '-', "
                            "at most 64 characters.")
    path = path.expanduser().resolve()
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
