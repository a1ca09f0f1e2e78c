"""Result files on disk: one folder per job under a root, with age and size limits.

Job ids and file names reach `find` straight from HTTP requests, so they are
checked as bare names and every answer is resolved and confirmed inside the
root, whatever symlinks lie on the way.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from underpaint.results.credentials import (
    DISCLOSURE_ONLY,
    SIDECAR_SUFFIX,
    Credentials,
    result_provenance,
    sidecar_manifest,
)
from underpaint.results.layered import LayeredResult
from underpaint.results.png import flatten_variant, variant_png
from underpaint.results.psd import read_psd_layers, write_atomically, write_psd
from underpaint.results.thumbnails import (
    SOURCE_NAME,
    source_from_png,
    thumbnail_from_png,
    thumbnail_name,
    write_thumbnail,
)

PSD_NAME = "result.psd"
PSD_MANIFEST_NAME = "result" + SIDECAR_SUFFIX
RECIPE_NAME = "recipe.json"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FULL_SCAN_SECONDS = 600.0
"""How often cleanup reads every job folder again; in between it keeps their ages and sizes in
memory, so the check after each job costs the same however many results are kept. Folders
changed by hand (or by another agent on the same data folder) count from the next full scan."""


def variant_name(index: int) -> str:
    return f"variant-{index + 1}.png"


@dataclass(frozen=True)
class SavedResult:
    psd: Path
    variants: list[Path]
    recipe: Path
    manifest: Path | None = None
    """The PSD's C2PA manifest store beside it (PSD_MANIFEST_NAME); None when manifests are off."""


