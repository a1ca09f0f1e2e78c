"""The hot folder's layout, how dropped files group into jobs, and when a job is ready.

    DIR/in/            drop files or folders here
    DIR/processing/    <job id>/ holds a claimed job's files while it runs
    DIR/out/<name>/    results: <name>.psd, <name>.variant-N.png, recipe.json, <name>.contact.png,
                       warnings.txt when the job had warnings (<name> shortened when too long: outputs.fit_name)
    DIR/done/          originals after success
    DIR/failed/        originals after failure, plus <name>.error.json
    DIR/defaults.json  optional folder-wide recipe defaults

A folder in in/ holding `set.json` is a consistent set (hotfolder.sets): each
image in it becomes a job of its own, all sharing one set id, and its results
go to out/<set>/<name>/, its originals to done/<set>/ or failed/<set>/.

A file is ready when its size and modification time have not changed for
`stable_seconds` (a file whose mtime is already that old, e.g. one moved in,
is ready on first sight unless polling a network share, whose clock may
differ). Scanning is the source of truth; filesystem events only wake it.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".crdownload", ".partial", ".download", ".swp")
READY_MARKER = "READY"
SUBFOLDERS = ("in", "processing", "out", "done", "failed")
DEFAULTS_FILE = "defaults.json"
SET_FILE = "set.json"

Role = Literal["image", "mask", "recipe", "other"]


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "in"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def defaults(self) -> Path:
        return self.root / DEFAULTS_FILE

    def create(self) -> None:
        for name in SUBFOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)


def new_id(name: str, prefix: str) -> str:
    """A job or set id from a dropped name: its safe characters and 8 random hex digits (ids travel in the
    protocol, whose pattern allows letters, digits, `-`, `_` and `.`)."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in name)[:40].strip("-_")
    return f"{prefix}{safe or 'job'}-{uuid.uuid4().hex[:8]}"


def is_ignored(name: str) -> bool:
    """Names that editors, browsers and copy tools use while a file is incomplete, and system litter."""
    lower = name.lower()
    return (name.startswith((".", "~$", "~")) or lower.endswith(TEMP_SUFFIXES)
            or lower in ("thumbs.db", "desktop.ini"))


def classify(name: str) -> tuple[str, Role]:
    """(stem, role): `photo.png` -> image, `photo.mask.png` -> mask, `photo.json` -> recipe.

    Anything else is "other", with the stem its name would have as an image or mask
    (`photo.heic` and `photo.mask.heic` -> `photo`).
    """
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return path.stem, "recipe"
    inner = Path(path.stem)
    is_mask = inner.suffix.lower() == ".mask"
    if suffix in IMAGE_SUFFIXES:
        return (inner.stem, "mask") if is_mask else (path.stem, "image")
    return (inner.stem if is_mask else path.stem) or name, "other"


@dataclass(frozen=True)
class Group:
    """One job's worth of entries in in/: files sharing a stem, or one folder."""

    name: str
    members: tuple[str, ...]
    kind: Literal["files", "folder"]
    roles: tuple[Role, ...] = ()

    @property
    def has_image(self) -> bool:
        return "image" in self.roles


@dataclass(frozen=True)
class _Observed:
    signature: object
    mtime: float
    marked_ready: bool
    is_dir: bool


@dataclass
class _Seen:
    signature: object
    first_seen: float
    changed: float


@dataclass
class Verdict:
    ready: list[Group] = field(default_factory=list)
    growing: list[Group] = field(default_factory=list)
    orphans: list[Group] = field(default_factory=list)
    waiting: int = 0


