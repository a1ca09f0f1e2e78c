"""Warm models, least recently used unloaded first when the next one would not fit."""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from underpaint.engines.diffusers.device import free_memory_bytes
from underpaint.engines.diffusers.loader import LoadedModel, LoadOptions, load_model
from underpaint.engines.diffusers.memory import disk_bytes
from underpaint.engines.diffusers.registry import ModelEntry

log = logging.getLogger(__name__)
HEADROOM = 1.25
"""Free memory wanted per byte of weights on disk: activations need room too."""


class ModelCache:
    def __init__(self, options: LoadOptions, max_models: int = 2,
                 loader: Callable[[ModelEntry, LoadOptions], LoadedModel] = load_model) -> None:
        self.options = options
        self.max_models = max_models
        self._loader = loader
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, entry: ModelEntry) -> LoadedModel:
        key = (entry.name, entry.sha256)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            self._make_room(disk_bytes(entry.location))
            model = self._loader(entry, self.options)
            self._models[key] = model
            return model

    @property
    def loaded(self) -> list[str]:
        return [name for name, _ in self._models]

    def _make_room(self, needed: int) -> None:
        while self._models and (len(self._models) >= self.max_models or not self._fits(needed)):
            (name, _), model = self._models.popitem(last=False)
            log.info("unloading model %s to make room", name)
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _fits(self, needed: int) -> bool:
        free = free_memory_bytes(self.options.placement.device)
        return free is None or free > needed * HEADROOM
