"""Result files in out/<name>/, the contact sheet, and moving originals to done/ or failed/.

Every file is written under a short temporary name and renamed into place, so
a reader never sees half a file. Nothing is ever overwritten: clashing names get
a `-2`, `-3`, ... suffix. A name longer than a file name may be is cut by one
rule (`fit_name`), and the job's files say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from underpaint.core import ErrorCode, RequestError
from underpaint.results.credentials import DISCLOSURE_ONLY, Credentials, disclose
from underpaint.results.delivery.export import credentials_stamp, deliver, read_variant
from underpaint.results.delivery.preset import Preset
from underpaint.results.png import encode_png
from underpaint.results.recipe import Recipe
from underpaint.results.store import SavedResult

from .faults import kill_point

THUMB_HEIGHT = 256
_PAD = 12
_CAPTION = 22
_BACKGROUND = (38, 38, 38, 255)
NAME_MAX = 255
"""Bytes of UTF-8 in one file name on Linux and macOS; NTFS counts UTF-16 units, never more than these bytes."""
WARNINGS_FILE = "warnings.txt"
ERROR_SUFFIX = ".error.json"
DELIVERY_DIR = "delivery"


def fit_name(stem: str, suffix: str = "") -> str:
    """`stem + suffix`, or, when that is too long for a file name, the stem cut on a character boundary and
    marked with `~` and 8 hex digits of its SHA-256, so long names that begin alike stay apart."""
    if _fits(stem + suffix):
        return stem + suffix
    mark = "~" + hashlib.sha256(os.fsencode(stem)).hexdigest()[:8]
    cut = stem
    while cut and not _fits(cut + mark + suffix):
        cut = cut[:-1]
    return cut + mark + suffix


def output_stem(name: str, variants: int) -> str:
    """The name a job's output files share: `name`, or `name` cut so that its longest output name fits."""
    longest = max(".contact.png", f".variant-{variants}.png", key=len)
    return fit_name(name, longest).removesuffix(longest)


def reserve_out_dir(out: Path, name: str) -> Path:
    """A new folder out/<name>/ (or <name>-2, ...), created atomically so two jobs never share one."""
    for attempt in range(1, 10_000):
        candidate = out / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"no free output folder name for {name!r}")


def write_outputs(saved: SavedResult, recipe: Recipe, out_dir: Path, stem: str, warnings: list[str],
                  credentials: Credentials = DISCLOSURE_ONLY) -> list[Path]:
    """Copy the agent's result files into out_dir named after `stem`, add a contact sheet (disclosing, as
    `credentials` allow, how its variants were made), and, when the job had any, its warnings (the `done`
    message's, one per line)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_copy(saved.psd, out_dir / f"{stem}.psd")]
    if saved.manifest is not None:  # the PSD's C2PA manifest, named after it as readers look for it
        written.append(_copy(saved.manifest, out_dir / f"{stem}{saved.manifest.suffix}"))
    written += [_copy(path, out_dir / f"{stem}.variant-{i + 1}.png") for i, path in enumerate(saved.variants)]
    written.append(_copy(saved.recipe, out_dir / "recipe.json"))
    sheet = contact_sheet([_read_rgba(path) for path in saved.variants], recipe.seeds)
    data = disclose(encode_png(sheet, recipe), "png", recipe, credentials)
    written.append(_write_bytes(out_dir / f"{stem}.contact.png", data))
    if warnings:
        written.append(_write_bytes(out_dir / WARNINGS_FILE, "".join(f"{w}\n" for w in warnings).encode()))
    return written


def write_delivery(saved: SavedResult, out_dir: Path, stem: str, presets: list[Preset],
                   credentials: Credentials) -> list[str]:
    """Every variant as each preset's file in out_dir/delivery/, named by the presets' patterns with `stem` as
    {name}, with `credentials`; returns what the job's warnings should add (a variant enlarged for a preset)."""
    unnumbered = [preset.name for preset in presets if "{variant}" not in preset.naming]
    if len(saved.variants) > 1 and unnumbered:
        raise RequestError(ErrorCode.BAD_PRESET, f"The job has {len(saved.variants)} variants, but the naming of "
                           f"{', '.join(unnumbered)} has no {{variant}}, so they would overwrite each other.")
    warnings: list[str] = []
    for index, path in enumerate(saved.variants):
        variant = read_variant(path, index)
        stamp = credentials_stamp(credentials, variant, path)
        warnings += deliver(variant, presets, out_dir / DELIVERY_DIR, stem, stamp).warnings
    return warnings


