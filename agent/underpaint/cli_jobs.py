"""`underpaint fill|remove|expand|generate|refine|edit|upscale|replay`: jobs through the running agent.

Each mode's options are made from the Params definition (the fields MODE_FIELDS
gives the mode, with their types, ranges and descriptions), so the command line
and the protocol can never drift apart. Several images (or, for generate,
several sizes) make a consistent set: one job each, the same params, one set id.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from underpaint.cli_common import (
    CONTROL_HELP,
    REFERENCE_HELP,
    ControlType,
    ReferenceType,
    SentControl,
    SentReference,
    SetIdType,
    connect_settings,
    console,
    run_client,
    with_client_options,
    ws_url,
)
from underpaint.core import MODE_FIELDS, Margins, Mode, Params, Rect, RequestError, Size
from underpaint.core.spec import LoraRef
from underpaint.core.upscale import UpscaleParams

if TYPE_CHECKING:
    from underpaint.client.run_job import ClientJob

_IMAGE = click.Path(exists=True, dir_okay=False, path_type=Path)
_IN_FLIGHT = 2
"""Jobs of a set one command keeps at the agent: one running while the next waits, so the engine never idles."""
_HELP = {
    Mode.FILL: "Fill the selection MASK of IMAGE from the prompt.",
    Mode.REMOVE: "Remove what MASK selects in IMAGE, continuing its surroundings.",
    Mode.EXPAND: "Grow IMAGE's canvas by --expand and fill the new strips (and MASK, if given).",
    Mode.GENERATE: "Create a new --size image from the prompt.",
    Mode.REFINE: "Rework IMAGE (inside MASK, or all of it) at --strength.",
    Mode.EDIT: "Apply INSTRUCTION (\"make the jacket red\") to IMAGE, inside MASK or all of it, as far as --strength.",
    Mode.UPSCALE: "Make IMAGE --factor times larger, or --size, with --upscaler (default: Lanczos and a light "
                  "unsharp mask), re-detailed in tiles at --refine when above 0.",
}
_UPSCALE = "upscale_"
"""Prefix of the options that make params.upscale (--factor, --size, --upscaler, --refine)."""


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


def params_options(mode: Mode, argument: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One option per Params field `mode` uses, typed and described as Params declares it; `argument` is
    the field the command takes as a positional argument instead (edit's instruction is its prompt)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(list(Params.model_fields)):
            if name in MODE_FIELDS[mode] and name != argument:
                function = _option(name)(function)
        return function

    return decorate


def _option(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    field = Params.model_fields[name]
    flag = "--" + name.replace("_", "-")
    help_text = field.description or ""
    if name == "seed":
        help_text += " Random when not given."
    if name == "style":
        help_text += " NAME from `underpaint styles list`."
    if name == "loras":
        return click.option("--lora", name, type=LoraType(), multiple=True,
                            help=help_text + " NAME or NAME:WEIGHT (default weight 1); repeat to stack them.")
    if name == "controls":
        return click.option("--control", name, type=ControlType(), multiple=True, help=f"{help_text} {CONTROL_HELP}")
    if name == "references":
        return click.option("--reference", name, type=ReferenceType(), multiple=True,
                            help=f"{help_text} {REFERENCE_HELP}")
    if name == "upscale":
        return _upscale_options
    if field.annotation is bool:
        # Only the non-default side is an option: `--no-color-match`.
        return click.option(f"--no-{name.replace('_', '-')}", name, flag_value=not field.default, default=None,
                            help=help_text)
    kinds: dict[Any, click.ParamType[Any]] = {int: click.INT, int | None: click.INT, float: click.FLOAT,
                                         Margins | None: MarginsType()}
    kind = kinds.get(field.annotation, click.STRING)
    default = "" if field.default in (None, "") or name == "seed" else f" [default: {field.default}]"
    return click.option(flag, name, type=kind, default=None, help=help_text + default)


def _upscale_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """params.upscale's fields as options of their own, described as UpscaleParams declares them."""
    fields = UpscaleParams.model_fields
    kinds: dict[str, click.ParamType[Any]] = {"factor": click.FLOAT, "size": SizeType(), "upscaler": click.STRING,
                                              "refine": click.FLOAT}
    for name in reversed(("factor", "size", "upscaler", "refine")):
        function = click.option(f"--{name}", _UPSCALE + name, type=kinds[name], default=None,
                                help=fields[name].description)(function)
    return function


def _params(given: dict[str, Any]) -> Params:
    # Only the options given are set on Params (its model_fields_set): a style fills every field a job leaves unset.
    values = {name: value for name, value in given.items() if value is not None and value != ()
              and not name.startswith(_UPSCALE)}
    upscale = {name.removeprefix(_UPSCALE): value for name, value in given.items()
               if name.startswith(_UPSCALE) and value is not None}
    if upscale:
        values["upscale"] = upscale
    for name in ("controls", "references"):
        if name in values:
            values[name] = tuple(guide.ref for guide in values[name])
    values.setdefault("seed", uuid.uuid4().int % 2**32)
    try:
        return Params(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "--" + ".".join(str(part) for part in error["loc"]).replace("_", "-")
        raise click.UsageError(f"{where}: {error['msg']}") from None


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    """The replay command's outputs: one job, --out."""
    function = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress.")(
        function)
    function = click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                            help="Layered PSD to write; variant PNGs go beside it.")(function)
    return with_client_options(function)


