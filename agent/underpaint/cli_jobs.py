"""`underpaint fill|remove|expand|generate|refine|replay`: one job through the running agent.

Each mode's options are made from the Params definition (the fields MODE_FIELDS
gives the mode, with their types, ranges and descriptions), so the command line
and the protocol can never drift apart.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from underpaint.cli_common import connect_settings, console, run_client, with_client_options, ws_url
from underpaint.core import MODE_FIELDS, Margins, Mode, Params, Rect, Size
from underpaint.core.spec import LoraRef

if TYPE_CHECKING:
    from underpaint.client.run_job import ClientJob

_IMAGE = click.Path(exists=True, dir_okay=False, path_type=Path)
_HELP = {
    Mode.FILL: "Fill the selection MASK of IMAGE from the prompt.",
    Mode.REMOVE: "Remove what MASK selects in IMAGE, continuing its surroundings.",
    Mode.EXPAND: "Grow IMAGE's canvas by --expand and fill the new strips (and MASK, if given).",
    Mode.GENERATE: "Create a new --size image from the prompt.",
    Mode.REFINE: "Rework IMAGE (inside MASK, or all of it) at --strength.",
}


class MarginsType(click.ParamType[Margins]):
    """`--expand L,T,R,B` in pixels, the order CSS and Photoshop's Canvas Size read."""

    name = "L,T,R,B"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Margins:
        if isinstance(value, Margins):
            return value
        try:
            left, top, right, bottom = (int(part) for part in str(value).split(","))
            return Margins(left=left, top=top, right=right, bottom=bottom)
        except (ValueError, ValidationError):
            self.fail(f"{value!r} is not four pixel counts L,T,R,B, each 0 or more (e.g. 0,0,256,0).", param, ctx)


class LoraType(click.ParamType[LoraRef]):
    """`--lora NAME` or `--lora NAME:WEIGHT` (registry names hold no colon)."""

    name = "NAME[:WEIGHT]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> LoraRef:
        if isinstance(value, LoraRef):
            return value
        name, colon, weight = str(value).rpartition(":")
        try:
            return LoraRef(name=name, weight=float(weight)) if colon else LoraRef(name=str(value))
        except (ValueError, ValidationError):
            self.fail(f"{value!r} is not a LoRA as NAME or NAME:WEIGHT with a weight from -2 to 2 (e.g. ink:0.8).",
                      param, ctx)


class SizeType(click.ParamType[Size]):
    name = "WxH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Size:
        try:
            width, height = (int(part) for part in str(value).lower().split("x"))
            return Size(width=width, height=height)
        except (ValueError, ValidationError):
            self.fail(f"{value!r} is not a size like 1024x768.", param, ctx)


def params_options(mode: Mode) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One option per Params field `mode` uses, typed and described as Params declares it."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(list(Params.model_fields)):
            if name in MODE_FIELDS[mode]:
                function = _option(name)(function)
        return function

    return decorate


def _option(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    field = Params.model_fields[name]
    flag = "--" + name.replace("_", "-")
    help_text = field.description or ""
    if name == "seed":
        help_text += " Random when not given."
    if name == "loras":
        return click.option("--lora", name, type=LoraType(), multiple=True,
                            help=help_text + " NAME or NAME:WEIGHT (default weight 1); repeat to stack them.")
    if field.annotation is bool:
        # Only the non-default side is an option: `--no-color-match`.
        return click.option(f"--no-{name.replace('_', '-')}", name, flag_value=not field.default, default=None,
                            help=help_text)
    kinds: dict[Any, click.ParamType[Any]] = {int: click.INT, int | None: click.INT, float: click.FLOAT,
                                         Margins | None: MarginsType()}
    kind = kinds.get(field.annotation, click.STRING)
    default = "" if field.default in (None, "") or name == "seed" else f" [default: {field.default}]"
    return click.option(flag, name, type=kind, default=None, help=help_text + default)


def _params(given: dict[str, Any]) -> Params:
    values = {name: value for name, value in given.items() if value is not None}
    values.setdefault("seed", uuid.uuid4().int % 2**32)
    try:
        return Params(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "--" + ".".join(str(part) for part in error["loc"]).replace("_", "-")
        raise click.UsageError(f"{where}: {error['msg']}") from None


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress.")(
        function)
    function = click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                            help="Layered PSD to write; variant PNGs go beside it.")(function)
    return with_client_options(function)


