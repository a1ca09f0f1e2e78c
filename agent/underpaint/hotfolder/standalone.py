"""`underpaint watch`: the agent's job manager and a hot folder, in-process, without the websocket server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.jobs.history import HistoryStore
from underpaint.jobs.manager import JobManager
from underpaint.results.store import ResultStore

from .service import HotFolder


async def watch(folder: Path, settings: Settings, engines: Mapping[str, Engine], stop: asyncio.Event) -> None:
    """Run the same JobManager as `serve` (same history, same result store) feeding on `folder` until `stop`."""
    history = HistoryStore(settings.history_path)
    store = ResultStore(settings.results_dir, settings.result_max_age_days, settings.result_max_total_mb)
    manager = JobManager(engines, store, history, settings.queue_size, settings.chunk_bytes)
    await manager.start()
    hot_folder = HotFolder(folder, manager, settings)
    try:
        await hot_folder.start()
        try:
            await stop.wait()
        finally:
            await hot_folder.stop()
    finally:
        await manager.close()
        history.close()