def _job_command(mode: Mode, image: bool, mask: str | None, instruction: bool = False) -> click.Command:
    """The command for `mode`: IMAGE... if the mode needs one, --mask required, optional or absent, and
    with `instruction` an INSTRUCTION argument after the images that is the job's prompt."""

    def command(ctx: click.Context, /, out: Path | None, out_dir: Path | None, set_id: str | None, as_json: bool,
                host: str | None, port: int | None, **given: Any) -> None:
        from underpaint.client.run_job import ClientJob

        images: tuple[Path, ...] = given.pop("image", ())
        if instruction:
            given["prompt"] = given.pop("instruction")
        masks: tuple[Path, ...] = given.pop("mask", ())
        sizes: tuple[Size, ...] = given.pop("size", ())
        controls: tuple[SentControl, ...] = given.get("controls") or ()
        references: tuple[SentReference, ...] = given.get("references") or ()
        params = _params(given)
        names = [path.stem for path in images] if image else [f"{size.width}x{size.height}" for size in sizes]
        outs = _outputs(names, out, out_dir)
        if len(names) > 1 and set_id is None:
            set_id = f"set-{uuid.uuid4().hex[:12]}"
        targets = _targets(images, masks) if image else [(None, None, size) for size in sizes]
        requests = [ClientJob(mode, size, Rect(x=0, y=0, width=size.width, height=size.height), params, pixels,
                              selected, tuple(c.image for c in controls), tuple(r.image for r in references), set_id)
                    for pixels, selected, size in targets]
        for name, request in zip(names, requests, strict=True):
            _check_guides(request, name if len(names) > 1 else None)
        run_and_report(ctx, list(zip(requests, outs, strict=True)), set_id, as_json, host, port)

    command.__doc__ = (_HELP[mode] + " Runs through the agent; writes OUT.psd and variant PNGs. Several "
                       + ("images" if image else "--size") + " make a consistent set: one job each, with the "
                       "same params and one set id (--set), written to --out-dir.")
    decorated: Callable[..., Any] = params_options(mode, "prompt" if instruction else None)(command)
    decorated = _outputs_options(decorated)
    if mode is Mode.GENERATE:
        decorated = click.option("--size", required=True, multiple=True, type=SizeType(),
                                 help="Width x height in pixels; repeat for a set of sizes of one brief.")(decorated)
    if mask is not None:
        decorated = click.option("--mask", required=mask == "required", multiple=True, type=_IMAGE,
                                 help="Selection: white = change, black = keep, grey = soft. One for every "
                                      "image, or one per image in order.")(decorated)
    if instruction:
        decorated = click.argument("instruction")(decorated)
    if image:
        decorated = click.argument("image", nargs=-1, required=True, type=_IMAGE)(decorated)
    return click.command(mode.value)(click.pass_context(decorated))


def _outputs_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress.")(
        function)
    function = click.option("--set", "set_id", type=SetIdType(),
                            help="The set id the jobs share (default: a new one when there are several); the "
                                 "same id again adds jobs to that set. `underpaint jobs --set ID` lists it.")(function)
    function = click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
                            help="Folder for a set: NAME.psd and its variant PNGs per image (NAME: the image's "
                                 "name; for generate WxH).")(function)
    function = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                            help="Layered PSD to write (one job); variant PNGs go beside it.")(function)
    return with_client_options(function)


Target = tuple[np.ndarray | None, np.ndarray | None, Size]
"""A job's RGBA8 image, Gray8 mask and size."""


def _targets(images: tuple[Path, ...], masks: tuple[Path, ...]) -> list[Target]:
    from underpaint.imaging.codec import load_image

    if len(masks) not in (0, 1, len(images)):
        raise click.UsageError(f"--mask: give one mask for every image or one per image, not {len(masks)} for "
                               f"{len(images)} images.")
    try:
        selections = [load_image(path, 1)[0] for path in masks]
        targets: list[Target] = []
        for index, path in enumerate(images):
            pixels = load_image(path, 4)[0]
            selected = selections[index if len(selections) > 1 else 0] if selections else None
            targets.append((pixels, selected, Size(width=pixels.shape[1], height=pixels.shape[0])))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"Cannot read the input: {exc}") from None
    return targets


def _outputs(names: list[str], out: Path | None, out_dir: Path | None) -> list[Path]:
    """Where each job's PSD goes: --out for one job, --out-dir/NAME.psd for each of a set (NAME-2, ... for repeats)."""
    if out is not None and out_dir is not None:
        raise click.UsageError("Give --out (one job) or --out-dir (a set), not both.")
    if out is not None:
        if len(names) > 1:
            raise click.UsageError(f"{len(names)} targets make a set: give --out-dir DIR (a PSD each) instead of "
                                   "--out.")
        return [out]
    if out_dir is None:
        raise click.UsageError("Give --out FILE.psd, or --out-dir DIR for a set.")
    stems: list[str] = []
    for name in names:
        stem, count = name, 1
        while stem in stems:
            count += 1
            stem = f"{name}-{count}"
        stems.append(stem)
    return [out_dir / f"{stem}.psd" for stem in stems]


