"""`underpaint styles ...`: the named styles the agent keeps (list, show, add, remove, export, import).

Like `underpaint models`, these manage the agent's data folder directly; the
agent reads the styles folder on every request, so a change counts at once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from underpaint.cli_common import console, load
from underpaint.cli_jobs import LoraType
from underpaint.core import Params, RequestError
from underpaint.core.conditioning import ControlRef
from underpaint.styles import StyleBook, StyleReference, make_style, read_style_file

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class ReferenceType(click.ParamType[StyleReference]):
    """`--reference IMAGE` or `--reference IMAGE:WEIGHT`: the image is embedded in the style."""

    name = "IMAGE[:WEIGHT]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> StyleReference:
        if isinstance(value, StyleReference):
            return value
        path, weight = str(value), {}
        head, colon, tail = path.rpartition(":")
        if colon:
            with contextlib.suppress(ValueError):  # else no weight: the colon belongs to the file's name
                path, weight = head, {"weight": float(tail)}
        if not Path(path).is_file():
            self.fail(f"{path!r} is not an image file.", param, ctx)
        try:
            return StyleReference.from_image(Path(path), **weight)
        except ValidationError:
            self.fail(f"{value!r}: a reference's weight goes from 0 to 2 (e.g. logo.png:0.6).", param, ctx)
        except (ValueError, OSError) as exc:
            self.fail(f"{path!r} is not an image Pillow can read ({exc}).", param, ctx)


class ControlType(click.ParamType[ControlRef]):
    """`--control KIND` or `--control KIND:STRENGTH`: a control each job derives from its own source."""

    name = "KIND[:STRENGTH]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> ControlRef:
        if isinstance(value, ControlRef):
            return value
        kind, colon, strength = str(value).rpartition(":")
        try:
            fields = {"kind": kind, "strength": float(strength)} if colon else {"kind": str(value)}
            return ControlRef.model_validate(fields | {"image": "source"})
        except ValueError:  # pydantic's ValidationError is one
            self.fail(f"{value!r} is not a control as KIND or KIND:STRENGTH derived from the source (e.g. "
                      "canny:0.8; scribble is a drawing only a job can send).", param, ctx)


def _book(ctx: click.Context) -> StyleBook:
    return StyleBook(load(ctx).settings.styles_dir)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A refused style or a folder that cannot be written becomes a one-line error."""
    try:
        yield
    except RequestError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or 'The styles folder'}: {exc.strerror or exc}.") from None


@click.group()
def styles() -> None:
    """Manage named styles: presets of prompt template, model, LoRAs, references and settings a job names
    with `--style NAME` (every field the job leaves unset comes from the style)."""


@styles.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_styles(ctx: click.Context, /, as_json: bool) -> None:
    """List the styles, and any style file that does not read."""
    book = _book(ctx)
    good, broken = book.styles()
    if as_json:
        click.echo(json.dumps([{"name": s.name, "description": s.description, "model": s.model} for s in good]
                              + [{"name": name, "error": message} for name, message in broken.items()], indent=2))
        return
    table = Table("name", "model", "prompt", "description", title=f"Styles (folder {book.folder})")
    for style in good:
        table.add_row(style.name, style.model or "-", style.prompt, style.description)
    for name, message in broken.items():
        table.add_row(name, "", "", f"[red]{message}[/red]")
    Console().print(table)
    if not good and not broken:
        console.print("No styles yet: `underpaint styles add NAME --prompt '{prompt}, ...'` or "
                      "`underpaint styles import FILE`.")


@styles.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The whole style file, reference images included.")
@click.pass_context
def show(ctx: click.Context, /, name: str, as_json: bool) -> None:
    """Show the fields style NAME sets."""
    with _reported():
        style = _book(ctx).get(name)
    if as_json:
        click.echo(style.model_dump_json(indent=2))
        return
    table = Table("field", "value", title=f"Style {style.name}")
    for field, value in style.model_dump(exclude={"underpaint_style", "name", "references"},
                                         exclude_defaults=True).items():
        table.add_row(field, json.dumps(value) if not isinstance(value, str) else value)
    for index, reference in enumerate(style.references, 1):
        size = reference.size
        table.add_row(f"reference {index}", f"{size.width}x{size.height} PNG, weight {reference.weight}, "
                                            f"focus {reference.focus}")
    Console().print(table)


@styles.command()
@click.argument("name")
@click.option("--from", "from_file", type=_FILE, help="Start from this style file; the options below override it.")
@click.option("--description")
@click.option("--prompt", help="Prompt template: the job's prompt goes where {prompt} is.")
@click.option("--negative", "negative_prompt", help=Params.model_fields["negative_prompt"].description)
@click.option("--engine", help=Params.model_fields["engine"].description)
@click.option("--model", help=Params.model_fields["model"].description)
@click.option("--lora", "loras", type=LoraType(), multiple=True, help="NAME or NAME:WEIGHT; repeat to stack them.")
@click.option("--reference", "references", type=ReferenceType(), multiple=True,
              help="IMAGE or IMAGE:WEIGHT, embedded in the style; repeat for several.")
@click.option("--control", "controls", type=ControlType(), multiple=True,
              help="KIND or KIND:STRENGTH, derived from each job's source; repeat for several.")
@click.option("--scheduler", help=Params.model_fields["scheduler"].description)
@click.option("--steps", type=int, help=Params.model_fields["steps"].description)
@click.option("--guidance", type=float, help=Params.model_fields["guidance"].description)
@click.option("--strength", type=float, help=Params.model_fields["strength"].description)
@click.option("--replace", is_flag=True, help="Replace a style of the same name.")
@click.pass_context
def add(ctx: click.Context, /, name: str, from_file: Path | None, replace: bool, **given: Any) -> None:
    """Add style NAME from the options (and --from FILE)."""
    fields = {"name": name} | {field: value for field, value in given.items() if value not in (None, ())}
    with _reported():
        style = read_style_file(from_file, **fields) if from_file else make_style(fields)
        _book(ctx).add(style, replace)
    console.print(f"Added the style [bold]{style.name}[/bold]; jobs use it with --style {style.name}.")


@styles.command()
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, /, name: str) -> None:
    """Remove style NAME (results made with it keep their resolved recipes)."""
    with _reported():
        style = _book(ctx).remove(name)
    console.print(f"Removed the style {style.name}.")


@styles.command()
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, /, name: str, file: Path) -> None:
    """Write style NAME to FILE: one self-contained file (reference images inside) to send to someone."""
    with _reported():
        _book(ctx).export(name, file)
    console.print(f"Wrote the style {name} to {file}; `underpaint styles import {file.name}` adds it elsewhere.")


@styles.command("import")
@click.argument("file", type=_FILE)
@click.option("--replace", is_flag=True, help="Replace a style of the same name.")
@click.pass_context
def import_style(ctx: click.Context, /, file: Path, replace: bool) -> None:
    """Add the style in FILE (one `underpaint styles export` wrote), checked whole first."""
    with _reported():
        style = _book(ctx).import_file(file, replace)
    console.print(f"Imported the style [bold]{style.name}[/bold]; jobs use it with --style {style.name}.")
