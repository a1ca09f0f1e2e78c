"""The Python API: the one job path called in-process, every mode, any engine and model.

    import underpaint
    result = underpaint.fill("photo.jpg", "mask.png", variants=3, prompt="a red kite")
    changed = underpaint.edit("photo.jpg", "make the jacket red", model="kontext")   # an instruction edit
    underpaint.save_psd(result, "out.psd")
    again = underpaint.replay("out.psd")          # the same pixels, from the file alone
    guided = underpaint.fill("photo.jpg", "mask.png", controls=[underpaint.Control("canny", "source")],
                             references=[underpaint.Reference("look.png", weight=0.6)], style="brand")
    looks = underpaint.fill_set(["a.jpg", "b.jpg"], "mask.png", seed=7)   # one recipe, one set id

Keyword arguments are Params fields (`engine`, `model`, `steps`, `seed`,
`loras`, `style`, ...); only those given are set, so a style fills the rest.
Requests go through the same checks as the agent's front doors, so a bad one
raises RequestError (its `code` is the protocol's) before any work starts; bad
parameters raise ParamError, a ValueError naming the field (its `code` too).
The module-level functions share one Underpaint built from the user's settings
on first use, so engines and loaded models stay warm between calls.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from underpaint.config import Settings, load_settings
from underpaint.core import ErrorCode, JobSpec, Margins, Mode, Params, Rect, Size
from underpaint.core.conditioning import ControlRef, ReferenceRef
from underpaint.core.errors import request_error_from
from underpaint.engines.base import CancelToken, Engine, ProgressSink
from underpaint.imaging.codec import ImageLike, load_image
from underpaint.jobs.intake import JobRequest
from underpaint.jobs.pipeline import run_pipeline
from underpaint.jobs.runtime import build_engines, credentials_for, intake_for
from underpaint.results.credentials import SIDECAR_SUFFIX, Credentials, result_provenance, sidecar_manifest
from underpaint.results.layered import LayeredResult
from underpaint.results.psd import write_psd
from underpaint.results.replay import load_replay
from underpaint.wire.messages import SetId


class ParamError(ValueError):
    """A parameter outside what the protocol allows: the message names it, `code` is the protocol's code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Control:
    """A control (ControlNet) of a job: its `kind`, its image (a path, Pillow image or array covering the
    output; "source" derives it from the job's own image) and any other ControlRef setting (strength,
    start, end, model, preprocess, low_threshold, high_threshold).

        underpaint.Control("canny", "source", strength=0.8, end=0.6)
        underpaint.Control("scribble", "sketch.png", preprocess=False)
    """

    def __init__(self, kind: str, image: ImageLike = "source", **settings: Any) -> None:
        derived = isinstance(image, str) and image == "source"
        # Checked as a job's control, so a bad setting raises with the code the agent gives it.
        fields = {"kind": kind, "image": "source" if derived else "sent"} | settings
        self.ref: ControlRef = _params({"controls": [fields]}).controls[0]
        self.image: ImageLike | None = None if derived else image


class Reference:
    """A reference image (IP-Adapter) of a job: the image (a path, Pillow image or array, any size) and
    any other ReferenceRef setting (weight, focus, model).

        underpaint.Reference("look.png", weight=0.6, focus="style")
    """

    def __init__(self, image: ImageLike, **settings: Any) -> None:
        self.ref: ReferenceRef = _params({"references": [settings]}).references[0]
        self.image = image


