"""The capabilities block of the handshake, from the engines and the settings."""

from __future__ import annotations

from collections.abc import Mapping

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.wire.messages import Capabilities, EngineInfo, Limits


def capabilities(engines: Mapping[str, Engine], settings: Settings) -> Capabilities:
    infos = []
    for engine in engines.values():
        caps = engine.capabilities
        infos.append(EngineInfo(
            name=caps.name, modes=sorted(caps.modes), uses_prompt=caps.uses_prompt,
            native_min=caps.native_min, native_max=caps.native_max, multiple=caps.multiple,
            max_pixels=caps.max_pixels, models=list(caps.models), description=caps.description,
        ))
    return Capabilities(
        engines=infos,
        default_engine=settings.engine,
        formats=["rgba8", "gray8", "png"],
        limits=Limits(max_pixels=settings.max_pixels, max_message_bytes=settings.max_message_bytes,
                      chunk_bytes=settings.chunk_bytes, max_variants=settings.max_variants,
                      queue_size=settings.queue_size),
    )
