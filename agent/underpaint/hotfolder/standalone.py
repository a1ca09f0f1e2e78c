"""`underpaint watch`: the agent's job manager and a hot folder, in-process, without the websocket server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.jobs.runtime import running_jobs

from .service import HotFolder


async def watch(folder: Path, settings: Settings, engines: Mapping[str, Engine], stop: asyncio.Event) -> None:
    """Run the same JobManager as `serve` (same history, same result store) feeding on `folder` until `stop`."""
    async with running_jobs(settings, engines) as manager:
        hot_folder = HotFolder(folder, manager, settings)
        await hot_folder.start()
        try:
            await stop.wait()
        finally:
            await hot_folder.stop()