Guides = tuple[list[ImageLike | None], list[ImageLike]]
"""A job's control images (None: derived from the source) and reference images, as given."""


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
        self.settings = settings

    @functools.cached_property
    def credentials(self) -> Credentials:
        """What the files this Underpaint saves say of how they were made, and who signs it (made on first save,
        as the agent makes its own at start)."""
        return credentials_for(self.settings)

    def save_psd(self, result: LayeredResult, path: str | Path) -> Path:
        """Write `result` as a layered PSD at `path`, with the disclosure and, beside it, its C2PA manifest as the
        settings ask."""
        path = Path(path)
        write_psd(result, path, self.credentials)
        manifest = sidecar_manifest(path, result_provenance(result, 0, path.name), self.credentials)
        if manifest is not None:
            path.with_suffix(SIDECAR_SUFFIX).write_bytes(manifest)
        return path

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

    def edit(self, image: ImageLike, instruction: str, mask: ImageLike | None = None, **params: Any) -> LayeredResult:
        """Apply `instruction` ("make the jacket red") to `image`, inside `mask` or all of it, as far as `strength`,
        on a model that edits by instruction (FLUX.1 Kontext)."""
        return self.run(Mode.EDIT, image, mask, prompt=instruction, **params)

    def upscale(self, image: ImageLike, factor: float | None = None, size: Size | tuple[int, int] | None = None,
                upscaler: str | None = None, refine: float = 0.0, **params: Any) -> LayeredResult:
        """`image` made `factor` times larger on each side (or `size`, keeping its aspect ratio) by the registered
        super-resolution model `upscaler` (none: Lanczos with a light unsharp mask), then re-detailed in tiles
        at strength `refine` when above 0."""
        target = None if size is None else _as_size(size)
        upscale = {"factor": factor, "size": target, "upscaler": upscaler, "refine": refine}
        return self.run(Mode.UPSCALE, image, upscale=upscale, **params)

    def replay(self, path: str | Path, image: ImageLike | None = None, mask: ImageLike | None = None,
               progress: ProgressSink = _quiet, control_images: Sequence[ImageLike] = (),
               reference_images: Sequence[ImageLike] = ()) -> LayeredResult:
        """Re-make the result file at `path` (PSD, variant PNG or recipe.json) from its recipe; the inputs
        given stand in for those the file lacks (a recipe.json holds none)."""
        replayed = load_replay(Path(path), image, mask, control_images, reference_images)
        guides = replayed.guides
        request = JobRequest(_job_id(), replayed.mode, replayed.params, replayed.document, replayed.region,
                             _size(replayed.image), _size(replayed.mask),
                             tuple(_size(array) for array in guides.controls),
                             tuple(Size(width=a.shape[1], height=a.shape[0]) for a in guides.references))
        spec = self.intake.spec(request, replayed.image, replayed.mask, "api", "python", (), guides.controls,
                                guides.references)
        return self._execute(spec, progress, None)

    def run(self, mode: Mode, image: ImageLike | None = None, mask: ImageLike | None = None, *,
            size: Size | None = None, controls: Sequence[Control] | None = None,
            references: Sequence[Reference] | None = None, set_id: str | None = None,
            progress: ProgressSink = _quiet, cancel: CancelToken | None = None, **params: Any) -> LayeredResult:
        """One job of `mode` on the whole of `image` (or a new canvas of `size` for Generate), steered by
        `controls` and `references` (None: none, or the style's), labelled as a member of `set_id`."""
        checked, guides = _guided(params, controls, references)
        spec = self._spec(mode, image, mask, size, checked, guides, _set(set_id))
        return self._execute(spec, progress, cancel)

    def run_set(self, mode: Mode, images: Sequence[ImageLike] = (),
                masks: ImageLike | Sequence[ImageLike] | None = None, sizes: Sequence[Size | tuple[int, int]] = (),
                *, controls: Sequence[Control] | None = None, references: Sequence[Reference] | None = None,
                set_id: str | None = None, progress: ProgressSink = _quiet, **params: Any) -> list[LayeredResult]:
        """A consistent set: one job per image (or, for generate, per size) with the same params, controls,
        references and seed, sharing `set_id` (a new one unless given). `masks` is one mask for every image
        or one per image. Every target is checked before any runs, so a bad one refuses the whole set."""
        checked, guides = _guided(params, controls, references)
        shared = _set(set_id) or f"set-{uuid.uuid4().hex[:12]}"
        if mode is Mode.GENERATE:
            targets: list[tuple[ImageLike | None, ImageLike | None, Size | None]] = [
                (None, None, _as_size(size)) for size in sizes]
        else:
            targets = [(image, mask, None) for image, mask in zip(images, _per_image(masks, len(images)), strict=True)]
        specs = [self._spec(mode, image, mask, size, checked, guides, shared) for image, mask, size in targets]
        return [self._execute(spec, progress, None) for spec in specs]

    def _spec(self, mode: Mode, image: ImageLike | None, mask: ImageLike | None, size: Size | None, params: Params,
              guides: Guides, set_id: str | None) -> JobSpec:
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
        controls = [None if image is None else load_image(image, 4)[0] for image in guides[0]]
        references = [load_image(image, 4)[0] for image in guides[1]]
        request = JobRequest(_job_id(), mode, params, size, Rect(x=0, y=0, width=size.width, height=size.height),
                             _size(pixels), _size(selected), tuple(_size(array) for array in controls),
                             tuple(Size(width=a.shape[1], height=a.shape[0]) for a in references), set_id)
        return self.intake.spec(request, pixels, selected, "api", "python", notes, controls, references)

    def _execute(self, spec: JobSpec, progress: ProgressSink, cancel: CancelToken | None) -> LayeredResult:
        engine = self.engines[spec.params.engine or self.intake.default_engine]
        return run_pipeline(spec, engine, progress, cancel or CancelToken(), upscalers=self.intake.upscalers)


