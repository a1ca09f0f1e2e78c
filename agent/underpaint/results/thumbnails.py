"""Small WebP pictures of a job's results, for pages that show many of them at once.

A gallery page shows dozens of variants; decoding their PSDs or full-size PNGs
for it would take seconds. Each variant gets a thumbnail when its files are
written (`write_thumbnail`); jobs saved before thumbnails existed get theirs
from the variant PNG the first time one is asked for (`thumbnail_from_png`),
and keep it. The source a job was run on is kept the same way, on demand, at
full size (`source_from_png`), for comparing a variant with what it replaced.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from underpaint.results.png import read_png_replay
from underpaint.results.psd import write_atomically

THUMBNAIL_SIDE = 320
"""Long side in pixels: sharp on a HiDPI screen in a gallery card of about 160 px."""
SOURCE_NAME = "source.png"
_QUALITY = 80


def thumbnail_name(index: int) -> str:
    return f"thumb-{index + 1}.webp"


def thumbnail_webp(rgba: np.ndarray) -> bytes:
    """`rgba` shrunk to fit THUMBNAIL_SIDE (never enlarged) as lossy WebP, alpha kept."""
    image = Image.fromarray(rgba, "RGBA")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=_QUALITY, method=4)
    return out.getvalue()


def write_thumbnail(rgba: np.ndarray, path: Path) -> None:
    data = thumbnail_webp(rgba)
    write_atomically(path, lambda file: file.write(data))


def thumbnail_from_png(variant_png: Path, path: Path) -> bool:
    """The thumbnail of a variant PNG (any PNG) at `path`; True, as every PNG has one (see `source_from_png`)."""
    with Image.open(variant_png) as image:
        rgba = np.asarray(image.convert("RGBA"))
    write_thumbnail(rgba, path)
    return True


def source_from_png(variant_png: Path, path: Path) -> bool:
    """The source the variant was made on, as a PNG at `path`; False when the file holds none
    (a Generate job, or a PNG an editor rewrote)."""
    _, source, _ = read_png_replay(variant_png)
    if source is None:
        return False
    out = io.BytesIO()
    Image.fromarray(source, "RGBA").save(out, format="PNG", compress_level=1)
    data = out.getvalue()
    write_atomically(path, lambda file: file.write(data))
    return True