def _check_guides(request: ClientJob, name: str | None) -> None:
    """The agent's own check that each control image covers the output, run before anything is sent, so a set
    with one ill-fitting control image sends none of its jobs."""
    from underpaint.jobs.intake import JobRequest, check_guides

    def size(array: np.ndarray) -> Size:
        return Size(width=array.shape[1], height=array.shape[0])

    job = JobRequest("cli", request.mode, request.params, request.document, request.region,
                     control_images=tuple(None if array is None else size(array) for array in request.control_images),
                     reference_images=tuple(size(array) for array in request.reference_images))
    try:
        check_guides(job, request.params, job.job_id)
    except RequestError as exc:
        raise click.UsageError(f"--control: {f'{name}: ' if name else ''}{exc.message}") from None


fill = _job_command(Mode.FILL, image=True, mask="required")
remove = _job_command(Mode.REMOVE, image=True, mask="required")
expand = _job_command(Mode.EXPAND, image=True, mask="optional")
generate = _job_command(Mode.GENERATE, image=False, mask=None)
refine = _job_command(Mode.REFINE, image=True, mask="optional")
edit = _job_command(Mode.EDIT, image=True, mask="optional", instruction=True)
upscale = _job_command(Mode.UPSCALE, image=True, mask=None)


@click.command()
@click.argument("result_file", type=_IMAGE)
@click.option("--image", type=_IMAGE, help="Source image (default: the one the PSD or PNG holds).")
@click.option("--mask", type=_IMAGE, help="Selection (default: the one the PSD or PNG holds).")
@click.option("--control-image", "control_images", type=_IMAGE, multiple=True,
              help="Each sent control image, in order (default: the ones the PSD or PNG holds).")
@click.option("--reference-image", "reference_images", type=_IMAGE, multiple=True,
              help="Each reference image, in order (default: the ones the PSD or PNG holds).")
@_common
@click.pass_context
def replay(ctx: click.Context, /, result_file: Path, image: Path | None, mask: Path | None,
           control_images: tuple[Path, ...], reference_images: tuple[Path, ...], out: Path, as_json: bool,
           host: str | None, port: int | None) -> None:
    """Re-make RESULT_FILE (a PSD, a variant PNG or a recipe.json) through the running agent."""
    from underpaint.client.run_job import ClientJob
    from underpaint.results.replay import load_replay

    try:
        replayed = load_replay(result_file, image, mask, control_images, reference_images)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    request = ClientJob(replayed.mode, replayed.document, replayed.region, replayed.params,
                        replayed.image, replayed.mask, replayed.guides.controls, replayed.guides.references)
    submit_and_report(ctx, request, out, as_json, host, port)


JOB_COMMANDS = (fill, remove, expand, generate, refine, edit, upscale, replay)


def submit_and_report(ctx: click.Context, request: ClientJob, out: Path, as_json: bool, host: str | None,
                      port: int | None) -> None:
    run_and_report(ctx, [(request, out)], request.set_id, as_json, host, port)


def run_and_report(ctx: click.Context, jobs: list[tuple[ClientJob, Path]], set_id: str | None, as_json: bool,
                   host: str | None, port: int | None) -> None:
    """Run the jobs (a set's: all with `set_id`), showing progress, then print what each made; exit 1 when one
    did not finish."""
    from underpaint.client.run_job import run_client_job

    settings = connect_settings(ctx, host, port)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, disable=as_json) as bar:

        async def run(request: ClientJob, out: Path, turns: asyncio.Semaphore) -> dict[str, Any]:
            label = f"{out.name}: " if set_id else ""
            task = bar.add_task(label + "waiting", total=1.0)

            def on_progress(description: str, fraction: float) -> None:
                bar.update(task, description=label + description, completed=fraction)

            async with turns:
                return await run_client_job(ws_url(settings), settings.token or "", request, out, on_progress)

        async def run_all() -> list[dict[str, Any]]:
            turns = asyncio.Semaphore(_IN_FLIGHT)
            return list(await asyncio.gather(*(run(request, out, turns) for request, out in jobs)))

        summaries = run_client(run_all())
    if as_json:
        click.echo(json.dumps(summaries[0] if set_id is None else {"set_id": set_id, "jobs": summaries}, indent=2))
    else:
        for summary in summaries:
            if summary["state"] == "done":
                console.print(f"Wrote {summary['psd']} and {len(summary['variants'])} variant PNG(s).")
                for warning in summary["warnings"]:
                    console.print(f"[yellow]Note:[/yellow] {warning}")
            else:
                console.print(f"[red]Job {summary['state']}:[/red] {summary.get('message', '')}")
        if set_id is not None:
            done = sum(summary["state"] == "done" for summary in summaries)
            console.print(f"Set {set_id}: {done} of {len(summaries)} jobs done (`underpaint jobs --set {set_id}`).")
    if any(summary["state"] != "done" for summary in summaries):
        sys.exit(1)