class ResultStore:
    def __init__(self, root: Path, max_age_days: float, max_total_mb: float,
                 credentials: Credentials = DISCLOSURE_ONLY) -> None:
        """`credentials`: what every file saved here says of how it was made (results/credentials)."""
        self.root = root
        self.max_age_days = max_age_days
        self.max_total_mb = max_total_mb
        self.credentials = credentials
        self._known: dict[str, tuple[float, int]] | None = None
        """Job id -> (newest mtime, bytes) of every job folder, from the last full scan and our own writes."""
        self._scanned_at = 0.0
        self._known_lock = threading.Lock()

    def save(self, result: LayeredResult, job_id: str) -> SavedResult:
        """Every file of the job, or none when one cannot be written (a full disk): a job with
        half its files would link to files that are not there, and the space is wanted back."""
        folder = self.root / _checked(job_id, "job id")
        try:
            saved = _write_files(result, folder, self.credentials)
        except BaseException:
            self.discard(job_id)
            raise
        self._note(folder)
        return saved

    def discard(self, job_id: str) -> None:
        self._remove(_checked(job_id, "job id"))

    def saved_layers(self, job_id: str) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Each variant's pixels and mask, as the job streamed them, from its PSD; None without one."""
        path = self.find(job_id, PSD_NAME)
        return None if path is None else read_psd_layers(path)

    def thumbnail(self, job_id: str, index: int) -> Path | None:
        """Variant `index`'s thumbnail; made from its PNG the first time for a job saved before
        thumbnails were written. None when the job has no such variant on disk."""
        return self._derived(job_id, thumbnail_name(index), variant_name(index), thumbnail_from_png)

    def source(self, job_id: str) -> Path | None:
        """The source the job ran on, at full size, made from its first variant's PNG on first use;
        None for a job without one on disk (Generate, or its files are gone)."""
        return self._derived(job_id, SOURCE_NAME, variant_name(0), source_from_png)

    def _derived(self, job_id: str, name: str, origin: str, make: Callable[[Path, Path], bool]) -> Path | None:
        """The file `name` of a job, made once by `make(origin file, its path)` from the file `origin`."""
        found = self.find(job_id, name)
        if found is not None:
            return found
        origin_path = self.find(job_id, origin)
        if origin_path is None:
            return None
        if not make(origin_path, origin_path.parent / name):
            return None
        self._note(origin_path.parent)
        return self.find(job_id, name)

    def remove_unfinished_writes(self) -> int:
        """Deletes the temporary files of writes a killed agent never finished (a finished write
        renames its file into place); call it only while nothing writes here. Returns how many."""
        removed = 0
        for folder in self._folders():
            for temp in folder.glob(".*.tmp"):
                if temp.is_file() and not temp.is_symlink():
                    temp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def find(self, job_id: str, name: str) -> Path | None:
        """The file `name` of job `job_id`, or None if absent or not safely inside the root."""
        if not (_is_safe(job_id) and _is_safe(name)):
            return None
        root = self.root.resolve()
        try:
            path = (root / job_id / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def cleanup(self, now: float | None = None, keep: set[str] | None = None) -> list[str]:
        """Remove job folders older than max_age_days, then the oldest until under max_total_mb.

        Folders named in `keep` (jobs still running) are never removed but
        still count towards the total size. Returns the removed job ids.
        """
        now = time.time() if now is None else now
        keep = keep or set()
        jobs = self._kept_jobs()
        removed: list[str] = []
        max_age = self.max_age_days * 86400
        for job_id, (mtime, _) in sorted(jobs.items(), key=lambda item: item[1][0]):
            if job_id not in keep and now - mtime > max_age:
                self._remove(job_id)
                removed.append(job_id)
                del jobs[job_id]
        total = sum(size for _, size in jobs.values())
        limit = self.max_total_mb * 1024 * 1024
        for job_id, (_, size) in sorted(jobs.items(), key=lambda item: item[1][0]):
            if total <= limit:
                break
            if job_id in keep:
                continue
            self._remove(job_id)
            removed.append(job_id)
            total -= size
        return removed

    def _kept_jobs(self) -> dict[str, tuple[float, int]]:
        """A copy of job id -> (latest modification time, total bytes) of every real job folder:
        read from disk on the first call and every FULL_SCAN_SECONDS, kept up to date in between."""
        with self._known_lock:
            if self._known is None or time.monotonic() - self._scanned_at >= FULL_SCAN_SECONDS:
                self._known = {folder.name: _measure(folder) for folder in self._folders()}
                self._scanned_at = time.monotonic()
            return dict(self._known)

    def _note(self, folder: Path) -> None:
        """Record what our own write left in a job folder, so cleanup need not read it again."""
        with self._known_lock:
            if self._known is not None:
                self._known[folder.name] = _measure(folder)

    def _remove(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)
        with self._known_lock:
            if self._known is not None:
                self._known.pop(name, None)

    def _folders(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            # A symlinked folder is not ours to delete or to count.
            if not folder.is_symlink() and folder.is_dir():
                yield folder


def _measure(folder: Path) -> tuple[float, int]:
    """(latest modification time, total bytes) of the files in a job folder."""
    mtime, size = folder.stat().st_mtime, 0
    for file in folder.rglob("*"):
        info = file.lstat()
        mtime = max(mtime, info.st_mtime)
        size += info.st_size if file.is_file() and not file.is_symlink() else 0
    return mtime, size


def _write_files(result: LayeredResult, folder: Path, credentials: Credentials) -> SavedResult:
    folder.mkdir(parents=True, exist_ok=True)
    variants = [folder / variant_name(index) for index in range(len(result.layers))]
    psd = folder / PSD_NAME
    # zlib releases the GIL, so variant PNGs compress beside the PSD writer: for a
    # 4000x3000 photo that cuts the time until every file of a job is on disk.
    with ThreadPoolExecutor(2, thread_name_prefix="underpaint-png") as encoders:
        pngs = [encoders.submit(_write_variant, result, index, path, credentials)
                for index, path in enumerate(variants)]
        write_psd(result, psd, credentials)
        sidecar = sidecar_manifest(psd, result_provenance(result, 0, PSD_NAME), credentials)
        for png in pngs:
            png.result()
    manifest = None
    if sidecar is not None:
        manifest = folder / PSD_MANIFEST_NAME
        _write_bytes(manifest, sidecar)
    recipe = folder / RECIPE_NAME
    text = result.recipe.to_json().encode("utf-8") + b"\n"
    _write_bytes(recipe, text)
    return SavedResult(psd=psd, variants=variants, recipe=recipe, manifest=manifest)


def _write_variant(result: LayeredResult, index: int, path: Path, credentials: Credentials) -> None:
    _write_bytes(path, variant_png(result, index, credentials))
    write_thumbnail(flatten_variant(result, index), path.parent / thumbnail_name(index))


def _write_bytes(path: Path, data: bytes) -> None:
    write_atomically(path, lambda file: file.write(data))


def _is_safe(name: str) -> bool:
    # A bare name starting with a letter or digit: no separators, no "." or "..".
    return _SAFE_NAME.fullmatch(name) is not None


def _checked(name: str, what: str) -> str:
    if not _is_safe(name):
        raise ValueError(f"unsafe {what}: {name!r}")
    return name
