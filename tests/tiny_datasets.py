"""Brand image sets drawn at test time (flat brand colours, a mark and a band, at several aspects, as PNG files
in a folder the way a designer hands them over), and the agent the training tests run them through."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from conftest import make_settings
from underpaint.config import Settings
from underpaint.jobs.manager import JobManager
from underpaint.wire.messages import Cancelled, Done, Error, JobEvent

BRAND = (236, 88, 40)
MARK = (28, 44, 160)
SIZES = ((96, 64), (64, 64), (64, 96), (128, 64), (80, 64), (64, 80))


def brand_image(index: int, size: tuple[int, int]) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, BRAND)
    draw = ImageDraw.Draw(image)
    side = min(width, height) // 2
    left, top = (width - side) // 2 + (index % 3 - 1) * 4, (height - side) // 2
    shape = draw.ellipse if index % 2 else draw.rectangle
    shape((left, top, left + side, top + side), fill=MARK)
    draw.rectangle((0, height - height // 6, width, height), fill=(250, 240, 220))
    return image


def brand_set(folder: Path, count: int = 4) -> Path:
    """`count` brand images named brand-0.png ..., one of them captioned by a sidecar .txt."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        brand_image(index, SIZES[index % len(SIZES)]).save(folder / f"brand-{index}.png")
    (folder / "brand-0.txt").write_text("a blue mark on orange\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """The tiny model's kernels are too small to split: on a busy 2-core machine one thread is several times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def training_settings(tmp_path: Path, registry_path: Path) -> Settings:
    """An agent over a copy of the tiny models' registry (the LoRA it registers stays out of the shared one)."""
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    models = shutil.copyfile(registry_path, tmp_path / "data" / "models.json")
    return make_settings(tmp_path, models_file=models, model="sd15", device="cpu")


async def follow(manager: JobManager, job_id: str, timeout: float = 180) -> list[JobEvent]:
    """Every event of `job_id` until it ends."""
    seen: list[JobEvent] = []
    ended = asyncio.Event()

    def subscriber(event: object) -> None:
        message = event.message  # type: ignore[attr-defined]
        seen.append(message)
        if isinstance(message, Done | Error | Cancelled):
            ended.set()

    manager.attach(job_id, 0, subscriber)
    await asyncio.wait_for(ended.wait(), timeout)
    return seen
