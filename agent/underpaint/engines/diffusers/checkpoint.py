"""Reading what a weights file holds without loading it: safetensors headers, integrity, content hashes."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
_MAX_HEADER = 100 << 20


class ModelFileError(Exception):
    """A model file that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str


def read_safetensors_header(path: Path) -> dict[str, TensorInfo]:
    """Names, shapes and dtypes of the tensors in `path`; checks the file is complete.

    Raises ModelFileError for a missing, corrupt or truncated file.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelFileError(_broken(path, "it is empty or cut short"))
            (length,) = struct.unpack("<Q", prefix)
            if length > min(_MAX_HEADER, size - 8):
                raise ModelFileError(_broken(path, "it is truncated or its header is corrupt"))
            header = json.loads(handle.read(length))
    except FileNotFoundError:
        raise ModelFileError(f"Model file {path} does not exist. Check the path, or re-add the model with "
                             "`underpaint models add NAME PATH`.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(_broken(path, "its header is not valid safetensors JSON")) from None
    if not isinstance(header, dict):
        raise ModelFileError(_broken(path, "its header is not valid safetensors JSON"))
    tensors: dict[str, TensorInfo] = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin_end = info["data_offsets"]
            tensors[name] = TensorInfo(tuple(int(v) for v in info["shape"]), str(info["dtype"]))
            end = max(end, int(begin_end[1]))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelFileError(_broken(path, f"the entry for tensor '{name}' is corrupt")) from None
    if 8 + length + end > size:
        raise ModelFileError(_broken(
            path, f"it is truncated ({size} bytes of {8 + length + end}); the download or copy did not finish"))
    return tensors


def _broken(path: Path, why: str) -> str:
    return (f"Model file {path} cannot be read: {why}. Download or copy it again "
            "(`underpaint models pull` for hub models), then `underpaint models add` it.")


def file_sha256(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a diffusers folder, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def content_sha256(source: Path) -> str:
    """Hash of a single file, or of a diffusers folder's configs and weights (path and bytes of each)."""
    if source.is_file():
        return file_sha256(source)
    digest = hashlib.sha256()
    files = sorted(p for p in source.rglob("*") if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.suffix in (
        ".json", ".txt")))
    for path in files:
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def fingerprint(source: Path) -> str:
    """Cheap change detector (sizes and modification times), to know when a stored hash is stale."""
    paths = [source] if source.is_file() else weight_files(source)
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
