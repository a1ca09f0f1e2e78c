"""Long job names: kept when the file system allows them, else shortened by one rule that the files state."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hotfolder_support import drop, error_of, journal, live_agent, names, small_job, until

NAME_MAX = 255
"""Bytes in one file name on Linux and macOS file systems."""


def shortened(name: str) -> re.Pattern[str]:
    """The documented rule: the name cut on a character boundary, then `~` and 8 hex digits of its SHA-256."""
    mark = hashlib.sha256(name.encode()).hexdigest()[:8]
    return re.compile(f"{re.escape(name[:60])}[^~]*~{mark}")


async def test_a_name_of_77_cjk_characters_is_kept_in_every_output(tmp_path: Path) -> None:
    hot, name = tmp_path / "hot", "写真" * 38 + "写"  # 231 bytes of UTF-8
    async with live_agent(tmp_path) as agent:
        del agent
        small_job(tmp_path / "stage", name)
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the long-named job to finish")
    assert names(hot / "out") == [name]
    assert names(hot / "out" / name) == sorted([f"{name}.c2pa", f"{name}.contact.png", f"{name}.psd",
                                                f"{name}.variant-1.png", "recipe.json"])
    assert names(hot / "done") == [f"{name}.mask.png", f"{name}.png"]
    assert names(hot / "processing") == [] and names(hot / "failed") == []


async def test_outputs_of_a_name_too_long_for_them_share_one_shortened_name_and_say_so(tmp_path: Path) -> None:
    hot, name = tmp_path / "hot", "写" * 82  # 246 bytes: NAME.mask.png just fits, NAME.variant-1.png does not
    async with live_agent(tmp_path) as agent:
        del agent
        small_job(tmp_path / "stage", name)
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the long-named job to finish")
    [short] = names(hot / "out")
    assert shortened(name).fullmatch(short)
    assert names(hot / "out" / short) == sorted([f"{short}.c2pa", f"{short}.contact.png", f"{short}.psd",
                                                 f"{short}.variant-1.png", "recipe.json", "warnings.txt"])
    assert len(f"{short}.variant-1.png".encode()) <= NAME_MAX
    assert name in (hot / "out" / short / "warnings.txt").read_text()
    assert names(hot / "done") == [f"{name}.mask.png", f"{name}.png"]


async def test_a_failed_job_named_too_long_for_its_error_file_gets_a_shortened_one(tmp_path: Path) -> None:
    hot, name = tmp_path / "hot", "写" * 82  # NAME.error.json would be 257 bytes
    async with live_agent(tmp_path) as agent:
        del agent
        small_job(tmp_path / "stage", name)
        (tmp_path / "stage" / f"{name}.mask.png").unlink()  # an image alone: mask_required
        drop(tmp_path / "stage", hot / "in")
        await until(lambda: any(n.endswith(".error.json") for n in names(hot / "failed")), 30, "the error file")
    [error_file] = [n for n in names(hot / "failed") if n.endswith(".error.json")]
    stem = error_file.removesuffix(".error.json")
    assert shortened(name).fullmatch(stem)
    error = error_of(hot / "failed", stem)
    assert error["code"] == "mask_required" and error["files"] == [f"{name}.png"]
    assert any(name in note for note in error["notes"])
    assert names(hot / "failed") == sorted([error_file, f"{name}.png"])
    assert names(hot / "processing") == []
    assert [(r["state"], r["error_code"]) for r in journal(tmp_path / "data" / "history.sqlite3")] == [
        ("failed", "mask_required")]
