"""The Python API: the one job path called in-process, every mode, any engine and model.

    import underpaint
    result = underpaint.fill("photo.jpg", "mask.png", variants=3, prompt="a red kite")
    underpaint.save_psd(result, "out.psd")
    again = underpaint.replay("out.psd")          # the same pixels, from the file alone

Keyword arguments are Params fields (`engine`, `model`, `steps`, `seed`, ...).
Requests go through the same checks as the agent's front doors, so a bad one
raises RequestError (its `code` is the protocol's) before any work starts; bad
parameters raise ValueError naming the field. The module-level functions share
one Underpaint built from the user's settings on first use, so engines and
loaded models stay warm between calls.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from underpaint.config import Settings, load_settings
from underpaint.core import Margins, Mode, Params, Rect, Size
from underpaint.engines.base import CancelToken, Engine, ProgressSink
from underpaint.imaging.codec import ImageLike, load_image
from underpaint.jobs.intake import JobRequest
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.runtime import build_engines, intake_for
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd
from underpaint.results.replay import load_replay


def _quiet(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    del variant, step, steps, preview


class Underpaint:
    """The job path in-process, over engines built once (from `settings`, or the ones given)."""

    def __init__(self, settings: Settings | None = None, engines: Mapping[str, Engine] | None = None) -> None:
        settings = settings or load_settings().settings
        if engines is not None and settings.engine not in engines:
            settings = settings.model_copy(update={"engine": next(iter(engines))})
        self.engines = dict(engines) if engines is not None else build_engines(settings)
        self.intake = intake_for(settings, self.engines)

    def fill(self, image: ImageLike, mask: ImageLike, **params: Any) -> LayeredResult:
        """Fill the selection `mask` of `image` from the prompt."""
        return self.run(Mode.FILL, image, mask, **params)

    def remove(self, image: ImageLike, mask: ImageLike, **params: Any) -> LayeredResult:
        """Remove what `mask` selects, continuing its surroundings."""
        return self.run(Mode.REMOVE, image, mask, **params)

    def expand(self, image: ImageLike, margins: Margins | tuple[int, int, int, int], mask: ImageLike | None = None,
               **params: Any) -> LayeredResult:
        """Grow the canvas by `margins` (left, top, right, bottom) and fill the new strips."""
        if not isinstance(margins, Margins):
            left, top, right, bottom = margins
            margins = Margins(left=left, top=top, right=right, bottom=bottom)
        return self.run(Mode.EXPAND, image, mask, expand=margins, **params)

    def generate(self, size: Size | tuple[int, int], **params: Any) -> LayeredResult:
        """A new image of `size` (width, height) from the prompt."""
        if not isinstance(size, Size):
            size = Size(width=size[0], height=size[1])
        return self.run(Mode.GENERATE, size=size, **params)

    def refine(self, image: ImageLike, mask: ImageLike | None = None, **params: Any) -> LayeredResult:
        """Rework `image` (inside `mask`, or all of it) at `strength`."""
        return self.run(Mode.REFINE, image, mask, **params)

    def replay(self, path: str | Path, image: ImageLike | None = None, mask: ImageLike | None = None,
               progress: ProgressSink = _quiet) -> LayeredResult:
        """Re-make the result file at `path` (PSD, variant PNG or recipe.json) from its recipe."""
        replayed = load_replay(Path(path), image, mask)
        request = JobRequest(_job_id(), replayed.mode, replayed.params, replayed.document, replayed.region,
                             _size(replayed.image), _size(replayed.mask))
        return self._run(request, replayed.image, replayed.mask, [], progress)

    def run(self, mode: Mode, image: ImageLike | None = None, mask: ImageLike | None = None, *,
            size: Size | None = None, progress: ProgressSink = _quiet, cancel: CancelToken | None = None,
            **params: Any) -> LayeredResult:
        """One job of `mode` on the whole of `image` (or a new canvas of `size` for Generate)."""
        checked = _params(params)
        notes: list[str] = []
        pixels = selected = None
        if image is not None:
            pixels, found = load_image(image, 4)
            notes += found
        if mask is not None:
            selected, found = load_image(mask, 1)
            notes += found
        if pixels is not None:
            size = Size(width=pixels.shape[1], height=pixels.shape[0])
        if size is None:
            raise ValueError(f"A {mode} job needs an image (or, for generate, a size).")
        request = JobRequest(_job_id(), mode, checked, size, Rect(x=0, y=0, width=size.width, height=size.height),
                             _size(pixels), _size(selected))
        return self._run(request, pixels, selected, notes, progress, cancel)

    def _run(self, request: JobRequest, image: np.ndarray | None, mask: np.ndarray | None, notes: list[str],
             progress: ProgressSink, cancel: CancelToken | None = None) -> LayeredResult:
        spec = self.intake.spec(request, image, mask, "api", "python", notes)
        engine = self.engines[spec.params.engine or self.intake.default_engine]
        return run_pipeline(spec, engine, progress, cancel or CancelToken())


def _job_id() -> str:
    return f"py-{uuid.uuid4().hex[:12]}"


def _size(array: np.ndarray | None) -> Size | None:
    return None if array is None else Size(width=array.shape[1], height=array.shape[0])


def _params(values: Mapping[str, Any]) -> Params:
    try:
        return Params(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{where}: {error['msg']}") from None


@functools.cache
def default() -> Underpaint:
    """The Underpaint the module-level functions share, built from the user's settings on first use."""
    return Underpaint()


def fill(image: ImageLike, mask: ImageLike, **params: Any) -> LayeredResult:
    return default().fill(image, mask, **params)


def remove(image: ImageLike, mask: ImageLike, **params: Any) -> LayeredResult:
    return default().remove(image, mask, **params)


def expand(image: ImageLike, margins: Margins | tuple[int, int, int, int], mask: ImageLike | None = None,
           **params: Any) -> LayeredResult:
    return default().expand(image, margins, mask, **params)


def generate(size: Size | tuple[int, int], **params: Any) -> LayeredResult:
    return default().generate(size, **params)


def refine(image: ImageLike, mask: ImageLike | None = None, **params: Any) -> LayeredResult:
    return default().refine(image, mask, **params)


def replay(path: str | Path, image: ImageLike | None = None, mask: ImageLike | None = None) -> LayeredResult:
    return default().replay(path, image, mask)


def save_psd(result: LayeredResult, path: str | Path) -> Path:
    path = Path(path)
    write_psd(result, path)
    return path
