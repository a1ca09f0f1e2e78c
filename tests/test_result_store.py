"""ResultStore: job folders, safe lookups, cleanup; read_recipe from any result file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders import make_result
from underpaint.results.png import flatten_variant
from underpaint.results.psd import read_psd_recipe
from underpaint.results.recipe import Recipe
from underpaint.results.replay import read_recipe
from underpaint.results.store import ResultStore, SavedResult

DAY = 86400.0
NOW = 1_800_000_000.0


def _store(tmp_path: Path, max_age_days: float = 7, max_total_mb: float = 100) -> ResultStore:
    return ResultStore(tmp_path / "results", max_age_days=max_age_days, max_total_mb=max_total_mb)


def _fake_job(store: ResultStore, job_id: str, age_days: float, size: int = 1000) -> None:
    folder = store.root / job_id
    folder.mkdir(parents=True)
    file = folder / "result.psd"
    file.write_bytes(b"x" * size)
    stamp = NOW - age_days * DAY
    os.utime(file, (stamp, stamp))
    os.utime(folder, (stamp, stamp))


def _jobs(store: ResultStore) -> set[str]:
    return {p.name for p in store.root.iterdir()}


def test_save_writes_psd_variants_and_recipe(tmp_path: Path) -> None:
    store = _store(tmp_path)
    saved = store.save(make_result(), "job-1")
    folder = store.root / "job-1"
    assert saved == SavedResult(
        psd=folder / "result.psd",
        variants=[folder / f"variant-{i}.png" for i in (1, 2, 3)],
        recipe=folder / "recipe.json",
    )
    assert all(path.is_file() for path in [saved.psd, saved.recipe, *saved.variants])


def test_saved_variants_are_the_flattened_variants(tmp_path: Path) -> None:
    result = make_result()
    saved = _store(tmp_path).save(result, "job-1")
    for index, path in enumerate(saved.variants):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), flatten_variant(result, index))


def test_every_saved_file_carries_the_recipe(tmp_path: Path) -> None:
    result = make_result()
    saved = _store(tmp_path).save(result, "job-1")
    assert Recipe.from_json(saved.recipe.read_text()) == result.recipe
    assert read_psd_recipe(saved.psd) == result.recipe
    assert all(read_recipe(path) == result.recipe for path in saved.variants)


def test_save_leaves_no_temp_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save(make_result(), "job-1")
    store.save(make_result(), "job-1")  # overwriting goes through temp files too
    names = sorted(p.name for p in (store.root / "job-1").iterdir())
    assert names == ["recipe.json", "result.psd", "thumb-1.webp", "thumb-2.webp", "thumb-3.webp", "variant-1.png",
                     "variant-2.png", "variant-3.png"]


@pytest.mark.parametrize("job_id", ["..", "../escape", "a/b", "/tmp/x", ".hidden", ""])
def test_save_refuses_unsafe_job_ids(tmp_path: Path, job_id: str) -> None:
    with pytest.raises(ValueError, match="unsafe job id"):
        _store(tmp_path).save(make_result(), job_id)


def test_find_returns_a_saved_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    saved = store.save(make_result(), "job-1")
    assert store.find("job-1", "variant-2.png") == saved.variants[1].resolve()


def test_find_returns_none_for_missing_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save(make_result(), "job-1")
    assert store.find("job-1", "variant-9.png") is None
    assert store.find("job-2", "result.psd") is None


def test_find_returns_none_for_a_folder(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.root / "job-1" / "sub").mkdir(parents=True)
    assert store.find("job-1", "sub") is None


@pytest.mark.parametrize(
    ("job_id", "name"),
    [
        ("..", "secret.txt"),
        ("job-1", "../../secret.txt"),
        ("job-1/..", "secret.txt"),
        ("job-1", "/etc/passwd"),
        ("job-1", "..\\..\\secret.txt"),
        ("job-1", "."),
        ("job-1", ""),
    ],
)
def test_find_refuses_traversal(tmp_path: Path, job_id: str, name: str) -> None:
    store = _store(tmp_path)
    store.save(make_result(), "job-1")
    (tmp_path / "secret.txt").write_text("secret")
    assert store.find(job_id, name) is None


def test_find_refuses_a_file_symlink_escaping_the_root(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save(make_result(), "job-1")
    (tmp_path / "secret.txt").write_text("secret")
    (store.root / "job-1" / "leak.png").symlink_to(tmp_path / "secret.txt")
    assert store.find("job-1", "leak.png") is None


def test_find_refuses_a_job_folder_symlink_escaping_the_root(tmp_path: Path) -> None:
    store = _store(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "result.psd").write_bytes(b"secret")
    store.root.mkdir()
    (store.root / "job-9").symlink_to(outside)
    assert store.find("job-9", "result.psd") is None


def test_cleanup_removes_jobs_older_than_max_age(tmp_path: Path) -> None:
    store = _store(tmp_path, max_age_days=7)
    _fake_job(store, "old", age_days=8)
    _fake_job(store, "new", age_days=1)
    assert store.cleanup(now=NOW) == ["old"]
    assert _jobs(store) == {"new"}


def test_cleanup_removes_the_oldest_until_under_max_size(tmp_path: Path) -> None:
    store = _store(tmp_path, max_total_mb=2.5)
    for age, job_id in enumerate(["d", "c", "b", "a"]):
        _fake_job(store, job_id, age_days=age, size=1024 * 1024)
    assert store.cleanup(now=NOW) == ["a", "b"]
    assert _jobs(store) == {"c", "d"}


def test_cleanup_keeps_running_jobs_however_old(tmp_path: Path) -> None:
    store = _store(tmp_path, max_age_days=7)
    _fake_job(store, "running", age_days=30)
    _fake_job(store, "old", age_days=30)
    assert store.cleanup(now=NOW, keep={"running"}) == ["old"]
    assert _jobs(store) == {"running"}


def test_cleanup_by_size_skips_kept_jobs_but_counts_them(tmp_path: Path) -> None:
    store = _store(tmp_path, max_total_mb=2.5)
    for age, job_id in enumerate(["d", "c", "b", "a"]):
        _fake_job(store, job_id, age_days=age, size=1024 * 1024)
    assert store.cleanup(now=NOW, keep={"a"}) == ["b", "c"]
    assert _jobs(store) == {"a", "d"}


def test_cleanup_age_counts_from_the_newest_file(tmp_path: Path) -> None:
    store = _store(tmp_path, max_age_days=7)
    _fake_job(store, "rewritten", age_days=30)
    recent = store.root / "rewritten" / "variant-1.png"
    recent.write_bytes(b"png")
    os.utime(recent, (NOW - DAY, NOW - DAY))
    assert store.cleanup(now=NOW) == []


def test_cleanup_leaves_symlinked_folders_alone(tmp_path: Path) -> None:
    store = _store(tmp_path, max_age_days=0)
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir()
    (store.root / "link").symlink_to(outside)
    assert store.cleanup(now=NOW) == []
    assert outside.is_dir()


def test_cleanup_of_a_missing_root_removes_nothing(tmp_path: Path) -> None:
    assert _store(tmp_path).cleanup(now=NOW) == []


@pytest.mark.parametrize("name", ["recipe.json", "result.psd", "variant-1.png"])
def test_read_recipe_from_each_result_file(tmp_path: Path, name: str) -> None:
    result = make_result()
    _store(tmp_path).save(result, "job-1")
    assert read_recipe(tmp_path / "results" / "job-1" / name) == result.recipe


def test_read_recipe_tells_formats_apart_by_content(tmp_path: Path) -> None:
    result = make_result()
    saved = _store(tmp_path).save(result, "job-1")
    renamed = tmp_path / "recipe.txt"
    renamed.write_bytes(saved.psd.read_bytes())
    assert read_recipe(renamed) == result.recipe


def test_read_recipe_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a recipe"):
        read_recipe(path)


def test_a_save_that_fails_part_way_leaves_no_file_of_the_job(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.root / "job-1" / "recipe.json").mkdir(parents=True)  # the last file cannot replace a folder
    with pytest.raises(IsADirectoryError):
        store.save(make_result(), "job-1")
    assert not (store.root / "job-1").exists()


def test_saved_layers_are_each_variants_pixels_and_mask(tmp_path: Path) -> None:
    result = make_result()
    store = _store(tmp_path)
    store.save(result, "job-1")
    layers = store.saved_layers("job-1")
    assert layers is not None and len(layers) == len(result.layers)
    for (pixels, mask), layer in zip(layers, result.layers, strict=True):
        np.testing.assert_array_equal(pixels, layer.pixels)
        np.testing.assert_array_equal(mask, layer.mask)


def test_saved_layers_of_a_job_without_files_are_none(tmp_path: Path) -> None:
    assert _store(tmp_path).saved_layers("job-1") is None
