"""`underpaint users ...`: a studio agent's named users and their tokens (add, list, remove, rotate).

The commands write the user store the running agent reads on every handshake and
request, so a change counts at once, without a restart. A token is printed once,
when it is made; the store keeps only its digest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from underpaint.cli_common import console, load
from underpaint.cluster.users import UserError, UserStore


@contextmanager
def _store(ctx: click.Context) -> Iterator[UserStore]:
    """The agent's user store (from --data-dir, else the settings), its problems as one-line errors."""
    try:
        store = UserStore(load(ctx, data_dir=ctx.obj.get("data_dir")).settings.users_path)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


def _limit(value: int | None) -> str:
    return "-" if value is None else str(value)


def _when(stamp: float | None) -> str:
    return "never" if stamp is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def _print_token(name: str, token: str) -> None:
    click.echo(token)
    console.print(f"That is {name}'s token; it is shown only now. They paste it into the plugin (or set "
                  "`token` in their config) instead of the pairing token.")


@click.group()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The agent's data folder, where its user store lives (default from settings).")
@click.pass_context
def users(ctx: click.Context, data_dir: Path | None) -> None:
    """Named users of a studio agent, each with their own token: they see only their own jobs."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May see, resume, cancel and download every user's jobs.")
@click.option("--max-queued", type=int, help="Most jobs the user may have waiting at once (default: no limit).")
@click.option("--max-running", type=int, help="Most of the user's jobs that run at once (default: no limit).")
@click.pass_context
def add_user(ctx: click.Context, /, name: str, admin: bool, max_queued: int | None, max_running: int | None) -> None:
    """Add a user and print their new token (once)."""
    with _store(ctx) as store:
        token = store.add(name, admin=admin, max_queued=max_queued, max_running=max_running)
    _print_token(name, token)


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_users(ctx: click.Context, /, as_json: bool) -> None:
    """List the users: names, admin, limits, created, last seen (never tokens)."""
    with _store(ctx) as store:
        found = store.users()
    if as_json:
        click.echo(json.dumps([{"name": user.name, "admin": user.admin, "max_queued": user.limits.max_queued,
                                "max_running": user.limits.max_running, "created_at": user.created_at,
                                "last_seen": user.last_seen} for user in found], indent=2))
        return
    table = Table("user", "admin", "max queued", "max running", "created", "last seen")
    for user in found:
        table.add_row(user.name, "yes" if user.admin else "", _limit(user.limits.max_queued),
                      _limit(user.limits.max_running), _when(user.created_at), _when(user.last_seen))
    Console().print(table)


@users.command("remove")
@click.argument("name")
@click.pass_context
def remove_user(ctx: click.Context, /, name: str) -> None:
    """Remove a user: their token is refused at once and their open connections close."""
    with _store(ctx) as store:
        store.remove(name)
    console.print(f"Removed {name}; their jobs and files stay (admins still see them).")


@users.command("rotate")
@click.argument("name")
@click.pass_context
def rotate_user(ctx: click.Context, /, name: str) -> None:
    """Give a user a new token (printed once); the old one is refused at once."""
    with _store(ctx) as store:
        token = store.rotate(name)
    _print_token(name, token)
