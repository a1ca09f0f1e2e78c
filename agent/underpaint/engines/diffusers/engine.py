"""The diffusers engine: Stable Diffusion 1.x/2.x/SDXL behind the Engine interface.

Knows nothing of documents: it gets a WorkItem at working size and yields one
RGB8 image per seed, each as soon as it is decoded (variants run one by one;
docs/benchmarks.md says why not batched).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from underpaint.core import ErrorCode, Mode
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, EngineError, JobCancelled, ProgressSink, WorkItem
from underpaint.engines.diffusers.cache import ModelCache
from underpaint.engines.diffusers.calls import run_one
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.previews import latents_to_rgb, wants_preview
from underpaint.engines.diffusers.registry import ModelEntry, ModelRegistry, RegistryError, make_entry
from underpaint.engines.diffusers.schedulers import SCHEDULER_NAMES

log = logging.getLogger(__name__)
NAME = "diffusers"
MODES = frozenset(Mode)


class DiffusersEngine:
    """Models by registry name (or a path given as the default); loaded on first use and kept warm."""

    def __init__(self, registry: ModelRegistry, default_model: str, options: LoadOptions,
                 max_models: int = 2) -> None:
        self.registry = registry
        self.default_model = default_model
        self.options = options
        self.cache = ModelCache(options, max_models)
        self._adhoc: dict[str, ModelEntry] = {}
        self._adhoc_lock = threading.Lock()
        self.entry(None)  # an unknown default fails here, at start, not at the first job

    # what the agent reports and plans with

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.capabilities_for(None)

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        """Capabilities with `model`'s native sizes (the default model's when None)."""
        try:
            entry = self.entry(model)
            native_min, native_max, max_pixels = entry.native or entry.arch.native
            label = f"{entry.name} ({entry.architecture})"
        except (RegistryError, ModelFileError):
            native_min, native_max, max_pixels, label = 512, 768, 512 * 768, f"{model} (unavailable)"
        names = sorted({*self.registry.entries(), self.default_name})
        return EngineCapabilities(
            name=NAME, modes=MODES, uses_prompt=True, native_min=native_min, native_max=native_max,
            multiple=8, max_pixels=max_pixels, models=tuple(names), schedulers=SCHEDULER_NAMES,
            description=(f"Stable Diffusion through diffusers on {self.options.placement.label}; model {label}; "
                         f"schedulers {', '.join(SCHEDULER_NAMES)}."),
        )

    def model_identity(self, model: str | None) -> tuple[str, str]:
        """(name, content sha256) of the model a job with `model` runs: what its recipe records."""
        entry = self.entry(model)
        return entry.name, entry.sha256

    @property
    def default_name(self) -> str:
        return self.entry(None).name

    def entry(self, model: str | None) -> ModelEntry:
        name = model or self.default_model
        entries = self.registry.entries()
        if name in entries:
            return entries[name]
        path = Path(name).expanduser()
        if model is None and path.exists():
            with self._adhoc_lock:
                if name not in self._adhoc:
                    self._adhoc[name] = make_entry(path.name.removesuffix(".safetensors")[:64] or "model", path)
                return self._adhoc[name]
        return self.registry.get(name)

    # work

    def preload(self) -> None:
        """Load the default model on a background thread so the first job finds it warm."""
        def load() -> None:
            try:
                self.cache.get(self.entry(None))
            except Exception as exc:
                log.error("could not preload the default model: %s", exc)

        threading.Thread(target=load, name="underpaint-preload", daemon=True).start()

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        try:
            model = self.cache.get(self.entry(work.params.model))
        except (RegistryError, ModelFileError) as exc:
            raise EngineError(ErrorCode.MODEL_UNAVAILABLE, str(exc)) from None
        family = model.arch.family
        for index, seed in enumerate(work.seeds):
            cancel.raise_if_cancelled()

            def on_step(step: int, steps: int, latents: torch.Tensor, index: int = index) -> None:
                preview = latents_to_rgb(latents, family) if wants_preview(step, steps) else None
                progress(index, step, steps, preview)
                cancel.raise_if_cancelled()

            try:
                image = run_one(model, work, seed, on_step)
            except (JobCancelled, EngineError):
                raise
            except torch.OutOfMemoryError:
                raise EngineError(ErrorCode.ENGINE_FAILED, "The GPU ran out of memory; try fewer variants, a smaller "
                                  "selection, or cpu_offload = true.") from None
            except Exception as exc:
                log.exception("diffusers call failed")
                raise EngineError(ErrorCode.ENGINE_FAILED, f"The diffusers engine failed: {exc}") from exc
            yield image
