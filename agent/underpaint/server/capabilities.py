"""The capabilities block of the handshake, from the intake's engines and styles and the settings."""

from __future__ import annotations

from underpaint.cluster.users import Caller
from underpaint.config import Settings
from underpaint.core.conditioning import ControlKind
from underpaint.engines.base import Engine
from underpaint.jobs.intake import Intake
from underpaint.jobs.manager import JobManager
from underpaint.wire.messages import (
    Capabilities,
    ClusterInfo,
    ControlNetInfo,
    EngineInfo,
    Limits,
    ModelInfo,
    StyleInfo,
)


def waiting_limit(settings: Settings) -> int:
    """How many jobs one connection may have waiting (its share of the queue), and so the most targets of a set."""
    return max(1, int(settings.queue_size * settings.queue_share))


def model_info(engine: Engine, model: str) -> ModelInfo:
    """What a job on `model` may do (family, modes, sizes, guidance) and add: the LoRAs, ControlNets,
    preprocessors and IP-Adapters made for it."""
    caps = engine.capabilities_for(model)
    return ModelInfo(name=model, description=caps.description, loras=list(caps.loras),
                     controlnets=[ControlNetInfo(name=name, kind=kind) for name, kind in caps.controlnets],
                     preprocessors=sorted(caps.preprocessors), ip_adapters=list(caps.ip_adapters),
                     family=caps.family, modes=sorted(caps.offered_modes), native_min=caps.native_min,
                     native_max=caps.native_max, max_pixels=caps.max_pixels, multiple=caps.multiple,
                     guidance=caps.guidance)


def cluster_view(manager: JobManager) -> ClusterInfo | None:
    """A studio gateway's workers now (None on a single-process agent); only `sees_cluster` callers are shown them."""
    return manager.lanes.info(len(manager.queue))


def sees_cluster(caller: Caller) -> bool:
    """Who is shown the workers (the handshake's `cluster`, /health's): the agent's owner (the pairing token)
    and admin users."""
    return caller.user is None or caller.admin


def capabilities(intake: Intake, settings: Settings, cluster: ClusterInfo | None = None) -> Capabilities:
    """`cluster`: the workers, for an admin (see `cluster_view`)."""
    infos = []
    for engine in intake.engines.values():
        caps = engine.capabilities
        infos.append(EngineInfo(
            name=caps.name, modes=sorted(caps.offered_modes), uses_prompt=caps.uses_prompt,
            native_min=caps.native_min, native_max=caps.native_max, multiple=caps.multiple,
            max_pixels=caps.max_pixels, models=list(caps.models), description=caps.description,
            model_details=[model_info(engine, model) for model in caps.models],
            default_model=identity[0] if (identity := engine.model_identity(None)) else None,
        ))
    return Capabilities(
        engines=infos,
        default_engine=settings.engine,
        formats=["rgba8", "gray8", "png"],
        limits=Limits(max_pixels=settings.max_pixels, max_message_bytes=settings.max_message_bytes,
                      chunk_bytes=settings.chunk_bytes, max_variants=settings.max_variants,
                      queue_size=settings.queue_size, max_set_targets=waiting_limit(settings)),
        control_kinds=list(ControlKind),
        # A broken style file is left out here; naming it in a job says what is wrong with it.
        # The intake's book, whose parsed styles stay cached until their files change.
        styles=[StyleInfo(name=style.name, description=style.description, model=style.model,
                          sets=style.fields_set())
                for style in (intake.styles.styles()[0] if intake.styles is not None else [])],
        cluster=cluster,
    )
