"""A training set from a folder: every image at its own aspect, its caption, its optional mask.

Folder layout (docs/training.md): `NAME.png|jpg|webp|...` images, an optional `NAME.txt` caption
beside each, an optional `NAME.mask.png` (white = the subject the loss learns from). Each image goes
into the aspect-ratio bucket closest to its shape (about resolution x resolution pixels, sides in
steps of RESOLUTION_STEP), scaled to cover it and centre-cropped only by the sliver the bucket's
rounding leaves: a wide banner stays wide, never a square crop of its middle. Every file that cannot
be used is listed with the reason and skipped; the set fails only when too little is left.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from underpaint.core import ErrorCode, RequestError
from underpaint.imaging.codec import to_array
from underpaint.training.recipe import RESOLUTION_STEP

MIN_IMAGES = 4
"""Fewest usable images a training accepts: with fewer, a LoRA learns the pictures, not the look."""
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
MASK_SUFFIX = ".mask.png"
CAPTION_SUFFIX = ".txt"
CONFIG_FILES = frozenset({"train.json"})
"""Files of the folder that belong to the job, not the set (the hot folder's order)."""
MAX_CAPTION_CHARS = 1000
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
"""Largest image read: beyond it Pillow's decompression-bomb guard refuses, and a LoRA learns nothing more."""
MIN_SIDE_FRACTION = 0.25
"""An image whose short side is under this fraction of the resolution would be blown up into mush."""


@dataclass(frozen=True, eq=False)
class TrainingImage:
    name: str
    pixels: np.ndarray
    """RGB8 at its bucket's size (H, W, 3)."""
    caption: str
    mask: np.ndarray | None
    """float32 (H, W) in 0..1: how much each pixel counts in the loss; None counts all alike."""

    @property
    def bucket(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]


@dataclass(frozen=True)
class Dataset:
    images: tuple[TrainingImage, ...]
    skipped: tuple[tuple[str, str], ...]
    """(file name, why it was left out), in name order."""
    sha256: str
    """Of every image, mask and caption used, by name: the same folder hashes the same."""

    def buckets(self) -> dict[tuple[int, int], list[int]]:
        """Image indices by bucket size (width, height)."""
        out: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(self.images):
            out.setdefault(image.bucket, []).append(index)
        return out


def bucket_for(width: int, height: int, resolution: int) -> tuple[int, int]:
    """The (width, height) in steps of RESOLUTION_STEP, at most resolution^2 pixels, closest to the image's aspect."""
    aspect = width / height
    best: tuple[float, tuple[int, int]] | None = None
    step = RESOLUTION_STEP
    for w in range(step, 4 * resolution + 1, step):
        h = (resolution * resolution // w) // step * step
        if h < step or max(w, h) > 4 * min(w, h):
            continue
        distance = abs(np.log((w / h) / aspect))
        if best is None or distance < best[0] - 1e-9:
            best = (distance, (w, h))
    assert best is not None
    return best[1]


def load_dataset(folder: Path, trigger: str, resolution: int, min_images: int = MIN_IMAGES) -> Dataset:
    """The usable images of `folder` at `resolution`; empty_dataset, no_usable_images or too_few_images."""
    if not folder.is_dir():
        raise RequestError(ErrorCode.EMPTY_DATASET, f"The training folder {folder} does not exist.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name not in CONFIG_FILES)
    if not files:
        raise RequestError(ErrorCode.EMPTY_DATASET, f"The training folder {folder.name} holds no files; put the "
                                                    f"brand's images in it (at least {min_images}).")
    names = {p.name for p in files}
    images: list[TrainingImage] = []
    skipped: list[tuple[str, str]] = []
    digest = hashlib.sha256()
    for path in files:
        if path.name.endswith(MASK_SUFFIX) or path.suffix.lower() == CAPTION_SUFFIX:
            owner = path.name.removesuffix(MASK_SUFFIX) if path.name.endswith(MASK_SUFFIX) else path.stem
            if not any(other.startswith(owner + ".") and _is_image_name(other) for other in names):
                skipped.append((path.name, "no image of that name beside it"))
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((path.name, f"not an image ({path.suffix or 'no suffix'}); "
                                       f"images are {', '.join(sorted(IMAGE_SUFFIXES))}"))
            continue
        try:
            image = _read_image(path, folder, trigger, resolution, skipped)
        except _Unusable as exc:
            skipped.append((path.name, str(exc)))
            continue
        images.append(image)
        digest.update(path.name.encode() + b"\0" + image.caption.encode() + b"\0")
        digest.update(path.read_bytes())
        if (mask_path := folder / (path.stem + MASK_SUFFIX)).is_file() and image.mask is not None:
            digest.update(mask_path.read_bytes())
    if not images:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:10])
        raise RequestError(ErrorCode.NO_USABLE_IMAGES, f"None of the {len(files)} files in {folder.name} is a "
                                                       f"usable image ({reasons}).")
    if len(images) < min_images:
        raise RequestError(ErrorCode.TOO_FEW_IMAGES,
                           f"{folder.name} has {len(images)} usable image{'s' if len(images) > 1 else ''}; a "
                           f"training needs at least {min_images} (10-50 of the brand's own images work best).")
    return Dataset(tuple(images), tuple(skipped), digest.hexdigest())


class _Unusable(Exception):
    pass


def _is_image_name(name: str) -> bool:
    return not name.endswith(MASK_SUFFIX) and Path(name).suffix.lower() in IMAGE_SUFFIXES


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise _Unusable(f"{image.width}x{image.height} is larger than this agent reads")
            image.load()
            return ImageOps.exif_transpose(image)
    except _Unusable:
        raise
    except Exception as exc:
        raise _Unusable(f"cannot be decoded ({exc})") from None


def _read_image(path: Path, folder: Path, trigger: str, resolution: int,
                skipped: list[tuple[str, str]]) -> TrainingImage:
    image = _open(path)
    if min(image.size) < resolution * MIN_SIDE_FRACTION:
        raise _Unusable(f"{image.width}x{image.height} is too small for training at {resolution} px (the short "
                        f"side needs {int(resolution * MIN_SIDE_FRACTION)} px)")
    bucket = bucket_for(image.width, image.height, resolution)
    rgba = Image.fromarray(to_array(image, 4)[0])
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))  # transparent logos train on white, as a designer sees them
    pixels = np.asarray(ImageOps.fit(flat, bucket, Image.Resampling.LANCZOS))
    mask = None
    if (mask_path := folder / (path.stem + MASK_SUFFIX)).is_file():
        try:
            mask_image = _open(mask_path)
            if mask_image.size != image.size:
                raise _Unusable(f"is {mask_image.width}x{mask_image.height}, its image {image.width}x{image.height}")
            fitted = ImageOps.fit(mask_image.convert("L"), bucket, Image.Resampling.BILINEAR)
            mask = np.asarray(fitted, dtype=np.float32) / 255.0
            if mask.max() <= 0:
                raise _Unusable("is all black: it keeps nothing of its image")
        except _Unusable as exc:
            skipped.append((mask_path.name, f"mask not used: {exc}"))
            mask = None
    return TrainingImage(path.name, pixels, _caption(path, trigger), mask)


def _caption(path: Path, trigger: str) -> str:
    """The sidecar caption, led by the trigger word when it lacks it; else the trigger and the file name."""
    sidecar = path.with_suffix(CAPTION_SUFFIX)
    if sidecar.is_file():
        try:
            text = " ".join(sidecar.read_text(encoding="utf-8", errors="replace").split())[:MAX_CAPTION_CHARS]
        except OSError:
            text = ""
        if text:
            return text if trigger.lower() in text.lower() else f"{trigger}, {text}"
    words = " ".join(path.stem.replace("_", " ").replace("-", " ").split())
    return f"{trigger}, {words}" if words else trigger
