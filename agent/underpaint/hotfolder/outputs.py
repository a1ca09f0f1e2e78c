"""Result files in out/<name>/, the contact sheet, and moving originals to done/ or failed/.

Every file is written under a temporary name and renamed into place, so a
reader never sees half a file. Nothing is ever overwritten: clashing names get
a `-2`, `-3`, ... suffix.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from underpaint.results.png import encode_png
from underpaint.results.psd import write_atomically
from underpaint.results.recipe import Recipe
from underpaint.results.store import SavedResult

THUMB_HEIGHT = 256
_PAD = 12
_CAPTION = 22
_BACKGROUND = (38, 38, 38, 255)


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


def write_outputs(saved: SavedResult, recipe: Recipe, out_dir: Path, name: str) -> list[Path]:
    """Copy the agent's result files into out_dir under the job's name and add a contact sheet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_copy(saved.psd, out_dir / f"{name}.psd")]
    written += [_copy(path, out_dir / f"{name}.variant-{i + 1}.png") for i, path in enumerate(saved.variants)]
    written.append(_copy(saved.recipe, out_dir / "recipe.json"))
    sheet = contact_sheet([_read_rgba(path) for path in saved.variants], recipe.seeds)
    data = encode_png(sheet, recipe)
    contact = out_dir / f"{name}.contact.png"
    write_atomically(contact, lambda file: file.write(data))
    written.append(contact)
    return written


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
        taken = [*targets, dest / f"{stem}{tag}.error.json"]
        if not any(os.path.lexists(t) for t in taken):
            break
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.rename(src_dir / name, dest / _tagged(name, stem, tag))
    shutil.rmtree(src_dir, ignore_errors=True)
    return stem + tag


def write_error(failed: Path, stem: str, code: str, message: str, job_id: str, files: list[str]) -> Path:
    path = failed / f"{stem}.error.json"
    body = {"code": code, "message": message, "job_id": job_id, "files": files,
            "failed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_atomically(path, lambda file: file.write(data))
    return path


def _tagged(name: str, stem: str, tag: str) -> str:
    if not tag:
        return name
    if name.startswith(stem):
        return stem + tag + name[len(stem):]
    return f"{Path(name).stem}{tag}{Path(name).suffix}"


def _copy(source: Path, target: Path) -> Path:
    with source.open("rb") as reader:
        write_atomically(target, lambda file: shutil.copyfileobj(reader, file))
    return target


def _read_rgba(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))
