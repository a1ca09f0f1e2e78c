"""The `underpaint` command: serve the agent, and talk to a running one like a plugin does."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from underpaint.cli_cluster import CLUSTER_COMMANDS
from underpaint.cli_common import SetIdType, connect_settings, console, load, run_client, with_client_options, ws_url
from underpaint.cli_export import EXPORT_COMMANDS
from underpaint.cli_hotfolder import watch
from underpaint.cli_jobs import JOB_COMMANDS
from underpaint.cli_models import models
from underpaint.cli_styles import styles
from underpaint.cli_train import train
from underpaint.cli_users import users
from underpaint.cli_verify import describe_credentials, verify
from underpaint.config import Settings, SettingsError, describe
from underpaint.version import __version__
from underpaint.wire.messages import WEBSOCKET_PATH


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
@click.option("--cluster", metavar="auto|HOST:6379|ray://HOST:10001",
              help="Be a studio gateway: run jobs' engine steps on Ray workers (auto: this machine's Ray cluster, "
                   "or a new one of it alone; HOST:6379 the head's GCS port; ray://HOST:10001 Ray Client).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def serve(ctx: click.Context, /, log_level: str, **flags: Any) -> None:
    """Start the agent."""
    import logging

    from underpaint.cluster.users import UserError
    from underpaint.hotfolder.lock import FolderBusy
    from underpaint.jobs.runtime import build_engines, credentials_for
    from underpaint.server.serve import start_agent

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if flags.get("model") and not flags.get("engine"):
        flags["engine"] = "diffusers"
    loaded = load(ctx, **flags)
    settings = loaded.settings
    try:
        engines = build_engines(settings)
        # Here rather than at the first job: a studio's broken certificate path stops the start, and
        # the local signing pair exists before anything is signed with it.
        credentials = credentials_for(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.cluster:  # a gateway's workers load models; the gateway only reads the registry
        for engine in engines.values():
            engine.preload()

    async def serve_until_stopped() -> None:
        try:
            agent = await start_agent(settings, engines)
        except FolderBusy as exc:
            raise click.ClickException(f"{exc} Stop that agent or pick another --hot-folder.") from None
        except (SettingsError, UserError) as exc:  # TLS files that do not load, an unreadable user store
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(
                f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
                "Is another agent already running? Stop it or pick another --port.") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _banner(settings, agent.http_url, engines, describe_credentials(credentials))
        await stop.wait()
        console.print("Stopping: finishing the running job's bookkeeping...")
        await agent.stop()

    asyncio.run(serve_until_stopped())


def _banner(settings: Settings, url: str, engines: dict[str, Any], credentials: str) -> None:
    console.print(f"[bold]Underpaint {__version__}[/bold] listening on {url} (websocket {url}{WEBSOCKET_PATH})")
    console.print(f"Pairing token: [bold]{settings.token}[/bold]  (paste it into the plugin once)")
    for name, engine in engines.items():
        caps = engine.capabilities
        default = " (default)" if name == settings.engine else ""
        models = ", ".join(caps.models) or "no model weights"
        console.print(f"Engine {name}{default}: {', '.join(sorted(caps.offered_modes))}; {models}")
    console.print(f"Data folder: {settings.data_dir}")
    if settings.hot_folder:
        console.print(f"Hot folder: {settings.hot_folder}")
    console.print(credentials)
    console.print("Press Ctrl+C to stop.")


@main.command()
@click.pass_context
def token(ctx: click.Context, /) -> None:
    """Print the pairing token that plugins need."""
    click.echo(load(ctx).settings.token)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def config(ctx: click.Context, /, as_json: bool) -> None:
    """Print the effective settings and where each came from."""
    loaded = load(ctx)
    rows = [*describe(loaded), _arithmetic(loaded.settings)]
    if as_json:
        click.echo(json.dumps({name: {"value": value, "source": source} for name, value, source in rows}, indent=2))
        return
    table = Table("setting", "value", "from", title=f"Underpaint settings (config folder {loaded.config_dir})")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _arithmetic(settings: Settings) -> tuple[str, str, str]:
    """The device and dtype the diffusers engine would run on here: what `device` and `dtype` resolve to."""
    from underpaint.engines.diffusers.device import placement

    try:
        return "placement", placement(settings.device, settings.dtype).label, "device + dtype on this machine"
    except ValueError as exc:
        return "placement", f"none: {exc}", "device + dtype on this machine"


@main.command()
@with_client_options
@click.option("--limit", default=20, show_default=True)
@click.option("--set", "set_id", type=SetIdType(), help="Only the jobs of this consistent set.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs(ctx: click.Context, /, host: str | None, port: int | None, limit: int, set_id: str | None,
         as_json: bool) -> None:
    """List recent jobs of the running agent (with the set each belongs to)."""
    from underpaint.client.agent_client import AgentClient

    settings = connect_settings(ctx, host, port)

    async def fetch() -> list[Any]:
        async with await AgentClient.connect(ws_url(settings), settings.token or "") as client:
            return await client.list_jobs(limit, set_id=set_id)

    summaries = run_client(fetch())
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in summaries], indent=2))
        return
    table = Table("job", "state", "mode", "variants", "source", "set", "prompt")
    for s in summaries:
        table.add_row(s.job_id, s.state, s.mode, str(s.variants), s.source, s.set_id or "", s.prompt[:40])
    Console().print(table)


for command in (*JOB_COMMANDS, *EXPORT_COMMANDS, *CLUSTER_COMMANDS, models, styles, train, users, watch, verify):
    main.add_command(command)
