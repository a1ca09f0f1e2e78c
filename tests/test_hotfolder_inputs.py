"""Inputs beyond plain PNGs: links, 16-bit images, GIFs, files Underpaint cannot read, and what each leaves behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from conftest import textured_rgba
from hotfolder_support import check_psd, drop, error_of, live_agent, names, small_job, until


def hole(side: int) -> np.ndarray:
    mask = np.zeros((side, side), np.uint8)
    mask[side // 2 - 3: side // 2 + 3, side // 2 - 3: side // 2 + 3] = 255
    return mask


async def test_a_link_to_a_folder_is_refused_without_listing_what_it_points_to(tmp_path: Path) -> None:
    hot, private = tmp_path / "hot", tmp_path / "private"
    private.mkdir()
    (private / "salaries-2026.xlsx").write_bytes(b"secret")
    (private / "diary.txt").write_bytes(b"secret")
    async with live_agent(tmp_path) as agent:
        del agent
        (hot / "in" / "shortcut").symlink_to(private, target_is_directory=True)
        await until(lambda: "shortcut.error.json" in names(hot / "failed"), 30, "the link to fail")
    text = (hot / "failed" / "shortcut.error.json").read_text()
    assert error_of(hot / "failed", "shortcut")["code"] == "linked_folder"
    assert "salaries" not in text and "diary" not in text
    assert (hot / "failed" / "shortcut").is_symlink() and names(private) == ["diary.txt", "salaries-2026.xlsx"]


async def test_a_16_bit_image_is_filled_and_its_conversion_warning_is_written_beside_the_outputs(
        tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    stage.mkdir()
    deep = (textured_rgba(32, 32)[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(deep).save(stage / "deep.png")
    Image.fromarray(hole(32)).save(stage / "deep.mask.png")
    async with live_agent(tmp_path) as agent:
        del agent
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the job to finish")
    warnings = (hot / "out" / "deep" / "warnings.txt").read_text().splitlines()
    assert warnings == ["The I;16 image was converted to 8 bits per channel."]


async def test_a_gif_image_with_a_gif_mask_is_filled(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    stage.mkdir()
    Image.fromarray(textured_rgba(32, 32)[..., :3]).save(stage / "anim.gif")
    Image.fromarray(hole(32)).save(stage / "anim.mask.gif")
    async with live_agent(tmp_path) as agent:
        del agent
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the GIF job to finish")
    assert names(hot / "done") == ["anim.gif", "anim.mask.gif"] and names(hot / "failed") == []
    check_psd(hot / "out" / "anim" / "anim.psd", variants=1)


async def test_an_image_underpaint_cannot_read_takes_its_mask_and_recipe_to_failed_with_it(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    small_job(stage, "photo", recipe={"params": {"seed": 3}})
    (stage / "photo.png").rename(stage / "photo.heic")
    async with live_agent(tmp_path) as agent:
        del agent
        drop(stage, hot / "in")
        await until(lambda: names(hot / "in") == [] and names(hot / "processing") == [], 30,
                    "every file of the job to leave in/")
    assert names(hot / "failed") == ["photo.error.json", "photo.heic", "photo.json", "photo.mask.png"]
    error = error_of(hot / "failed", "photo")
    assert error["code"] == "unsupported_file" and "photo.heic" in error["message"]


async def test_an_animated_gif_is_filled_from_its_first_frame_and_says_so(tmp_path: Path) -> None:
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    stage.mkdir()
    frames = [Image.fromarray(textured_rgba(32, 32, seed)[..., :3]) for seed in range(3)]
    frames[0].save(stage / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.fromarray(hole(32)).save(stage / "anim.mask.png")
    async with live_agent(tmp_path) as agent:
        del agent
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the GIF job to finish")
    assert (hot / "out" / "anim" / "warnings.txt").read_text().splitlines() == [
        "anim.gif has 3 frames; only the first was used."]
