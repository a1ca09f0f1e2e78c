"""From a claimed job's files to a JobSpec, through jobs.intake like every front door.

A job is an image, optionally its mask (`NAME.mask.png`) and a recipe sidecar
(`NAME.json`), or a folder holding these. The sidecar uses the protocol's
fields: `mode`, `params` (the Params model, controls, references and style
included) and paths relative to the sidecar, which must stay inside the hot
folder: `mask`, `control_images` (one per `params.controls`, null for a
control derived from the source) and `reference_images` (one per
`params.references`), and `delivery`, the delivery presets the finished
variants are also written as (into out/<name>/delivery/). A `recipe.json`
written by any Underpaint result is accepted as a sidecar too: its engine,
model, mode and params are reused.
The job's sidecar is the top of a stack of recipe files: `DIR/defaults.json`,
then a set's `set.json`, then the sidecar, each in the same format; the upper
one wins, key by key inside `params`, and each path list comes whole from the
upper file that gives it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from underpaint.core import ErrorCode, JobSpec, Mode, Params, Rect, RequestError, Size
from underpaint.core.errors import request_error_from
from underpaint.imaging.canvas import request_geometry
from underpaint.imaging.codec import to_array
from underpaint.jobs.intake import Intake, JobRequest
from underpaint.results.delivery.library import PresetLibrary
from underpaint.results.recipe import ModelRef, pixels_sha256

from .layout import READY_MARKER, classify, is_ignored


class HotFolderError(Exception):
    """A job the hot folder refuses: `code` is stable, `message` one sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Sidecar(BaseModel):
    """A recipe sidecar, set.json or defaults.json; recipe-only fields (`engine` ... `set_id`) are accepted so
    result recipes work as sidecars (their `style` and `set_id` only label the result they came from)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode | None = None
    mask: str | None = None
    control_images: list[str | None] | None = None
    reference_images: list[str] | None = None
    params: dict[str, Any] = {}
    delivery: list[str] | None = None
    engine: str | None = None
    model: ModelRef | str | None = None
    underpaint: str | None = None
    seeds: list[int] | None = None
    document: dict[str, Any] | None = None
    region: dict[str, Any] | None = None
    image_sha256: str | None = None
    mask_sha256: str | None = None
    style: str | None = None
    set_id: str | None = None
    sent_document: dict[str, Any] | None = None
    sent_region: dict[str, Any] | None = None


@dataclass(frozen=True)
class RecipeFile:
    """One file of a job's recipe stack, and the folders its relative paths start from (the folder it
    is in; for a claimed job's own sidecar, also the folder it was dropped in)."""

    path: Path
    bases: tuple[Path, ...]


@dataclass(frozen=True)
class _Layer:
    sidecar: Sidecar
    bases: tuple[Path, ...]


@dataclass(frozen=True)
class BuiltJob:
    spec: JobSpec
    engine: str
    request: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class JobFiles:
    image: Path | None
    mask: Path | None
    recipe: Path | None
    base: Path
    """Where paths inside the recipe are relative to, in the job's claimed folder."""
    original_base: Path
    """The same folder before the claim (for paths to shared files elsewhere in the hot folder)."""


def find_files(job_dir: Path, members: list[str], kind: str, origin: Path) -> JobFiles:
    """Which claimed file is the image, the mask and the recipe; `origin` is where they were dropped
    (in/, or a set's folder)."""
    if kind == "folder":
        base = job_dir / members[0]
        names = sorted(p.name for p in base.iterdir() if p.is_file() and not is_ignored(p.name)
                       and p.name != READY_MARKER)
        guides = files_named_by([base / name for name in names if classify(name)[1] == "recipe"])
        names = [name for name in names if (base / name).resolve() not in guides]
        original_base = origin / members[0]
    else:
        base, names, original_base = job_dir, sorted(members), origin
    found: dict[str, list[Path]] = {"image": [], "mask": [], "recipe": [], "other": []}
    for name in names:
        _, role = classify(name)
        if kind == "folder" and role == "image" and Path(name).stem.lower() == "mask":
            role = "mask"
        found[role].append(base / name)
    if found["other"]:
        raise HotFolderError("unsupported_file", f"Underpaint does not know what to do with "
                             f"{found['other'][0].name}: drop images (PNG, JPEG, WebP, TIFF, BMP, GIF), masks "
                             "named NAME.mask.png and recipes named NAME.json.")
    for role in ("image", "mask", "recipe"):
        if len(found[role]) > 1:
            listed = ", ".join(p.name for p in found[role])
            raise HotFolderError("ambiguous_job", f"One job can have only one {role}, but found {listed}.")
    if not found["image"]:
        raise HotFolderError("missing_image", "This job has a mask or recipe but no image; drop the image with "
                             "the same name (or put all files in one folder).")
    mask = found["mask"][0] if found["mask"] else None
    recipe = found["recipe"][0] if found["recipe"] else None
    return JobFiles(found["image"][0], mask, recipe, base, original_base)


