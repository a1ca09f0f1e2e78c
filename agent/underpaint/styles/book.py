"""The styles an agent keeps: one self-contained JSON file per style in its styles folder.

`underpaint styles ...` writes the folder and the agent reads it on every
request, so a style added while the agent runs is seen at once. Names are
checked before any path is made from them, so nothing a request names reaches
the disk outside the folder. A file a colleague sent is validated whole
before it joins the folder, and every write is atomic: a reader sees the old
file or the new one, never half of either.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from underpaint.core import ErrorCode, RequestError
from underpaint.core.names import NAME_PATTERN
from underpaint.styles.style import Style

MAX_STYLE_BYTES = 32 << 20
"""Largest style file: room for four references at the 1024 px limit stored losslessly (noise-like photos
are the worst case, about 4 MiB each) with base64's third on top."""
SUFFIX = ".json"
_NAME = re.compile(NAME_PATTERN)


def _bad(message: str) -> RequestError:
    return RequestError(ErrorCode.BAD_STYLE, message)


def make_style(values: Mapping[str, Any], file: str | None = None) -> Style:
    """The style of `values` (a style file's fields, from `file` if named), or bad_style naming the first
    field that is wrong."""
    try:
        return Style.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        where = f"{field}: " if field else ""
        problem = error["msg"].removeprefix("Value error, ")
        what = f"style file {file}" if file else "style"
        raise _bad(f"Not a usable {what}: {where}{problem}.") from None


def read_style_file(path: Path, **overrides: Any) -> Style:
    """The style in the file at `path` (with `overrides` for some of its fields), or bad_style saying what
    is wrong with it (too large, not JSON, not a style, a field out of range, an image that does not decode)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_STYLE_BYTES + 1)
    except OSError as exc:
        raise _bad(f"Cannot read the style file {path.name}: {exc.strerror or exc}.") from None
    if len(data) > MAX_STYLE_BYTES:
        raise _bad(f"The style file {path.name} is larger than {MAX_STYLE_BYTES >> 20} MiB, the most a style "
                   "may be; it cannot be a style.")
    try:
        # pydantic's parser bounds its nesting, where a hostile `[[[[...` would exhaust Python's stack.
        values = from_json(data)
    except ValueError as exc:
        raise _bad(f"The style file {path.name} is not JSON: {exc}.") from None
    if not isinstance(values, dict):
        raise _bad(f"The style file {path.name} holds a JSON {type(values).__name__}, not a style's fields.")
    return make_style(values | overrides, path.name)


def write_style_file(style: Style, path: Path) -> None:
    """Write `style` to `path` atomically (a temporary file beside it, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # a style is for sharing; mkstemp makes files only their owner may read
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(style.model_dump_json(indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class StyleBook:
    """The styles folder. Parsed styles are kept while their file is unchanged, so naming a style with large
    reference images costs one decode per edit, not one per request."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._parsed: dict[str, tuple[tuple[int, int, int], Style]] = {}

    def names(self) -> list[str]:
        """The names of the style files in the folder, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob(f"*{SUFFIX}") if _NAME.match(path.stem))

    def styles(self) -> tuple[list[Style], dict[str, str]]:
        """Every style that reads, and for each file that does not, why (a broken file never hides the rest)."""
        good, broken = [], {}
        for name in self.names():
            try:
                good.append(self.get(name))
            except RequestError as exc:
                broken[name] = exc.message
        return good, broken

    def get(self, name: str) -> Style:
        """The style `name`; unknown_style naming the known ones, or bad_style for a file that does not read."""
        path = self._path(name)
        try:
            stat = path.stat()
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none yet"
            raise RequestError(ErrorCode.UNKNOWN_STYLE,
                               f"No style named '{name}' (this agent has: {known}); add one with "
                               "`underpaint styles add` or `underpaint styles import`.") from None
        except OSError as exc:
            raise _bad(f"Cannot read the style '{name}': {exc.strerror or exc}.") from None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        style = read_style_file(path)
        if style.name != name:
            raise _bad(f"The file {path.name} holds the style '{style.name}'; rename it to {style.name}{SUFFIX} "
                       "or import it with `underpaint styles import`.")
        self._parsed[name] = (key, style)
        return style

    def add(self, style: Style, replace: bool = False) -> None:
        """Keep `style`; a style of the same name stays unless `replace`."""
        path = self._path(style.name)
        if path.exists() and not replace:
            raise _bad(f"A style named '{style.name}' exists already; replace it with --replace, or give this one "
                       "another name.")
        write_style_file(style, path)

    def remove(self, name: str) -> Style:
        """Remove the style `name` and return it (unknown_style when there is none)."""
        style = self.get(name)
        self._path(name).unlink()
        self._parsed.pop(name, None)
        return style

    def export(self, name: str, path: Path) -> Style:
        """Write the style `name` to `path`: the one self-contained file another person imports."""
        style = self.get(name)
        write_style_file(style, path)
        return style

    def import_file(self, path: Path, replace: bool = False) -> Style:
        """Validate the style file at `path` (one a colleague sent) and keep it under its own name."""
        style = read_style_file(path)
        self.add(style, replace)
        return style

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise RequestError(ErrorCode.UNKNOWN_STYLE,
                               f"'{name[:80]}' is not a style name: letters, digits, '.', '_' and '-', at most "
                               "64 characters.")
        return self.folder / f"{name}{SUFFIX}"
