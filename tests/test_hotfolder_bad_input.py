"""Every bad input ends in failed/ with an error file (a sentence and a stable code), and the next job goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import textured_rgba
from hotfolder_support import drop, error_of, journal, live_agent, names, small_job, until


def corrupt_image(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")


def mask_of_the_wrong_size(stage: Path) -> None:
    small_job(stage, "bad")
    Image.fromarray(np.full((20, 30), 255, np.uint8)).save(stage / "bad.mask.png")


def invalid_recipe_json(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.json").write_text('{"params": {"variants": 3,,}')


def recipe_with_out_of_range_params(stage: Path) -> None:
    small_job(stage, "bad", recipe={"params": {"variants": 99}})


def recipe_with_an_unknown_field(stage: Path) -> None:
    small_job(stage, "bad", recipe={"colour": "blue"})


def recipe_naming_an_unknown_engine(stage: Path) -> None:
    small_job(stage, "bad", recipe={"params": {"engine": "dall-e"}})


def recipe_naming_an_unknown_model(stage: Path) -> None:
    small_job(stage, "bad", recipe={"params": {"model": "sdxl-turbo"}})


def recipe_path_outside_the_folder(stage: Path) -> None:
    small_job(stage, "bad", recipe={"mask": "../../outside.png"})
    (stage / "bad.mask.png").unlink()


def zero_byte_image(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.png").write_bytes(b"")


def lone_image_without_a_mask(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.mask.png").unlink()


def empty_mask(stage: Path) -> None:
    small_job(stage, "bad")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(stage / "bad.mask.png")


def mode_the_engine_cannot_do(stage: Path) -> None:
    small_job(stage, "bad", recipe={"mode": "generate"})


def unsupported_file(stage: Path) -> None:
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "bad.docx").write_bytes(b"PK\x03\x04 not an image")


def recipe_nested_5000_levels_deep(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.json").write_text('{"params": {"prompt": ' + "[" * 5000 + "]" * 5000 + "}}")


def mask_without_an_image(stage: Path) -> None:
    small_job(stage, "bad")
    (stage / "bad.png").unlink()


CASES: dict[str, tuple[Callable[[Path], None], str, dict[str, float]]] = {
    "corrupt image": (corrupt_image, "bad_image", {}),
    "mask of the wrong size": (mask_of_the_wrong_size, "size_mismatch", {}),
    "invalid recipe json": (invalid_recipe_json, "invalid_recipe", {}),
    "recipe with out of range params": (recipe_with_out_of_range_params, "invalid_recipe", {}),
    "recipe with an unknown field": (recipe_with_an_unknown_field, "invalid_recipe", {}),
    "recipe nested 5000 levels deep": (recipe_nested_5000_levels_deep, "invalid_recipe", {}),
    "recipe naming an unknown engine": (recipe_naming_an_unknown_engine, "unknown_engine", {}),
    "recipe naming an unknown model": (recipe_naming_an_unknown_model, "unknown_model", {}),
    "recipe path outside the folder": (recipe_path_outside_the_folder, "path_outside_folder", {}),
    "zero-byte image": (zero_byte_image, "empty_file", {}),
    "lone image without a mask": (lone_image_without_a_mask, "mask_required", {}),
    "empty mask": (empty_mask, "empty_mask", {}),
    "mode the engine cannot do": (mode_the_engine_cannot_do, "unsupported_mode", {}),
    "unsupported file": (unsupported_file, "unsupported_file", {}),
    "mask without an image": (mask_without_an_image, "missing_image", {"hot_folder_max_wait_seconds": 1.5}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_ends_in_failed_with_its_reason_and_the_next_job_goes_on(tmp_path: Path, case: str) -> None:
    make, code, overrides = CASES[case]
    hot, stage = tmp_path / "hot", tmp_path / "stage"
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "outside.png")
    async with live_agent(tmp_path, **overrides) as agent:
        del agent
        make(stage)
        drop(stage, hot / "in")
        small_job(stage, "good")
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 2 and "bad.error.json" in names(hot / "failed"), 30,
                    "the bad job to fail and the good one to finish")
    error = error_of(hot / "failed", "bad")
    assert error["code"] == code
    assert error["message"].endswith(".") and len(error["message"]) > 20
    assert names(hot / "done") == ["good.mask.png", "good.png"]
    assert names(hot / "in") == [] and names(hot / "processing") == []
    assert {n.split(".")[0] for n in names(hot / "failed")} == {"bad"}
    states = {r["name"]: (r["state"], r["error_code"]) for r in journal(tmp_path / "data" / "history.sqlite3")}
    assert states == {"bad": ("failed", code), "good": ("done", None)}


async def test_a_file_that_keeps_growing_ends_in_failed_and_the_next_job_goes_on(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    async with live_agent(tmp_path, hot_folder_stable_seconds=0.5, hot_folder_max_wait_seconds=2.0) as agent:
        del agent
        small_job(tmp_path / "stage", "good")
        drop(tmp_path / "stage", hot / "in")
        with (hot / "in" / "endless.png").open("wb") as file:
            for _ in range(40):  # 4 s of appending, 0.1 s apart: never stable for 0.5 s
                file.write(b"\0" * 1000)
                file.flush()
                await asyncio.sleep(0.1)
        await until(lambda: "endless.error.json" in names(hot / "failed"), 30, "the growing file to fail")
    assert error_of(hot / "failed", "endless")["code"] == "still_growing"
    assert names(hot / "done") == ["good.mask.png", "good.png"]


async def test_a_recipe_may_name_a_shared_mask_elsewhere_inside_the_folder(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    (hot / "masks").mkdir(parents=True)
    Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(hot / "masks" / "centre.png")
    async with live_agent(tmp_path) as agent:
        del agent
        stage = tmp_path / "stage"
        stage.mkdir()
        Image.fromarray(textured_rgba(32, 32)).save(stage / "shared.png")
        (stage / "shared.json").write_text(json.dumps({"mask": "../masks/centre.png"}))
        drop(stage, hot / "in")
        await until(lambda: len(names(hot / "done")) == 2, 30, "the job")
    assert names(hot / "out") == ["shared"] and (hot / "masks" / "centre.png").is_file()
