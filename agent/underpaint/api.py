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

from underpaint.engines.base import CancelToken, Engine, ProgressSink
from underpaint.engines.registry import build_engines
from underpaint.imaging.codec import ImageLike, load_image_and_mask
from underpaint.jobs.intake import spec_from_arrays
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.spec import JobSpec, Mode, Params, Rect, Size
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd


def _quiet(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    del variant, step, steps, preview


def run(spec: JobSpec, engine: Engine | None = None, progress: ProgressSink = _quiet,
        cancel: CancelToken | None = None) -> LayeredResult:
    engine = engine or build_engines("classic")[spec.params.engine or "classic"]
    return run_pipeline(spec, engine, progress, cancel or CancelToken())


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
