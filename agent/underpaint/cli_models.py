"""`underpaint models ...`: the registry of named diffusers models, LoRAs and ControlNets (list, add, remove, pull)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from underpaint.cli_common import console, load
from underpaint.core.conditioning import ControlKind

UPSCALER = "upscaler"
"""The --kind that registers a super-resolution model."""


def _registry(ctx: click.Context) -> Any:
    from underpaint.engines.diffusers.registry import ModelRegistry

    return ModelRegistry(load(ctx).settings.models_path)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _what(entry: Any) -> str:
    if entry.role == "controlnet":
        return f"{entry.control_kind} ControlNet"
    if entry.role == "ip_adapter":
        return "IP-Adapter"
    if entry.role == "preprocessor":
        return f"{entry.control_kind} preprocessor"
    if entry.role == "upscaler":
        return "upscaler"
    return "LoRA" if entry.role == "lora" else "model"


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**27 else f"{size / 2**20:.1f} MiB"


def _sizes(ctx: click.Context, entry: Any) -> dict[str, Any]:
    """Size on disk, and the memory the weights take in the dtype they will run in here (device and dtype
    settings; bf16 for FLUX and SD 3.5 where a GPU's automatic pick is fp16); None for files that are missing
    or cannot be read (its status says which)."""
    from underpaint.engines.diffusers.checkpoint import ModelFileError
    from underpaint.engines.diffusers.device import for_transformers, placement
    from underpaint.engines.diffusers.memory import disk_bytes, weight_bytes

    settings = load(ctx).settings
    chosen = placement(settings.device, settings.dtype)
    if entry.role in ("model", "controlnet") and not entry.arch.family.unet:
        chosen = for_transformers(chosen)
    sizes: dict[str, Any] = {"disk_bytes": None, "memory_bytes": None,
                             "dtype": str(chosen.dtype).removeprefix("torch.")}
    # A file that cannot be read is listed with its status; `models add` again says what is wrong with it.
    with contextlib.suppress(ModelFileError, OSError):
        sizes |= {"disk_bytes": disk_bytes(entry.location), "memory_bytes": weight_bytes(entry.location, chosen.dtype)}
    return sizes


@click.group()
def models() -> None:
    """Manage named diffusers models (Stable Diffusion 1.x, 2.x, SDXL and their inpainting variants, FLUX.1
    [dev], [schnell], Fill and Kontext, SD 3.5), LoRAs, ControlNets and super-resolution upscalers."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_models(ctx: click.Context, /, as_json: bool) -> None:
    """List registered models and LoRAs: each one's family (architecture), size on disk and the memory its
    weights need in the dtype they will run in."""
    from underpaint.engines.diffusers.registry import RegistryError

    registry = _registry(ctx)
    try:
        entries = registry.entries()
        sizes = {name: _sizes(ctx, entry) for name, entry in entries.items()}
    except (RegistryError, ValueError) as exc:  # ValueError: a device setting this machine lacks
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps([e.model_dump(mode="json") | sizes[e.name] for e in entries.values()], indent=2))
        return
    table = Table("name", "is", "architecture", "on disk", "memory", "kind", "where", "sha256", "status",
                  title=f"Models, LoRAs and ControlNets (registry {registry.path})")
    for entry in entries.values():
        size = sizes[entry.name]
        readable = "ok" if size["disk_bytes"] is not None else "[red]unreadable[/red]"
        status = readable if entry.location.exists() else "[red]missing[/red]"
        disk, needed = ((_gib(size["disk_bytes"]), f"{_gib(size['memory_bytes'])} ({size['dtype']})")
                        if size["disk_bytes"] is not None else ("-", "-"))
        table.add_row(entry.name, _what(entry), entry.architecture, disk, needed, entry.kind, entry.source,
                      entry.sha256[:12], status)
    Console().print(table)
    if not entries:
        console.print("No models yet: `underpaint models add NAME PATH` or `underpaint models pull HUB_ID`.")


@models.command()
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_source", help="Diffusers folder or hub id with the component configs and "
              "tokenizers a single-file checkpoint needs (default: the architecture's reference repo).")
