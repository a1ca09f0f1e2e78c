"""The `underpaint` command: serve the agent, and talk to a running one like a plugin does."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from underpaint.config import LoadedSettings, Settings, SettingsError, describe, load_settings
from underpaint.version import __version__

console = Console(stderr=True, soft_wrap=True)


def _load(ctx: click.Context, **cli: Any) -> LoadedSettings:
    config_dir = ctx.obj.get("config_dir") if ctx.obj else None
    try:
        return load_settings(cli, config_dir=config_dir)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="underpaint")
@click.option("--config-dir", type=click.Path(path_type=Path), envvar="UNDERPAINT_CONFIG_DIR",
              help="Folder holding config.toml and the pairing token.")
@click.pass_context
def main(ctx: click.Context, config_dir: Path | None) -> None:
    """Underpaint: layered, reproducible AI fills for Photoshop, Figma and a hot folder."""
    ctx.ensure_object(dict)
    ctx.obj["config_dir"] = config_dir


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 7433).")
@click.option("--engine", help="Default engine (default: classic, which needs no downloads).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where history and results live.")
@click.option("--hot-folder", type=click.Path(file_okay=False, path_type=Path), help="Also watch this hot folder.")
@click.option("--poll", "hot_folder_poll", type=click.FloatRange(min=0.01), help="Poll the hot folder every N s.")
@click.option("--model", help="Default diffusers model (a name from `underpaint models list`, or a path); "
              "makes diffusers the default engine unless --engine says otherwise.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def serve(ctx: click.Context, /, log_level: str, **flags: Any) -> None:
    """Start the agent."""
    import logging

    from underpaint.engines.registry import build_engines
    from underpaint.hotfolder.lock import FolderBusy
    from underpaint.server.serve import start_agent

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if flags.get("model") and not flags.get("engine"):
        flags["engine"] = "diffusers"
    loaded = _load(ctx, **flags)
    settings = loaded.settings
    try:
        engines = build_engines(settings.engine, settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    preload = getattr(engines.get("diffusers"), "preload", None)
    if preload is not None:
        preload()

    async def serve_until_stopped() -> None:
        try:
            agent = await start_agent(settings, engines)
        except FolderBusy as exc:
            raise click.ClickException(f"{exc} Stop that agent or pick another --hot-folder.") from None
        except OSError as exc:
            raise click.ClickException(
                f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
                "Is another agent already running? Stop it or pick another --port.") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _banner(settings, agent.http_url, engines)
        await stop.wait()
        console.print("Stopping: finishing the running job's bookkeeping...")
        await agent.stop()

    asyncio.run(serve_until_stopped())


def _banner(settings: Settings, url: str, engines: dict[str, Any]) -> None:
    console.print(f"[bold]Underpaint {__version__}[/bold] listening on {url} (websocket {url}/v1/ws)")
    console.print(f"Pairing token: [bold]{settings.token}[/bold]  (paste it into the plugin once)")
    for name, engine in engines.items():
        caps = engine.capabilities
        default = " (default)" if name == settings.engine else ""
        models = ", ".join(caps.models) or "no model weights"
        console.print(f"Engine {name}{default}: {', '.join(sorted(caps.modes))}; {models}")
    console.print(f"Data folder: {settings.data_dir}")
    if settings.hot_folder:
        console.print(f"Hot folder: {settings.hot_folder}")
    console.print("Press Ctrl+C to stop.")


@main.command()
@click.pass_context
def token(ctx: click.Context, /) -> None:
    """Print the pairing token that plugins need."""
    click.echo(_load(ctx).settings.token)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def config(ctx: click.Context, /, as_json: bool) -> None:
    """Print the effective settings and where each came from."""
    loaded = _load(ctx)
    rows = describe(loaded)
    if as_json:
        click.echo(json.dumps({name: {"value": value, "source": source} for name, value, source in rows}, indent=2))
        return
    table = Table("setting", "value", "from", title=f"Underpaint settings (config folder {loaded.config_dir})")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _connect_settings(ctx: click.Context, host: str | None, port: int | None) -> Settings:
    return _load(ctx, host=host, port=port).settings


def _run_client(coro: Any) -> Any:
    from underpaint.client.agent_client import AgentRefused

    try:
        return asyncio.run(coro)
    except AgentRefused as exc:
        raise click.ClickException(f"The agent refused: {exc.error.message}") from None
    except OSError as exc:
        raise click.ClickException(
            f"Cannot reach the agent ({exc}). Start it with `make run` or `underpaint serve`.") from None


client_options = [
    click.option("--host", help="Agent address (default from settings)."),
    click.option("--port", type=int, help="Agent port (default from settings)."),
]


def with_client_options(function: Any) -> Any:
    for option in reversed(client_options):
        function = option(function)
    return function


@main.command()
@with_client_options
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs(ctx: click.Context, /, host: str | None, port: int | None, limit: int, as_json: bool) -> None:
    """List recent jobs of the running agent."""
    from underpaint.client.agent_client import AgentClient

    settings = _connect_settings(ctx, host, port)

    async def fetch() -> list[Any]:
        async with await AgentClient.connect(_ws_url(settings), settings.token or "") as client:
            return await client.list_jobs(limit)

    summaries = _run_client(fetch())
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in summaries], indent=2))
        return
    table = Table("job", "state", "mode", "variants", "source", "prompt")
    for s in summaries:
        table.add_row(s.job_id, s.state, s.mode, str(s.variants), s.source, s.prompt[:40])
    Console().print(table)


def _ws_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"ws://{host}:{settings.port}/v1/ws"


@main.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Selection: white = fill, black = keep, grey = soft.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Layered PSD to write.")
@click.option("--prompt", default="", help="What to put there (engines that take prompts).")
@click.option("--negative-prompt", default="")
@click.option("--variants", default=3, show_default=True, type=click.IntRange(1, 16))
@click.option("--seed", default=None, type=click.IntRange(0, 2**32 - 1), help="Base seed (random if not given).")
@click.option("--engine", default=None, help="Engine name (the agent's default if not given).")
@click.option("--mode", default="fill", type=click.Choice(["fill", "remove"]), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress.")
@with_client_options
@click.pass_context
def fill(ctx: click.Context, /, image: Path, mask: Path, out: Path, prompt: str, negative_prompt: str,
         variants: int, seed: int | None, engine: str | None, mode: str, as_json: bool,
         host: str | None, port: int | None) -> None:
    """Fill the masked part of IMAGE through the running agent; writes OUT.psd and variant PNGs."""
    from underpaint.jobs.spec import Mode, Params

    params = Params(prompt=prompt, negative_prompt=negative_prompt, variants=variants, engine=engine,
                    seed=seed if seed is not None else uuid.uuid4().int % 2**32)
    _client_job(ctx, Mode(mode), image, mask, params, out, as_json, host, port)


@main.command()
@click.argument("recipe_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Source image (default: the PSD's background).")
@click.option("--mask", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Selection (default: the PSD's saved selection).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@with_client_options
@click.pass_context
def replay(ctx: click.Context, /, recipe_file: Path, image: Path | None, mask: Path | None, out: Path,
           as_json: bool, host: str | None, port: int | None) -> None:
    """Re-run a recipe (from JSON, PNG or PSD) through the running agent."""
    from underpaint.client.replay import replay_inputs

    try:
        recipe, source, selection = replay_inputs(recipe_file, image, mask)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _client_job(ctx, recipe.mode, source, selection, recipe.params, out, as_json, host, port)


def _client_job(ctx: click.Context, mode: Any, image: Any, mask: Any, params: Any, out: Path,
                as_json: bool, host: str | None, port: int | None) -> None:
    from underpaint.client.run_job import run_client_job

    settings = _connect_settings(ctx, host, port)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, disable=as_json) as bar:
        task = bar.add_task("queued", total=1.0)

        def on_progress(description: str, fraction: float) -> None:
            bar.update(task, description=description, completed=fraction)

        try:
            summary = _run_client(run_client_job(_ws_url(settings), settings.token or "", mode, image, mask,
                                                 params, out, on_progress))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif summary["state"] == "done":
        console.print(f"Wrote {summary['psd']} and {len(summary['variants'])} variant PNG(s).")
        for warning in summary["warnings"]:
            console.print(f"[yellow]Note:[/yellow] {warning}")
    if summary["state"] != "done":
        if not as_json:
            console.print(f"[red]Job {summary['state']}:[/red] {summary.get('message', '')}")
        sys.exit(1)


from underpaint.cli_models import models  # noqa: E402

main.add_command(models)

from underpaint.cli_hotfolder import watch  # noqa: E402

main.add_command(watch)