def files_named_by(recipes: list[Path]) -> set[Path]:
    """The files these recipes name beside them (mask, control and reference images): a folder's guides,
    never jobs of their own. A recipe that cannot be read names none (building the job reports it)."""
    named: set[Path] = set()
    for recipe in recipes:
        try:
            sidecar = Sidecar.model_validate_json(recipe.read_bytes())
        except (OSError, ValueError, RecursionError):
            continue
        entries = [sidecar.mask, *(sidecar.control_images or ()), *(sidecar.reference_images or ())]
        named.update((recipe.parent / entry).resolve() for entry in entries if entry)
    return named


def build_job(job_id: str, name: str, files: JobFiles, root: Path, below: list[RecipeFile], intake: Intake,
              set_id: str | None = None, presets: PresetLibrary | None = None) -> BuiltJob:
    """The JobSpec for one claimed job, or HotFolderError saying why not. `below` are the recipe files
    under the job's own sidecar (defaults.json, set.json), lowest first; `set_id` the set it belongs to.

    A recipe whose image hash matches the dropped image is a replay: its document and region
    (the request's, before any Expand) are honoured so the result comes out pixel for pixel. The upper
    recipe's `delivery` list names the delivery presets (checked against `presets` here, before the job runs)
    its finished variants are also written as.
    """
    layers = [_Layer(_read_sidecar(f.path, f.path.name), f.bases) for f in below if f.path.is_file()]
    if files.recipe:
        layers.append(_Layer(_read_sidecar(files.recipe, files.recipe.name), (files.base, files.original_base)))
    sidecars = [layer.sidecar for layer in layers]
    mode = next((s.mode for s in reversed(sidecars) if s.mode), None)
    params = _params(sidecars)
    try:
        engine_name, _ = intake.resolve(params, job_id)
    except RequestError as exc:
        raise HotFolderError(exc.code, exc.message) from None
    mask_path = _mask_path(layers, files, root)
    assert files.image is not None
    image, notes = _load(files.image, root, 4, intake.max_pixels)
    mask = None
    if mask_path is not None:
        mask, mask_notes = _load(mask_path, root, 1, intake.max_pixels)
        notes += mask_notes
    if mode is None:
        if mask is None:
            raise HotFolderError("mask_required", f"{files.image.name} has no mask: the {engine_name} engine "
                                 f"fills selections, so drop {files.image.stem}.mask.png beside it (white = fill) "
                                 "or give a recipe with a mode that needs none.")
        mode = Mode.FILL
    control_paths = _guide_paths(layers, "control_images", root)
    reference_paths = [path for path in _guide_paths(layers, "reference_images", root) if path is not None]
    controls = [None if path is None else _load(path, root, 4, intake.max_pixels)[0] for path in control_paths]
    references = [_load(path, root, 4, intake.max_pixels)[0] for path in reference_paths]
    reference_sizes = tuple(Size(width=array.shape[1], height=array.shape[0]) for array in references)
    height, width = image.shape[:2]
    document, region = _geometry(sidecars[-1] if files.recipe else None, image, mode, params)
    params = params.model_copy(update={"engine": engine_name})
    request = {"hot_folder": str(root), "name": name, "mode": str(mode), "params": params.model_dump(mode="json"),
               "image": files.image.name, "mask": mask_path.name if mask_path else None, "width": width,
               "height": height, "document": document.model_dump(), "region": region.model_dump(),
               "control_images": [None if path is None else str(path) for path in control_paths],
               "reference_images": [str(path) for path in reference_paths], "set_id": set_id}
    delivery = _delivery(sidecars, presets)
    if delivery:
        request["delivery"] = delivery
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    job = JobRequest(job_id, mode, params, document, region, _size(image), _size(mask),
                     tuple(_size(array) for array in controls), reference_sizes, set_id)
    try:
        spec = intake.spec(job, image, mask, "hotfolder", "hotfolder", notes, controls, references)
    except RequestError as exc:
        raise HotFolderError(exc.code, exc.message) from None
    return BuiltJob(spec, engine_name, request, digest)


def _delivery(sidecars: list[Sidecar], presets: PresetLibrary | None) -> list[str]:
    names = next((s.delivery for s in reversed(sidecars) if s.delivery is not None), None) or []
    for name in names:
        try:
            if presets is not None:
                presets.get(name)
        except RequestError as exc:
            raise HotFolderError(exc.code, f"The recipe's delivery list: {exc.message}") from None
    return names


def _mask_path(layers: list[_Layer], files: JobFiles, root: Path) -> Path | None:
    """The job's own sidecar's `mask`, else its dropped NAME.mask.png, else the nearest lower recipe's `mask`."""
    own = layers[-1] if files.recipe else None
    if own is not None and own.sidecar.mask:
        return _inside(own.bases, root, own.sidecar.mask)
    if files.mask is not None:
        return files.mask
    lower = next((layer for layer in reversed(layers) if layer.sidecar.mask), None)
    return None if lower is None or lower.sidecar.mask is None else _inside(lower.bases, root, lower.sidecar.mask)