def contact_sheet(variants: list[np.ndarray], seeds: list[int]) -> np.ndarray:
    """All variants side by side, each captioned with its number and seed."""
    height = min(THUMB_HEIGHT, max(v.shape[0] for v in variants))
    thumbs = []
    for variant in variants:
        image = Image.fromarray(variant, "RGBA")
        width = max(1, round(image.width * height / image.height))
        thumbs.append(image.resize((width, height), Image.Resampling.LANCZOS))
    font = ImageFont.load_default()
    widths = [max(t.width, 96) for t in thumbs]
    sheet = Image.new("RGBA", (sum(widths) + _PAD * (len(thumbs) + 1), height + _CAPTION + 2 * _PAD), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    x = _PAD
    for index, (thumb, width, seed) in enumerate(zip(thumbs, widths, seeds, strict=True)):
        sheet.alpha_composite(thumb, (x + (width - thumb.width) // 2, _PAD))
        draw.text((x, _PAD + height + 6), f"#{index + 1}  seed {seed}", fill=(235, 235, 235, 255), font=font)
        x += width + _PAD
    return np.asarray(sheet)


def move_originals(src_dir: Path, dest: Path, stem: str) -> str:
    """Move every entry of src_dir into dest, all renamed with one suffix when any name is taken.

    Returns the stem used (`stem`, or `stem-2`, ...). Idempotent after a crash:
    entries already moved are simply no longer in src_dir.
    """
    names = sorted(p.name for p in src_dir.iterdir()) if src_dir.is_dir() else []
    tag = ""
    for attempt in range(1, 10_000):
        tag = "" if attempt == 1 else f"-{attempt}"
        targets = [dest / _tagged(name, stem, tag) for name in names]
        taken = [*targets, dest / error_file_name(stem + tag)]
        if not any(os.path.lexists(t) for t in taken):
            break
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.rename(src_dir / name, dest / _tagged(name, stem, tag))
        kill_point("moving-originals")
    shutil.rmtree(src_dir, ignore_errors=True)
    return stem + tag


def move_in(names: list[str], source: Path, target: Path, step: str) -> int:
    """Rename each of `names` from `source` into `target` (a claim); returns how many are in `target`
    now, so a claim cut short by a crash is finished by running it again."""
    moved = 0
    for name in names:
        try:
            os.rename(source / name, target / name)
            moved += 1
        except FileNotFoundError:
            moved += (target / name).exists()
        kill_point(step)
    return moved


def error_file_name(stem: str) -> str:
    return fit_name(stem, ERROR_SUFFIX)


def write_error(failed: Path, stem: str, code: str, message: str, job_id: str, files: list[str]) -> Path:
    """NAME.error.json; when NAME is too long for that file name, a shortened one whose `notes` say so."""
    path = failed / error_file_name(stem)
    body: dict[str, object] = {"code": code, "message": message, "job_id": job_id, "files": files,
                               "failed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if path.name != stem + ERROR_SUFFIX:
        body["notes"] = [f"The name {stem} is too long for a file name here, so this file is {path.name}."]
    _write_bytes(path, (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def _fits(name: str) -> bool:
    return len(os.fsencode(name)) <= NAME_MAX


def _tagged(name: str, stem: str, tag: str) -> str:
    if not tag:
        return name
    if name.startswith(stem):
        return fit_name(stem + tag, name[len(stem):])
    return fit_name(f"{Path(name).stem}{tag}", Path(name).suffix)


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write to a temporary file beside `path`, then rename it into place.

    Not results.psd.write_atomically: its temporary name holds the final one, so a
    final name that just fits makes a temporary name the OS refuses.
    """
    temp = path.with_name(f".underpaint-{uuid.uuid4().hex[:12]}.tmp")
    try:
        with temp.open("xb") as file:
            write(file)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _write_bytes(path: Path, data: bytes) -> Path:
    _write_atomically(path, lambda file: file.write(data))
    return path


def _copy(source: Path, target: Path) -> Path:
    with source.open("rb") as reader:
        _write_atomically(target, lambda file: shutil.copyfileobj(reader, file))
    return target


def _read_rgba(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))
