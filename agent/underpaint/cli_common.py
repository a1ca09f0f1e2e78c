"""What every `underpaint` subcommand shares: the console, settings, and reaching a running agent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console

from underpaint.config import LoadedSettings, Settings, SettingsError, load_settings
from underpaint.wire.messages import WEBSOCKET_PATH

console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def load(ctx: click.Context, **cli: Any) -> LoadedSettings:
    """The settings for this command: config file, environment, then the command's own flags."""
    config_dir = ctx.obj.get("config_dir") if ctx.obj else None
    try:
        return load_settings(cli, config_dir=config_dir)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def connect_settings(ctx: click.Context, host: str | None, port: int | None) -> Settings:
    return load(ctx, host=host, port=port).settings


def ws_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"ws://{host}:{settings.port}{WEBSOCKET_PATH}"


def run_client(coro: Coroutine[Any, Any, T]) -> T:
    """Run a conversation with the agent, turning its refusals and absence into one-line errors."""
    from underpaint.client.agent_client import AgentRefused

    try:
        return asyncio.run(coro)
    except AgentRefused as exc:
        raise click.ClickException(f"The agent refused: {exc.error.message}") from None
    except OSError as exc:
        raise click.ClickException(
            f"Cannot reach the agent ({exc}). Start it with `make run` or `underpaint serve`.") from None


def with_client_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--host and --port of the agent to talk to."""
    function = click.option("--port", type=int, help="Agent port (default from settings).")(function)
    return click.option("--host", help="Agent address (default from settings).")(function)
