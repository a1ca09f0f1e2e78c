"""The Python API: the one job path called in-process.

    import underpaint
    result = underpaint.fill("photo.jpg", "mask.png", variants=3)
    underpaint.save_psd(result, "out.psd")
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from underpaint.engines.base import CancelToken, Engine, ProgressSink
from underpaint.engines.registry import build_engines
from underpaint.imaging.codec import to_array
from underpaint.jobs.intake import spec_from_arrays
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.spec import JobSpec, Mode, Params, Rect, Size
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd

ImageLike = str | Path | Image.Image | np.ndarray


def load_image(image: ImageLike, channels: int) -> tuple[np.ndarray, list[str]]:
    """RGBA8 (channels=4) or Gray8 (channels=1) from a path, a Pillow image or an array."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if isinstance(image, str | Path):
        with Image.open(image) as opened:
            # to_array loads it, after checking the undecoded bit depth (16-bit RGB is read as 8 silently).
            return to_array(opened, channels)
    return to_array(image, channels)


def _quiet(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    del variant, step, steps, preview


def run(spec: JobSpec, engine: Engine | None = None, progress: ProgressSink = _quiet,
        cancel: CancelToken | None = None) -> LayeredResult:
    engine = engine or build_engines("classic")[spec.params.engine or "classic"]
    return run_pipeline(spec, engine, progress, cancel or CancelToken())


def load_image_and_mask(image: ImageLike, mask: ImageLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """RGBA8 image and Gray8 mask of the same size, with notes on any conversion."""
    pixels, notes = load_image(image, 4)
    selection, mask_notes = load_image(mask, 1)
    if selection.shape != pixels.shape[:2]:
        raise ValueError(f"The mask is {selection.shape[1]}x{selection.shape[0]} but the image is "
                         f"{pixels.shape[1]}x{pixels.shape[0]}; they must match.")
    return pixels, selection, notes + mask_notes


def make_spec(mode: Mode, image: ImageLike, mask: ImageLike, params: Params) -> JobSpec:
    pixels, selection, notes = load_image_and_mask(image, mask)
    height, width = selection.shape
    return spec_from_arrays(
        f"py-{uuid.uuid4().hex[:12]}", mode, params, Size(width=width, height=height),
        Rect(x=0, y=0, width=width, height=height), pixels, selection, "api", "python", notes,
    )


def fill(image: ImageLike, mask: ImageLike, engine: Engine | None = None, **params: Any) -> LayeredResult:
    """Fill the selection `mask` of `image`; keyword arguments are Params fields."""
    return run(make_spec(Mode.FILL, image, mask, Params(**params)), engine)


def remove(image: ImageLike, mask: ImageLike, engine: Engine | None = None, **params: Any) -> LayeredResult:
    """Remove what `mask` selects, filling it from its surroundings without a prompt."""
    return run(make_spec(Mode.REMOVE, image, mask, Params(**params)), engine)


def save_psd(result: LayeredResult, path: str | Path) -> Path:
    path = Path(path)
    write_psd(result, path)
    return path
