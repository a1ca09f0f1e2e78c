"""What every `underpaint` subcommand shares: the console, settings, reaching a running agent, and the
option types of the guides a job (or a style) carries: `--control` and `--reference`."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from underpaint.config import LoadedSettings, Settings, SettingsError, load_settings
from underpaint.core.conditioning import ControlKind, ControlRef, ReferenceRef
from underpaint.wire.messages import WEBSOCKET_PATH, SetId

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
    """The settings of a command that talks to the agent. With `ca_file`, the command trusts that CA for a
    wss:// agent instead of the system store: through SSL_CERT_FILE, the variable OpenSSL reads whenever a
    default TLS context is made, so the websocket and the result downloads both trust it."""
    settings = load(ctx, host=host, port=port).settings
    if settings.ca_file is not None:
        os.environ["SSL_CERT_FILE"] = str(settings.ca_file)
    return settings


def ws_url(settings: Settings) -> str:
    """`agent_url` when set (http(s):// taken as ws(s)://), else this machine's host and port, wss:// when
    the agent here serves TLS."""
    if settings.agent_url:
        url = re.sub(r"^http", "ws", settings.agent_url.rstrip("/"))
        return url if url.endswith(WEBSOCKET_PATH) else url + WEBSOCKET_PATH
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    scheme = "wss" if settings.tls_certificate else "ws"
    return f"{scheme}://{host}:{settings.port}{WEBSOCKET_PATH}"


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


class SetIdType(click.ParamType[str]):
    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return TypeAdapter(SetId).validate_python(value)
        except ValidationError:
            self.fail(f"{value!r} is not a set id: up to 64 letters, digits, '.', '_' or '-', starting with a "
                      "letter or digit.", param, ctx)


CONTROL_SYNTAX = "KIND:IMAGE[:STRENGTH][:START-END][:map][:low=N][:high=N][:model=NAME]"
CONTROL_HELP = (
    f"Repeat for several. KIND: {', '.join(ControlKind)}. IMAGE: a file covering the "
    "output (the image; for expand the grown canvas), or `source` to derive it from the job's own image "
    "(canny edges, tile, inpaint). STRENGTH 0-2 (default 1); START-END the fraction of the steps it steers "
    "(default 0-1); `map`: IMAGE already is the control map (no edge finding or binarising); low/high: "
    "canny's thresholds; model: a ControlNet by name (default: the one registered for KIND). "
    "E.g. canny:source:0.8, scribble:sketch.png:1:0-0.6.")
REFERENCE_SYNTAX = "IMAGE[:WEIGHT][:style][:model=NAME]"
REFERENCE_HELP = (
    "Repeat for several. An image whose look and content steer the result (IP-Adapter): "
    "WEIGHT 0-2 (default 0.6); `style`: only its look (colour, texture, light), not its content; model: an "
    "IP-Adapter by name (default: the one registered for the job's model). E.g. ref.png:0.6:style.")
_RANGE = re.compile(r"^(\d*\.?\d+)-(\d*\.?\d+)$")
_NUMBER = re.compile(r"^[-+]?\d*\.?\d+$")


@dataclass(frozen=True, eq=False)
class SentControl:
    """A `--control` as given: the control, and its image as RGBA8 (None when derived from the source)."""

    ref: ControlRef
    image: np.ndarray | None


@dataclass(frozen=True, eq=False)
class SentReference:
    """A `--reference` as given: the reference, and its image as RGBA8."""

    ref: ReferenceRef
    image: np.ndarray


def _settings(value: str, flags: frozenset[str], keys: frozenset[str]) -> tuple[str, dict[str, str]]:
    """The leading part of `value` and its trailing `:`-separated settings, each known by its shape (a
    number, a range A-B, a flag, key=value), so an image path may hold colons of its own."""
    parts = value.split(":")
    found: dict[str, str] = {}
    while len(parts) > 1:
        token = parts[-1]
        key, _, setting = token.partition("=")
        if _RANGE.match(token):
            name = "range"
        elif _NUMBER.match(token):
            name = "weight"
        elif token in flags:
            name = token
        elif key in keys and setting:
            name, token = key, setting
        else:
            break
        if name in found:
            raise ValueError(f"it gives {name} twice")
        found[name] = token
        parts.pop()
    return ":".join(parts), found


def _read_image(path: str) -> np.ndarray:
    from underpaint.imaging.codec import load_image

    try:
        return load_image(Path(path), 4)[0]
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the image {path}: {exc}") from None


class _GuideType:
    """Shows its syntax as written: the flags and keys in it are literal words, not placeholders."""

    name: str

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        del param, ctx
        return self.name


def _problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class ControlType(_GuideType, click.ParamType[SentControl]):
    """`--control KIND:IMAGE[:STRENGTH][:START-END][:map][:low=N][:high=N][:model=NAME]`."""

    name = CONTROL_SYNTAX

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> SentControl:
        if isinstance(value, SentControl):
            return value
        kind, _, rest = str(value).partition(":")
        try:
            image, found = _settings(rest, frozenset({"map"}), frozenset({"low", "high", "model"}))
            if not image:
                raise ValueError("give the control image (a file, or `source`)")
            fields: dict[str, Any] = {"kind": kind, "image": "source" if image == "source" else "sent",
                                      "preprocess": "map" not in found}
            if "weight" in found:
                fields["strength"] = float(found["weight"])
            if "range" in found:
                start, _, end = found["range"].partition("-")
                fields |= {"start": float(start), "end": float(end)}
            fields |= {name: int(found[key]) for key, name in (("low", "low_threshold"), ("high", "high_threshold"))
                       if key in found}
            if "model" in found:
                fields["model"] = found["model"]
            control = ControlRef.model_validate(fields)
            return SentControl(control, None if image == "source" else _read_image(image))
        except ValidationError as exc:
            self.fail(f"{value!r}: {_problem(exc)} (syntax: {CONTROL_SYNTAX}).", param, ctx)
        except ValueError as exc:
            self.fail(f"{value!r}: {exc} (syntax: {CONTROL_SYNTAX}).", param, ctx)


class ReferenceType(_GuideType, click.ParamType[SentReference]):
    """`--reference IMAGE[:WEIGHT][:style][:model=NAME]`."""

    name = REFERENCE_SYNTAX

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> SentReference:
        if isinstance(value, SentReference):
            return value
        try:
            image, found = _settings(str(value), frozenset({"style"}), frozenset({"model"}))
            if "range" in found:
                raise ValueError("a reference has no step range")
            fields: dict[str, Any] = {"focus": "style" if "style" in found else "all"}
            if "weight" in found:
                fields["weight"] = float(found["weight"])
            if "model" in found:
                fields["model"] = found["model"]
            reference = ReferenceRef.model_validate(fields)
            return SentReference(reference, _read_image(image))
        except ValidationError as exc:
            self.fail(f"{value!r}: {_problem(exc)} (syntax: {REFERENCE_SYNTAX}).", param, ctx)
        except ValueError as exc:
            self.fail(f"{value!r}: {exc} (syntax: {REFERENCE_SYNTAX}).", param, ctx)
