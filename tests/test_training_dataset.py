"""Reading a brand's folder for training: buckets at each image's aspect, captions, masks, and every bad set."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from tiny_datasets import brand_image, brand_set
from underpaint.core import ErrorCode, RequestError
from underpaint.core.errors import request_error_from
from underpaint.training.dataset import MIN_IMAGES, bucket_for, load_dataset
from underpaint.training.recipe import TrainingRecipe


def _code(folder: Path) -> ErrorCode:
    with pytest.raises(RequestError) as caught:
        load_dataset(folder, "brandx", 64)
    return caught.value.code


def test_an_empty_folder_is_an_empty_dataset(tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    assert _code(tmp_path / "set") == ErrorCode.EMPTY_DATASET


def test_a_missing_folder_is_an_empty_dataset(tmp_path: Path) -> None:
    assert _code(tmp_path / "nowhere") == ErrorCode.EMPTY_DATASET


def test_a_folder_of_corrupt_images_has_no_usable_images(tmp_path: Path) -> None:
    for index in range(5):
        (tmp_path / f"broken-{index}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    with pytest.raises(RequestError) as caught:
        load_dataset(tmp_path, "brandx", 64)
    assert caught.value.code == ErrorCode.NO_USABLE_IMAGES
    assert "broken-0.png: cannot be decoded" in caught.value.message


def test_one_image_is_too_few(tmp_path: Path) -> None:
    brand_image(0, (64, 64)).save(tmp_path / "only.png")
    with pytest.raises(RequestError) as caught:
        load_dataset(tmp_path, "brandx", 64)
    assert caught.value.code == ErrorCode.TOO_FEW_IMAGES
    assert f"at least {MIN_IMAGES}" in caught.value.message


def test_non_images_beside_the_images_are_listed_and_skipped(tmp_path: Path) -> None:
    brand_set(tmp_path, MIN_IMAGES)
    (tmp_path / "brief.pdf").write_bytes(b"%PDF-1.4 not a picture")
    (tmp_path / "fake.jpg").write_bytes(b"this is text")
    (tmp_path / "orphan.txt").write_text("a caption for nothing", encoding="utf-8")
    dataset = load_dataset(tmp_path, "brandx", 64)
    assert len(dataset.images) == MIN_IMAGES
    reasons = dict(dataset.skipped)
    assert set(reasons) == {"brief.pdf", "fake.jpg", "orphan.txt"}
    assert reasons["brief.pdf"].startswith("not an image")
    assert reasons["fake.jpg"].startswith("cannot be decoded")


def test_images_too_small_for_the_resolution_are_skipped(tmp_path: Path) -> None:
    brand_set(tmp_path, MIN_IMAGES)
    brand_image(0, (40, 40)).save(tmp_path / "thumb.png")
    dataset = load_dataset(tmp_path, "brandx", 256)
    assert "too small" in dict(dataset.skipped)["thumb.png"]


def test_a_wide_image_keeps_its_aspect_in_its_bucket(tmp_path: Path) -> None:
    width, height = bucket_for(1600, 800, 512)
    assert width * height <= 512 * 512
    assert abs(width / height - 2.0) < 0.1
    assert bucket_for(800, 800, 512) == (512, 512)


def test_images_of_other_shapes_train_in_their_own_buckets(tmp_path: Path) -> None:
    dataset = load_dataset(brand_set(tmp_path, 4), "brandx", 64)
    buckets = {image.name: image.bucket for image in dataset.images}
    assert buckets["brand-1.png"] == (64, 64)
    assert buckets["brand-3.png"][0] > 1.7 * buckets["brand-3.png"][1]  # 128x64 stays wide
    assert buckets["brand-2.png"][1] > buckets["brand-2.png"][0]  # 64x96 stays tall
    assert len(dataset.buckets()) == 4


def test_captions_come_from_sidecars_else_the_trigger_and_file_name(tmp_path: Path) -> None:
    dataset = load_dataset(brand_set(tmp_path, 4), "brandx", 64)
    captions = {image.name: image.caption for image in dataset.images}
    assert captions["brand-0.png"] == "brandx, a blue mark on orange"
    assert captions["brand-2.png"] == "brandx, brand 2"


def test_a_mask_weights_its_image_and_a_mask_of_another_size_is_listed(tmp_path: Path) -> None:
    brand_set(tmp_path, 4)
    mask = Image.new("L", (96, 64), 0)
    mask.paste(255, (24, 16, 72, 48))
    mask.save(tmp_path / "brand-0.mask.png")
    Image.new("L", (10, 10), 255).save(tmp_path / "brand-1.mask.png")
    dataset = load_dataset(tmp_path, "brandx", 64)
    masks = {image.name: image.mask for image in dataset.images}
    weights = masks["brand-0.png"]
    assert weights is not None and weights.shape == dataset.images[0].pixels.shape[:2]
    assert weights[0, 0] == 0 and weights[weights.shape[0] // 2, weights.shape[1] // 2] == 1
    assert masks["brand-1.png"] is None
    assert dict(dataset.skipped)["brand-1.mask.png"].startswith("mask not used")


def test_the_dataset_hash_follows_the_content(tmp_path: Path) -> None:
    first = load_dataset(brand_set(tmp_path / "a", 4), "brandx", 64).sha256
    assert load_dataset(brand_set(tmp_path / "b", 4), "brandx", 64).sha256 == first
    (tmp_path / "b" / "brand-0.txt").write_text("another caption", encoding="utf-8")
    assert load_dataset(tmp_path / "b", "brandx", 64).sha256 != first


def test_a_resolution_off_the_latent_grid_is_bad_training() -> None:
    with pytest.raises(ValidationError) as caught:
        TrainingRecipe(name="brandx", resolution=100)
    error = request_error_from(caught.value)
    assert error.code == ErrorCode.BAD_TRAINING and "multiple of 8" in error.message
