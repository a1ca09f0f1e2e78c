"""The rooms of the house (DESIGN.md, Layout): inner rooms never import outer ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agent" / "underpaint"
# Rooms DESIGN.md plans (styles/) join the check as soon as they exist.
INNER = tuple(room for room in ("core", "imaging", "engines", "results", "styles", "training")
              if (PACKAGE / room).is_dir())
OUTER = ("jobs", "wire", "server", "hotfolder", "client", "cluster", "config", "cli", "cli_common",
         "cli_export", "cli_hotfolder", "cli_jobs", "cli_models", "cli_styles", "cli_train", "api")


def imported_rooms(path: Path) -> set[str]:
    """The top-level package rooms `path` imports, wherever the import sits (TYPE_CHECKING included)."""
    rooms: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "underpaint":
                names += [f"underpaint.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "underpaint" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def modules(room: str) -> list[Path]:
    return sorted((PACKAGE / room).rglob("*.py"))


@pytest.mark.parametrize("room", INNER)
def test_inner_rooms_import_no_outer_room(room: str) -> None:
    offenders = {str(path.relative_to(PACKAGE)): sorted(imported_rooms(path) & set(OUTER)) for path in modules(room)}
    assert {path: rooms for path, rooms in offenders.items() if rooms} == {}


def test_core_imports_nothing_else_of_the_package() -> None:
    offenders = {str(path.relative_to(PACKAGE)): sorted(imported_rooms(path) - {"core"}) for path in modules("core")}
    assert {path: rooms for path, rooms in offenders.items() if rooms} == {}


def test_the_check_sees_an_outer_import(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from underpaint.config import Settings\n"
                      "import underpaint.wire.messages\nfrom underpaint import jobs\n")
    assert imported_rooms(module) == {"config", "wire", "jobs"}


def test_the_job_room_imports_neither_studio_mode_nor_ray() -> None:
    """jobs/ reaches studio workers only through jobs/lanes.py's interface, which cluster/ implements."""
    offenders = {}
    for path in modules("jobs"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
        found = sorted({name for name in names if name.split(".")[0] == "ray"} | (imported_rooms(path) & {"cluster"}))
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}
