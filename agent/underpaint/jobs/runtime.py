"""The job room as the agent runs it, from the settings: engines, intake, history, results, manager.

`serve`, `watch` and the Python API all build it here, so the front doors share
one wiring (and one history and result folder) rather than copies of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.upscalers.book import Upscalers
from underpaint.jobs.history import HistoryStore
from underpaint.jobs.intake import Intake
from underpaint.jobs.lanes import Lanes
from underpaint.jobs.manager import JobManager
from underpaint.jobs.training import Trainings
from underpaint.results.credentials import Credentials, configured_credentials
from underpaint.results.store import ResultStore
from underpaint.styles import StyleBook


def build_engines(settings: Settings) -> dict[str, Engine]:
    """The engines an agent with `settings` offers. The classic engine is always there; the
    diffusers engine only when a model is configured (`model` setting, `serve --model`) or
    registered (`underpaint models add`), so a fresh `make run` imports no torch and downloads
    nothing. Raises ValueError, naming what to do, when the default engine is not among them."""
    engines: dict[str, Engine] = {"classic": ClassicEngine()}
    diffusers = build_diffusers(settings)
    if diffusers is not None:
        engines["diffusers"] = diffusers
    if settings.engine not in engines:
        hint = " (configure a model: `underpaint models add NAME PATH`)" if settings.engine == "diffusers" else ""
        raise ValueError(f"Unknown engine '{settings.engine}'; available: {sorted(engines)}{hint}.")
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
    default = settings.model or next((name for name in sorted(entries) if entries[name].role == "model"), None)
    if default is None:
        return None
    from underpaint.engines.diffusers.checkpoint import ModelFileError
    from underpaint.engines.diffusers.device import placement
    from underpaint.engines.diffusers.engine import DiffusersEngine
    from underpaint.engines.diffusers.loader import LoadOptions

    try:
        options = LoadOptions(placement(settings.device, settings.dtype), offload=settings.cpu_offload,
                              compile=settings.compile, offline=settings.offline,
                              compile_cache=settings.data_dir / "compile-cache",
                              drop_text_encoders=settings.drop_text_encoders, quantize=settings.quantize)
        return DiffusersEngine(registry, default, options, settings.max_loaded_models)
    except (RegistryError, ModelFileError) as exc:
        raise ValueError(str(exc)) from None


def intake_for(settings: Settings, engines: Mapping[str, Engine]) -> Intake:
    return Intake(engines, settings.engine, settings.max_pixels, settings.max_variants,
                  StyleBook(settings.styles_dir), upscalers_for(settings))


def upscalers_for(settings: Settings) -> Upscalers:
    """The registered super-resolution models, run where the diffusers engine would run (`device`, `dtype`)."""
    from underpaint.engines.diffusers.registry import ModelRegistry

    return Upscalers(ModelRegistry(settings.models_path), settings.device, settings.dtype)


def credentials_for(settings: Settings) -> Credentials:
    """What the files of an agent with `settings` say of how they were made, and who signs it.
    Raises CredentialsError (a ValueError, code bad_credentials) for settings that cannot be used."""
    return configured_credentials(settings.iptc_disclosure, settings.c2pa_manifest, settings.c2pa_certificate,
                                  settings.c2pa_private_key, settings.c2pa_trust_anchors, settings.credentials_dir)


@asynccontextmanager
async def running_jobs(settings: Settings, engines: Mapping[str, Engine],
                       lanes: Lanes | None = None) -> AsyncIterator[JobManager]:
    """A started JobManager over the settings' history and result folder; closed on the way out.
    `lanes`: where the engine steps run (a studio gateway's workers); None: in this process."""
    history = HistoryStore(settings.history_path)
    store = ResultStore(settings.results_dir, settings.result_max_age_days, settings.result_max_total_mb,
                        credentials_for(settings))
    manager = JobManager(intake_for(settings, engines), store, history, settings.queue_size, settings.chunk_bytes,
                         resume_bytes=int(settings.resume_memory_mb * 1024 * 1024), lanes=lanes)
    manager.trainings = Trainings(manager, settings.models_path, StyleBook(settings.styles_dir),
                                  settings.training_dir, settings.device, settings.model)
    try:
        await manager.start()
        manager.trainings.resume_interrupted()
        yield manager
    finally:
        await manager.close()
        manager.trainings.close()
        history.close()
