"""Building the engines an agent (or an in-process caller) offers.

The classic engine is always there. The diffusers engine is offered only when
a model is configured (`model` setting, `serve --model`) or registered
(`underpaint models add`), so a fresh `make run` imports no torch and
downloads nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine

if TYPE_CHECKING:
    from underpaint.config import Settings


def build_engines(default_engine: str, settings: Settings | None = None) -> dict[str, Engine]:
    engines: dict[str, Engine] = {"classic": ClassicEngine()}
    if settings is not None:
        diffusers = build_diffusers(settings)
        if diffusers is not None:
            engines["diffusers"] = diffusers
    if default_engine not in engines:
        hint = " (configure a model: `underpaint models add NAME PATH`)" if default_engine == "diffusers" else ""
        raise ValueError(f"Unknown engine '{default_engine}'; available: {sorted(engines)}{hint}.")
    return engines


def build_diffusers(settings: Settings) -> Engine | None:
    """The diffusers engine for `settings`, or None when no model is set or registered.

    Raises ValueError, naming what to do, for a default model that does not exist.
    """
    from underpaint.engines.diffusers.registry import ModelRegistry, RegistryError

    registry = ModelRegistry(settings.models_path)
    try:
        entries = registry.entries()
    except RegistryError as exc:
        raise ValueError(str(exc)) from None
    default = settings.model or next(iter(sorted(entries)), None)
    if default is None:
        return None
    from underpaint.engines.diffusers.checkpoint import ModelFileError
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions

    try:
        options = LoadOptions(placement(settings.device, settings.dtype), offload=settings.cpu_offload,
                              compile=settings.compile, offline=settings.offline)
        return DiffusersEngine(registry, default, options, settings.max_loaded_models)
    except (RegistryError, ModelFileError) as exc:
        raise ValueError(str(exc)) from None