def _job_command(mode: Mode, image: bool, mask: str | None) -> click.Command:
    """The command for `mode`: IMAGE if the mode needs one, --mask required, optional or absent."""

    def command(ctx: click.Context, /, out: Path, as_json: bool, host: str | None, port: int | None,
                **given: Any) -> None:
        from underpaint.client.run_job import ClientJob
        from underpaint.imaging.codec import load_image

        source = given.pop("image", None)
        selection = given.pop("mask", None)
        size: Size | None = given.pop("size", None)
        params = _params(given)
        pixels = selected = None
        try:
            if source is not None:
                pixels, _ = load_image(source, 4)
            if selection is not None:
                selected, _ = load_image(selection, 1)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"Cannot read the input: {exc}") from None
        if pixels is not None:
            size = Size(width=pixels.shape[1], height=pixels.shape[0])
        assert size is not None
        request = ClientJob(mode, size, Rect(x=0, y=0, width=size.width, height=size.height), params,
                            pixels, selected)
        submit_and_report(ctx, request, out, as_json, host, port)

    command.__doc__ = _HELP[mode] + " Runs through the agent; writes OUT.psd and variant PNGs."
    decorated: Callable[..., Any] = params_options(mode)(command)
    decorated = _common(decorated)
    if mode is Mode.GENERATE:
        decorated = click.option("--size", required=True, type=SizeType(), help="Width x height in pixels.")(
            decorated)
    if mask is not None:
        decorated = click.option("--mask", required=mask == "required", type=_IMAGE,
                                 help="Selection: white = change, black = keep, grey = soft.")(decorated)
    if image:
        decorated = click.argument("image", type=_IMAGE)(decorated)
    return click.command(mode.value)(click.pass_context(decorated))


fill = _job_command(Mode.FILL, image=True, mask="required")
remove = _job_command(Mode.REMOVE, image=True, mask="required")
expand = _job_command(Mode.EXPAND, image=True, mask="optional")
generate = _job_command(Mode.GENERATE, image=False, mask=None)
refine = _job_command(Mode.REFINE, image=True, mask="optional")


@click.command()
@click.argument("result_file", type=_IMAGE)
@click.option("--image", type=_IMAGE, help="Source image (default: the one the PSD or PNG holds).")
@click.option("--mask", type=_IMAGE, help="Selection (default: the one the PSD or PNG holds).")
@_common
@click.pass_context
def replay(ctx: click.Context, /, result_file: Path, image: Path | None, mask: Path | None, out: Path,
           as_json: bool, host: str | None, port: int | None) -> None:
    """Re-make RESULT_FILE (a PSD, a variant PNG or a recipe.json) through the running agent."""
    from underpaint.client.run_job import ClientJob
    from underpaint.results.replay import load_replay

    try:
        replayed = load_replay(result_file, image, mask)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    request = ClientJob(replayed.mode, replayed.document, replayed.region, replayed.params,
                        replayed.image, replayed.mask)
    submit_and_report(ctx, request, out, as_json, host, port)


JOB_COMMANDS = (fill, remove, expand, generate, refine, replay)


def submit_and_report(ctx: click.Context, request: ClientJob, out: Path, as_json: bool, host: str | None,
                      port: int | None) -> None:
    from underpaint.client.run_job import run_client_job

    settings = connect_settings(ctx, host, port)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, disable=as_json) as bar:
        task = bar.add_task("queued", total=1.0)

        def on_progress(description: str, fraction: float) -> None:
            bar.update(task, description=description, completed=fraction)

        summary = run_client(run_client_job(ws_url(settings), settings.token or "", request, out, on_progress))
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