class Tracker:
    """Remembers what each entry of in/ looked like, to tell complete files from ones still arriving."""

    def __init__(self, inbox: Path, stable_seconds: float, max_wait: float, trust_mtime: bool) -> None:
        self.inbox = inbox
        self.stable_seconds = stable_seconds
        self.max_wait = max_wait
        self.trust_mtime = trust_mtime
        self._seen: dict[str, _Seen] = {}

    def scan(self, skip: set[str] | None = None) -> Verdict:
        """Group the entries of in/ and sort them into ready, still growing, orphaned and waiting."""
        now, wall = time.monotonic(), time.time()
        entries: dict[str, _Observed] = {}
        try:
            listing = list(os.scandir(self.inbox))
        except FileNotFoundError:
            listing = []
        for entry in listing:
            if is_ignored(entry.name) or (skip and entry.name in skip):
                continue
            try:
                observed = _observe(entry)
            except OSError:
                continue  # vanished or unreadable right now: look again next time
            if observed is not None:
                entries[entry.name] = observed
        for gone in set(self._seen) - set(entries):
            del self._seen[gone]
        stable: dict[str, bool] = {}
        too_long: dict[str, bool] = {}
        for name, observed in entries.items():
            seen = self._seen.get(name)
            if seen is None:
                age = max(0.0, wall - observed.mtime) if self.trust_mtime else 0.0
                seen = self._seen[name] = _Seen(observed.signature, now, now - age)
            elif seen.signature != observed.signature:
                seen.signature, seen.changed = observed.signature, now
            stable[name] = observed.marked_ready or now - seen.changed >= self.stable_seconds
            too_long[name] = now - seen.first_seen >= self.max_wait
        verdict = Verdict()
        for group in group_entries({name: observed.is_dir for name, observed in entries.items()}):
            if all(stable[m] for m in group.members):
                if group.has_image or group.kind == "folder" or "other" in group.roles:
                    verdict.ready.append(group)
                elif all(too_long[m] for m in group.members):
                    verdict.orphans.append(group)
                else:
                    verdict.waiting += 1
            elif any(too_long[m] and not stable[m] for m in group.members):
                verdict.growing.append(group)
            else:
                verdict.waiting += 1
        return verdict

    def forget(self, names: tuple[str, ...]) -> None:
        for name in names:
            self._seen.pop(name, None)


def _observe(entry: os.DirEntry[str]) -> _Observed | None:
    """(signature, newest mtime, has a READY marker) of a file or folder; None for an empty folder."""
    if entry.is_dir(follow_symlinks=False):
        files: list[tuple[str, int, int]] = []
        busy = False
        for dirpath, _, filenames in os.walk(entry.path):
            for filename in filenames:
                path = os.path.join(dirpath, filename)
                busy = busy or is_ignored(filename)
                info = os.stat(path, follow_symlinks=False)
                files.append((os.path.relpath(path, entry.path), info.st_size, info.st_mtime_ns))
        if not files:
            return None
        names = {f[0] for f in files}
        marked = READY_MARKER in names and not busy
        signature = (tuple(sorted(files)), busy)
        newest = max(f[2] for f in files) / 1e9
        return _Observed(signature, time.time() if busy else newest, marked, True)
    info = entry.stat(follow_symlinks=False)
    return _Observed((info.st_size, info.st_mtime_ns), info.st_mtime, False, False)


def group_entries(entries: dict[str, bool]) -> list[Group]:
    """Entries (name -> is a folder) as jobs: folders alone; files by stem. A file Underpaint cannot read
    joins the mask and recipe of its stem when they have no image (it was meant as theirs, so they fail
    with it rather than wait for an image that never comes); beside an image it is a job of its own, so a
    stray `photo.xmp` spoils nothing."""
    by_stem: dict[str, list[tuple[str, Role]]] = {}
    others: list[tuple[str, str]] = []
    groups: list[Group] = []
    for name, is_dir in sorted(entries.items()):
        if is_dir:
            groups.append(Group(name, (name,), "folder"))
            continue
        stem, role = classify(name)
        if role == "other":
            others.append((stem, name))
        else:
            by_stem.setdefault(stem, []).append((name, role))
    for stem, name in others:
        members = by_stem.get(stem)
        if members is not None and all(role != "image" for _, role in members):
            members.append((name, "other"))
        else:
            groups.append(Group(stem, (name,), "files", ("other",)))
    for stem, members in sorted(by_stem.items()):
        members.sort()
        groups.append(Group(stem, tuple(m for m, _ in members), "files", tuple(r for _, r in members)))
    return groups