def _guide_paths(layers: list[_Layer], key: Literal["control_images", "reference_images"],
                 root: Path) -> list[Path | None]:
    """The control or reference image files of the upper recipe that lists them (null: derived from the source)."""
    for layer in reversed(layers):
        listed: list[str | None] | list[str] | None = getattr(layer.sidecar, key)
        if listed is not None:
            return [None if entry is None else _inside(layer.bases, root, entry) for entry in listed]
    return []


def _size(array: np.ndarray | None) -> Size | None:
    return None if array is None else Size(width=array.shape[1], height=array.shape[0])


def _geometry(recipe: Sidecar | None, image: np.ndarray, mode: Mode, params: Params) -> tuple[Size, Rect]:
    """The recipe's request geometry when `image` is the very image it was made from, else the image itself."""
    height, width = image.shape[:2]
    whole = Size(width=width, height=height), Rect(x=0, y=0, width=width, height=height)
    if recipe is None or recipe.image_sha256 is None or recipe.document is None or recipe.region is None:
        return whole
    if pixels_sha256(image) != recipe.image_sha256:
        return whole
    # An upscale's recipe keeps the upscaled geometry, and the geometry as sent beside it.
    sent = recipe.sent_document is not None and recipe.sent_region is not None
    try:
        document = Size.model_validate(recipe.sent_document if sent else recipe.document)
        region = Rect.model_validate(recipe.sent_region if sent else recipe.region)
    except ValidationError as exc:
        raise HotFolderError("invalid_recipe", f"The recipe's geometry is invalid: {_first_problem(exc)}.") from None
    if mode is Mode.EXPAND and params.expand is not None:
        document, region = request_geometry(document, region, params.expand)
    return document, region


def _read_sidecar(path: Path, label: str) -> Sidecar:
    try:
        data = json.loads(path.read_bytes())
        return Sidecar.model_validate(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HotFolderError("invalid_recipe", f"{label} is not a valid recipe: {_first_problem(exc)}.") from None
    except RecursionError:  # the JSON decoder's depth guard: a recipe is a few levels deep, never thousands
        raise HotFolderError("invalid_recipe", f"{label} is not a valid recipe: it is nested too deeply.") from None


def _params(sidecars: list[Sidecar]) -> Params:
    merged: dict[str, Any] = {}
    for sidecar in sidecars:
        merged |= sidecar.params
        if sidecar.engine is not None:
            merged["engine"] = sidecar.engine
        if sidecar.model is not None:
            merged["model"] = sidecar.model if isinstance(sidecar.model, str) else sidecar.model.name
    try:
        return Params.model_validate(merged)
    except ValidationError as exc:
        # A limit with a code of its own (too_many_controls, weight_out_of_range, ...) keeps it.
        code = request_error_from(exc).code
        raise HotFolderError("invalid_recipe" if code == ErrorCode.INVALID_MESSAGE else code,
                             f"The recipe's params are invalid: {_first_problem(exc)}.") from None


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "recipe"
        return f"{where}: {error['msg']}"
    return str(exc).split("\n")[0].rstrip(".")


def _inside(bases: tuple[Path, ...], root: Path, relative: str) -> Path:
    """A recipe path, from the first of `bases` where it names a file inside the hot folder (a claimed
    file of this job, or another file inside the hot folder)."""
    for base in bases:
        candidate = (base / relative).resolve()
        if candidate.is_relative_to(root.resolve()) and candidate.is_file():
            return candidate
    candidate = (bases[-1] / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise HotFolderError("path_outside_folder", f"The recipe points to '{relative}', which lies outside the "
                             "hot folder; recipes may only name files inside it.")
    raise HotFolderError("missing_file", f"The recipe names '{relative}', but no such file is in the hot folder.")


def _load(path: Path, root: Path, channels: int, max_pixels: int) -> tuple[np.ndarray, list[str]]:
    if not path.resolve().is_relative_to(root.resolve()):
        raise HotFolderError("path_outside_folder", f"{path.name} links to a file outside the hot folder.")
    if path.stat().st_size == 0:
        raise HotFolderError("empty_file", f"{path.name} is empty (zero bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    raise HotFolderError("too_many_pixels", f"{path.name} has {image.width * image.height} pixels; "
                                         f"this agent takes at most {max_pixels}.")
                image.load()
                pixels, notes = to_array(image, channels)
                frames = getattr(image, "n_frames", 1)
                if frames > 1:  # an animated GIF, WebP or a multi-page TIFF: one job fills one picture
                    notes.append(f"{path.name} has {frames} frames; only the first was used.")
                return pixels, notes
    except HotFolderError:
        raise
    except Exception as exc:
        raise HotFolderError("bad_image", f"{path.name} could not be read as an image ({exc}).") from None
