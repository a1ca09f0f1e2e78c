"""`underpaint export` and `underpaint presets`: a finished result as the files each channel needs.

Export works on the result file alone (the PSD or a variant PNG the agent wrote), here in this process:
no running agent is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from underpaint.cli_common import console, load
from underpaint.core import RequestError
from underpaint.results.credentials import CredentialsError
from underpaint.results.delivery.export import credentials_stamp, deliver, read_variant
from underpaint.results.delivery.library import PresetLibrary


@click.command()
@click.argument("result", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preset", "presets", multiple=True, required=True,
              help="A delivery preset by name (`underpaint presets` lists them); repeat for several.")
@click.option("--variant", type=click.IntRange(min=1), help="Which variant of a PSD (1 = the first, the default).")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder the deliverables are written to.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def export(ctx: click.Context, /, result: Path, presets: tuple[str, ...], variant: int | None, out: Path,
           as_json: bool) -> None:
    """Write RESULT (a PSD or variant PNG Underpaint wrote) as each preset's deliverable."""
    from underpaint.jobs.runtime import credentials_for

    settings = load(ctx).settings
    library = PresetLibrary(settings.presets_dir)
    try:
        chosen = [library.get(name) for name in presets]
        picked = read_variant(result, None if variant is None else variant - 1)
        stamp = credentials_stamp(credentials_for(settings), picked, result)
        delivery = deliver(picked, chosen, out, result.stem, stamp)
    except RequestError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    except CredentialsError as exc:
        raise click.ClickException(f"{exc} ({exc.code})") from None
    except OSError as exc:
        raise click.ClickException(f"Cannot write into {out}: {exc.strerror or exc}.") from None
    if as_json:
        files = [{"preset": f.preset, "path": str(f.path), "format": f.format, "width": f.size.width,
                  "height": f.size.height, "bytes": f.bytes, "quality": f.quality} for f in delivery.files]
        click.echo(json.dumps({"files": files, "warnings": delivery.warnings}, indent=2))
        return
    for file in delivery.files:
        console.print(f"Wrote {file.path} ({file.preset}: {file.size.width}x{file.size.height} {file.format.upper()}, "
                      f"{file.bytes / 1024:.0f} KiB)")
    for warning in delivery.warnings:
        console.print(f"[yellow]Note:[/yellow] {warning}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def presets(ctx: click.Context, /, as_json: bool) -> None:
    """List the delivery presets: the built-ins and the team's files in the presets folder."""
    library = PresetLibrary(load(ctx).settings.presets_dir)
    good, broken = library.presets()
    if as_json:
        click.echo(json.dumps({"presets": [preset.model_dump() for preset in good], "broken": broken}, indent=2))
        return
    table = Table("preset", "size", "fit", "format", "profile", "dpi", title=f"Delivery presets ({library.folder})")
    for preset in good:
        table.add_row(preset.name, f"{preset.width}x{preset.height}", preset.fit, preset.format, preset.profile,
                      str(preset.dpi))
    Console().print(table)
    for name, why in broken.items():
        console.print(f"[red]{name}:[/red] {why}")


EXPORT_COMMANDS = (export, presets)
