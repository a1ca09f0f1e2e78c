"""Pulling models from the Hugging Face hub into its standard cache, with a progress bar."""

from __future__ import annotations

from pathlib import Path

_COMPONENT_FILES = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model"]


def download(hub_id: str, revision: str | None = None) -> Path:
    """The local path of `hub_id`: a snapshot folder (owner/repo) or one file (owner/repo/path.safetensors).

    Only what the pipelines load is fetched: configs, tokenizers and safetensors
    weights of each component (full precision, no EMA or half-precision duplicates), not
    every file a repo holds.
    """
    from huggingface_hub import hf_hub_download, snapshot_download

    parts = hub_id.split("/")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"'{hub_id}' is not a hub id; use owner/repo or owner/repo/file.safetensors.")
    repo = "/".join(parts[:2])
    if len(parts) > 2:
        return Path(hf_hub_download(repo, "/".join(parts[2:]), revision=revision))
    folder = Path(snapshot_download(repo, revision=revision, allow_patterns=[*_COMPONENT_FILES, "*/*.safetensors"],
                                    ignore_patterns=["*.fp16.*", "*.bf16.*", "*non_ema*", "*.ema.*"]))
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"{hub_id} is not a diffusers repository (no model_index.json); pull one checkpoint "
                         "file with owner/repo/file.safetensors instead.")
    return folder


def cached_snapshot(path: Path) -> Path:
    """The snapshot folder of a Hugging Face cache repo folder (`models--owner--name`, as the cache keeps it:
    refs/main names the snapshot the hub's main branch was at), or `path` itself when it is no such folder."""
    snapshots = path / "snapshots"
    if not path.is_dir() or not snapshots.is_dir():
        return path
    ref = path / "refs" / "main"
    if ref.is_file() and (snapshots / ref.read_text(encoding="utf-8").strip()).is_dir():
        return snapshots / ref.read_text(encoding="utf-8").strip()
    found = sorted(folder for folder in snapshots.iterdir() if folder.is_dir())
    if len(found) == 1:
        return found[0]
    raise ValueError(f"{path} is a Hugging Face cache folder with {len(found)} snapshots and no refs/main; point "
                     "at the snapshot to use (snapshots/<revision>).")
