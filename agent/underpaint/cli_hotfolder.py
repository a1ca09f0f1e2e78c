"""`underpaint watch DIR`: a hot folder without the websocket server."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import click

from underpaint.cli_common import console, load


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--poll", "hot_folder_poll", type=click.FloatRange(min=0.01),
              help="Poll every N seconds instead of OS events (network shares).")
@click.option("--stable-seconds", "hot_folder_stable_seconds", type=click.FloatRange(min=0.01),
              help="A file unchanged this long is complete (default 2).")
@click.option("--engine", help="Default engine (default: classic).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where history and results live.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def watch(ctx: click.Context, /, folder: Path, log_level: str, **flags: Any) -> None:
    """Watch FOLDER: images dropped in FOLDER/in become layered PSDs in FOLDER/out."""
    from underpaint.hotfolder.lock import FolderBusy
    from underpaint.hotfolder.standalone import watch as run_watch
    from underpaint.jobs.runtime import build_engines, credentials_for

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load(ctx, hot_folder=folder, **flags).settings
    try:
        engines = build_engines(settings)
        credentials_for(settings)  # a broken certificate path stops the start with its sentence, as `serve` does
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None

    async def until_stopped() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"Watching {folder.resolve()} (drop files into {folder / 'in'}); Ctrl+C stops.")
        await run_watch(folder, settings, engines, stop)

    try:
        asyncio.run(until_stopped())
    except FolderBusy as exc:
        raise click.ClickException(str(exc)) from None