@click.option("--native", nargs=3, type=int, default=None, metavar="MIN MAX PIXELS",
              help="Override the working sizes: long side min and max, most pixels (fine-tunes at other sizes).")
@click.option("--allow-ckpt", is_flag=True, help="Accept a pickle .ckpt (it can run code: only from a trusted source).")
@click.option("--kind", "control_kind", type=click.Choice([*(kind.value for kind in ControlKind), UPSCALER]),
              default=None, help="For a ControlNet: the kind of control image it was trained on (its weights do not "
              "say). For a preprocessor model: the kind of map it makes (read from its config; depth or "
              f"segmentation). '{UPSCALER}': a super-resolution model (.pth or .safetensors; ESRGAN, Real-ESRGAN, "
              "SwinIR, HAT, DAT, ...: spandrel detects which).")
@click.option("--image-encoder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="For an IP-Adapter: its CLIP image encoder folder (default: the image_encoder folder beside it).")
@click.pass_context
def add(ctx: click.Context, /, name: str, path: Path, config_source: str | None,
        native: tuple[int, int, int] | None, allow_ckpt: bool, control_kind: str | None,
        image_encoder: Path | None) -> None:
    """Register the model, LoRA, ControlNet or IP-Adapter at PATH as NAME: a diffusers folder (SD, FLUX.1 or
    SD 3.5; a Hugging Face cache folder models--OWNER--NAME works too), a .safetensors checkpoint (SD), a
    .safetensors LoRA (kohya or diffusers format), a ControlNet (a diffusers folder or one .safetensors, with
    --kind), an IP-Adapter (its .safetensors, or a folder holding one, with the image_encoder folder beside it or
    --image-encoder), or a preprocessor model that makes control maps (a transformers depth-estimation or ADE20K
    segmentation folder), or with --kind upscaler a super-resolution model (.pth or .safetensors); which it is,
    and its architecture, is read from the weights and configs."""
    from underpaint.engines.diffusers.checkpoint import ModelFileError
    from underpaint.engines.diffusers.registry import RegistryError, make_entry

    registry = _registry(ctx)
    try:
        with console.status(f"Checking and hashing {path}..."):
            upscaler = control_kind == UPSCALER
            entry = make_entry(name, path, config=config_source, native=native or None, allow_ckpt=allow_ckpt,
                               control_kind=ControlKind(control_kind) if control_kind and not upscaler else None,
                               image_encoder=image_encoder, upscaler=upscaler)
        registry.put(entry)
    except (RegistryError, ModelFileError) as exc:
        raise _fail(exc) from None
    console.print(f"Added {_what(entry)} [bold]{entry.name}[/bold]: {entry.architecture}, sha256 {entry.sha256[:12]}.")


@models.command()
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, /, name: str) -> None:
    """Forget model NAME (its files stay where they are)."""
    from underpaint.engines.diffusers.registry import RegistryError

    try:
        entry = _registry(ctx).remove(name)
    except RegistryError as exc:
        raise _fail(exc) from None
    console.print(f"Removed {entry.name}; its files at {entry.path} were left in place.")


@models.command()
@click.argument("hub_id")
@click.option("--name", help="Registry name (default: the repo's name).")
@click.option("--revision", default=None, help="Branch, tag or commit.")
@click.pass_context
def pull(ctx: click.Context, /, hub_id: str, name: str | None, revision: str | None) -> None:
    """Download HUB_ID (owner/repo, or owner/repo/file.safetensors) into the Hugging Face cache and register it."""
    from underpaint.engines.diffusers.checkpoint import ModelFileError
    from underpaint.engines.diffusers.hub import download
    from underpaint.engines.diffusers.registry import RegistryError, make_entry

    try:
        path = download(hub_id, revision)
        entry = make_entry(name or hub_id.split("/")[1], path, kind="hub", source=hub_id)
        _registry(ctx).put(entry)
    except (RegistryError, ModelFileError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(f"Pulled and added {_what(entry)} [bold]{entry.name}[/bold]: {entry.architecture}, "
                  f"sha256 {entry.sha256[:12]}.")
