"""The presets an agent offers: the built-ins shipped in builtin/, and a team's folder of preset files.

Each preset is one file, NAME.toml or NAME.json, its name the file's; a team's file of a built-in's name
replaces that built-in. Files are read on every look-up, so an edit counts at once (they are a few hundred
bytes). Names are checked before a path is made from them, so nothing a request names reaches the disk
outside the folder.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from underpaint.core import ErrorCode, RequestError
from underpaint.core.names import NAME_PATTERN
from underpaint.results.delivery.preset import Preset

SUFFIXES = (".toml", ".json")
MAX_PRESET_BYTES = 64 << 10
"""A preset is a dozen short fields; anything larger is not one."""
_NAME = re.compile(NAME_PATTERN)


def _bad(message: str) -> RequestError:
    return RequestError(ErrorCode.BAD_PRESET, message)


def read_preset_file(path: Path) -> Preset:
    """The preset in `path` (TOML or JSON by its suffix, named after the file), or bad_preset naming the field
    that is wrong (or why the file does not read)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PRESET_BYTES + 1)
    except OSError as exc:
        raise _bad(f"Cannot read the preset file {path.name}: {exc.strerror or exc}.") from None
    if len(data) > MAX_PRESET_BYTES:
        raise _bad(f"The preset file {path.name} is larger than {MAX_PRESET_BYTES >> 10} KiB; it cannot be a preset.")
    values: Any
    try:
        text = data.decode("utf-8")
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise _bad(f"The preset file {path.name} is not {kind}: {exc}.") from None
    if not isinstance(values, dict):
        raise _bad(f"The preset file {path.name} holds a JSON {type(values).__name__}, not a preset's fields.")
    if "name" in values and values["name"] != path.stem:
        raise _bad(f"The preset file {path.name}: name: it says {values['name']!r}, but a preset is named after "
                   f"its file; rename the file or drop the key.")
    try:
        return Preset.model_validate({**values, "name": path.stem})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        problem = error["msg"].removeprefix("Value error, ")
        raise _bad(f"The preset file {path.name}: {where + ': ' if where else ''}{problem}.") from None


@lru_cache(maxsize=1)
def _builtin_files() -> dict[str, Path]:
    folder = Path(str(resources.files("underpaint.results.delivery").joinpath("builtin")))
    return {path.stem: path for path in sorted(folder.glob("*.toml"))}


@lru_cache(maxsize=1)
def builtin_presets() -> dict[str, Preset]:
    """The shipped presets by name (parsed once: they change only with Underpaint)."""
    return {name: read_preset_file(path) for name, path in _builtin_files().items()}


class PresetLibrary:
    """The built-ins, overridden and added to by the preset files in `folder` (None: the built-ins alone)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        return sorted(set(builtin_presets()) | set(self._team_files()))

    def get(self, name: str) -> Preset:
        """The preset `name`: unknown_preset naming the known ones, bad_preset for a team file that does not read."""
        if not _NAME.match(name):
            raise RequestError(ErrorCode.UNKNOWN_PRESET, f"'{name[:80]}' is not a preset name: letters, digits, "
                               "'.', '_' and '-', at most 64 characters.")
        team = self._team_file(name)
        if team is not None:
            return read_preset_file(team)
        builtin = builtin_presets().get(name)
        if builtin is None:
            raise RequestError(ErrorCode.UNKNOWN_PRESET,
                               f"No delivery preset named '{name}'; this agent has: {', '.join(self.names())}.")
        return builtin

    def presets(self) -> tuple[list[Preset], dict[str, str]]:
        """Every preset that reads, and for each team file that does not, why (one broken file hides no other)."""
        good, broken = [], {}
        for name in self.names():
            try:
                good.append(self.get(name))
            except RequestError as exc:
                broken[name] = exc.message
        return good, broken

    def _team_file(self, name: str) -> Path | None:
        if self.folder is None:
            return None
        found = [self.folder / f"{name}{suffix}" for suffix in SUFFIXES if (self.folder / f"{name}{suffix}").is_file()]
        if len(found) > 1:
            raise _bad(f"The presets folder holds both {found[0].name} and {found[1].name}; keep one.")
        return found[0] if found else None

    def _team_files(self) -> dict[str, Path]:
        if self.folder is None or not self.folder.is_dir():
            return {}
        return {path.stem: path for suffix in SUFFIXES for path in self.folder.glob(f"*{suffix}")
                if _NAME.match(path.stem)}