def _guided(params: Mapping[str, Any], controls: Sequence[Control] | None,
            references: Sequence[Reference] | None) -> tuple[Params, Guides]:
    """The job's Params with its controls' and references' refs (set only when given, so a style's apply
    otherwise), and their images."""
    values = dict(params)
    if controls is not None:
        values["controls"] = tuple(control.ref for control in controls)
    if references is not None:
        values["references"] = tuple(reference.ref for reference in references)
    guides = [control.image for control in controls or ()], [reference.image for reference in references or ()]
    return _params(values), guides


def _job_id() -> str:
    return f"py-{uuid.uuid4().hex[:12]}"


def _size(array: np.ndarray | None) -> Size | None:
    return None if array is None else Size(width=array.shape[1], height=array.shape[0])


def _params(values: Mapping[str, Any]) -> Params:
    try:
        return Params.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ParamError(request_error_from(exc).code, f"{where}: {error['msg']}" if where else error["msg"]) from None


def _set(set_id: str | None) -> str | None:
    try:
        return None if set_id is None else TypeAdapter(SetId).validate_python(set_id)
    except ValidationError:
        raise ParamError(ErrorCode.BAD_SET, f"set_id: {set_id!r} is not a set id: up to 64 letters, digits, '.', "
                                            "'_' or '-', starting with a letter or digit.") from None


def _as_size(size: Size | tuple[int, int]) -> Size:
    return size if isinstance(size, Size) else Size(width=size[0], height=size[1])


def _per_image(masks: ImageLike | Sequence[ImageLike] | None, count: int) -> list[ImageLike | None]:
    """One mask per image: none, the one given for all, or the ones given in order."""
    if masks is None:
        return [None] * count
    if isinstance(masks, str | Path | Image.Image | np.ndarray):
        return [masks] * count
    if len(masks) != count:
        raise ValueError(f"Give one mask for every image or one per image, not {len(masks)} for {count} images.")
    return list(masks)


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


def fill_set(images: Sequence[ImageLike], masks: ImageLike | Sequence[ImageLike],
             **params: Any) -> list[LayeredResult]:
    """Fill each image's selection with one recipe, as a consistent set (see Underpaint.run_set)."""
    return default().run_set(Mode.FILL, images, masks, **params)


def generate_set(sizes: Sequence[Size | tuple[int, int]], **params: Any) -> list[LayeredResult]:
    """One brief at several sizes, as a consistent set (see Underpaint.run_set)."""
    return default().run_set(Mode.GENERATE, sizes=sizes, **params)


def run_set(mode: Mode | str, images: Sequence[ImageLike] = (), masks: ImageLike | Sequence[ImageLike] | None = None,
            sizes: Sequence[Size | tuple[int, int]] = (), **params: Any) -> list[LayeredResult]:
    return default().run_set(Mode(mode), images, masks, sizes, **params)


def refine(image: ImageLike, mask: ImageLike | None = None, **params: Any) -> LayeredResult:
    return default().refine(image, mask, **params)


def edit(image: ImageLike, instruction: str, mask: ImageLike | None = None, **params: Any) -> LayeredResult:
    return default().edit(image, instruction, mask, **params)


def upscale(image: ImageLike, factor: float | None = None, size: Size | tuple[int, int] | None = None,
            upscaler: str | None = None, refine: float = 0.0, **params: Any) -> LayeredResult:
    return default().upscale(image, factor, size, upscaler, refine, **params)


def replay(path: str | Path, image: ImageLike | None = None, mask: ImageLike | None = None) -> LayeredResult:
    return default().replay(path, image, mask)


def save_psd(result: LayeredResult, path: str | Path) -> Path:
    return default().save_psd(result, path)
