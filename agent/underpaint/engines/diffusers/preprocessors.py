"""Preprocessor models: control maps made by a registered transformers model (depth, segmentation).

Which controls run one: a depth or segmentation control whose map is derived, from the job's source
(image 'source') or from a sent image with preprocess true (a photo or layer the user wants the map of,
as Krita's control layers do when asked). It runs the preprocessor the control names, else the first by
name registered for its kind. A sent image of such a kind with no preprocessor registered is the map
itself, as before preprocessors existed; so is any sent image with preprocess false. At submit the choice
is pinned in the control: the preprocessor's name and content hash, or preprocess false where the sent
image is the map, so a replay never depends on what is registered later. Pose, line-art and soft-edge
controls always take a ready map (engines/diffusers/preprocessor_files.py says why).

The imaging room hands such a control its working-size image as the map (imaging.control_maps); the
map is made here, on the engine's device and dtype, just before the ControlNets run:
- depth: the model's predicted depth resized to working size (bicubic, as transformers' post-processing
  does) and stretched to 0-255, near bright, as the depth ControlNets were trained on. MiDaS-style models
  (DPT, Depth Anything, Depth Pro) predict inverse relative depth, near already high; metric ones (GLPN,
  ZoeDepth, Depth Anything's metric variants) predict distance, which is inverted.
- segmentation: each pixel's most likely ADE20K class (logits resized bilinearly, as transformers'
  post-processing does), in that class's ADE20K colour.
Each model is loaded once and kept warm (at most KEEP, least recently used dropped), in eval mode: the same
image gives the same map.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForDepthEstimation, AutoModelForSemanticSegmentation

from underpaint.core import ErrorCode, RequestError
from underpaint.core.conditioning import WEIGHTLESS_PREPROCESSORS, ControlKind, ControlRef
from underpaint.engines.base import EngineError, WorkItem
from underpaint.engines.diffusers.ade20k_palette import ADE20K_PALETTE
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.device import Placement
from underpaint.engines.diffusers.preprocessor_files import READY_MAP_KINDS, ready_map_sentence, weights
from underpaint.engines.diffusers.registry import ModelEntry, checked_location

log = logging.getLogger(__name__)
KEEP = 2
"""Preprocessor models kept warm: one per kind that has them."""
DISTANCE_MODELS = frozenset({"glpn", "zoedepth"})
"""Depth model types that predict distance (far is larger); Depth Anything says so in its config."""
_PALETTE = np.array(ADE20K_PALETTE, dtype=np.uint8)
_WHAT = {ControlKind.DEPTH: "a transformers depth-estimation folder: DPT, Depth Anything, GLPN...",
         ControlKind.SEGMENTATION: "a transformers ADE20K semantic-segmentation folder: UperNet, SegFormer..."}

Made = tuple[ModelEntry | None, ...]
"""Per control of a job: the preprocessor model that makes its map, or None where it needs none."""


def kinds(entries: Mapping[str, ModelEntry]) -> frozenset[ControlKind]:
    """The control kinds a registered preprocessor model makes maps for."""
    return frozenset(entry.control_kind for entry in entries.values()
                     if entry.role == "preprocessor" and entry.control_kind is not None)


def resolve(controls: Sequence[ControlRef], entries: Mapping[str, ModelEntry]
            ) -> list[tuple[ControlRef, ModelEntry | None]]:
    """Each control pinned (the preprocessor that makes its map, or preprocess false where a sent image is the
    map) with that preprocessor's entry; RequestError no_preprocessor or preprocessor_changed when one cannot
    run."""
    return [_resolved(control, entries, index) for index, control in enumerate(controls, start=1)]


def _resolved(control: ControlRef, entries: Mapping[str, ModelEntry], index: int
              ) -> tuple[ControlRef, ModelEntry | None]:
    label = f"Control {index} ({control.kind})"
    derived = control.image == "source" or control.preprocess
    if control.kind in WEIGHTLESS_PREPROCESSORS or not derived:
        if control.preprocessor is not None:
            raise RequestError(ErrorCode.INVALID_MESSAGE,
                               f"{label} runs no preprocessor model (canny, scribble, tile and inpaint maps are "
                               "made without one, and a sent image with preprocess false is the map): drop its "
                               f"preprocessor '{control.preprocessor}'.")
        return control, None
    fitting = sorted(name for name, entry in entries.items()
                     if entry.role == "preprocessor" and entry.control_kind is control.kind)
    name = control.preprocessor or next(iter(fitting), None)
    if name is None:
        if control.image == "sent":
            return control.model_copy(update={"preprocess": False}), None
        if control.kind in READY_MAP_KINDS:
            raise RequestError(ErrorCode.NO_PREPROCESSOR,
                               f"{label} is to be derived from the source, but {ready_map_sentence(control.kind)}")
        raise RequestError(ErrorCode.NO_PREPROCESSOR,
                           f"{label} is to be derived from the source, but no {control.kind} preprocessor is "
                           f"registered; add one with `underpaint models add NAME FOLDER --kind {control.kind}` "
                           f"({_WHAT[control.kind]}), or send the {control.kind} map.")
    entry = entries.get(name)
    if entry is None or entry.role != "preprocessor" or entry.control_kind is not control.kind:
        what = "no preprocessor" if entry is None or entry.role != "preprocessor" else \
            f"'{name}' makes {entry.control_kind} maps; no {control.kind} preprocessor"
        raise RequestError(ErrorCode.NO_PREPROCESSOR,
                           f"{label}: {what} named '{name}' (for {control.kind}: "
                           f"{', '.join(fitting) or 'none registered'}); add one with `underpaint models add "
                           f"NAME FOLDER --kind {control.kind}`.")
    if control.preprocessor_sha256 is not None and control.preprocessor_sha256 != entry.sha256:
        raise RequestError(ErrorCode.PREPROCESSOR_CHANGED,
                           f"{label}: preprocessor '{name}' is not the one this job asks for: its content hash is "
                           f"{entry.sha256[:12]}, the job pins {control.preprocessor_sha256[:12]}. Register the "
                           f"original as '{name}' again, or drop the pinned preprocessor_sha256 to use this one.")
    return control.model_copy(update={"preprocessor": entry.name, "preprocessor_sha256": entry.sha256}), entry


@dataclass(eq=False)
class _Warm:
    model: Any
    processor: Any
    kind: ControlKind
    distance: bool
    """A depth model predicting distance, inverted to put near bright."""


class Preprocessors:
    """Warm preprocessor models on the engine's device, by content hash, least recently used first."""

    def __init__(self, placement: Placement, keep: int = KEEP) -> None:
        self.placement = placement
        self.keep = keep
        self._warm: OrderedDict[str, _Warm] = OrderedDict()
        self._lock = threading.Lock()

    def finish(self, work: WorkItem, made: Made) -> WorkItem:
        """`work` with the map of each steering control that has a preprocessor made by it from the image the
        imaging room handed it. Raises ModelFileError naming a preprocessor that cannot be loaded."""
        if len(made) != len(work.control_images) or all(entry is None for entry in made):
            return work
        maps = tuple(image if entry is None or control.strength == 0 else self.make_map(entry, image)
                     for control, entry, image in zip(work.params.controls, made, work.control_images, strict=True))
        return dataclasses.replace(work, control_images=maps)

    def make_map(self, entry: ModelEntry, image: np.ndarray) -> np.ndarray:
        """The RGB8 map `entry` makes of the RGB8 `image`, at its size."""
        with self._lock:
            warm = self._loaded(entry)
            pixels = warm.processor(Image.fromarray(image), return_tensors="pt").pixel_values
            pixels = pixels.to(device=self.placement.device, dtype=warm.model.dtype)
            try:
                with torch.inference_mode():
                    output = warm.model(pixel_values=pixels)
            except torch.OutOfMemoryError:
                raise EngineError(ErrorCode.ENGINE_FAILED, f"The device ran out of memory running preprocessor "
                                                           f"'{entry.name}'; try a smaller selection.") from None
            except Exception as exc:
                raise ModelFileError(f"Preprocessor '{entry.name}' ({entry.location}) could not make a "
                                     f"{warm.kind} map: {exc}.") from exc
        size = image.shape[:2]
        if warm.kind is ControlKind.SEGMENTATION:
            logits = torch.nn.functional.interpolate(output.logits.float(), size=size, mode="bilinear",
                                                     align_corners=False)
            labels = logits[0].argmax(dim=0).cpu().numpy()
            return np.ascontiguousarray(_PALETTE[labels])
        depth = torch.nn.functional.interpolate(output.predicted_depth[:, None].float(), size=size, mode="bicubic",
                                                align_corners=False)[0, 0]
        if warm.distance:
            depth = -depth
        low, high = depth.min(), depth.max()
        scaled = (depth - low) / (high - low) if high > low else torch.zeros_like(depth)
        grey = (scaled * 255).round().to(torch.uint8).cpu().numpy()
        return np.repeat(grey[..., None], 3, axis=2)

    def _loaded(self, entry: ModelEntry) -> _Warm:
        if entry.sha256 in self._warm:
            self._warm.move_to_end(entry.sha256)
            return self._warm[entry.sha256]
        warm = self._load(entry)
        while len(self._warm) >= self.keep:
            self._warm.popitem(last=False)
        self._warm[entry.sha256] = warm
        log.info("loaded preprocessor %s (%s)", entry.name, entry.architecture)
        return warm

    def _load(self, entry: ModelEntry) -> _Warm:
        folder = checked_location(entry, "Preprocessor", weights)
        kind = entry.control_kind or ControlKind.DEPTH
        auto: Any = AutoModelForSemanticSegmentation if kind is ControlKind.SEGMENTATION else \
            AutoModelForDepthEstimation
        try:
            model = auto.from_pretrained(folder, dtype=self.placement.dtype, local_files_only=True,
                                         use_safetensors=True)
            # Pillow's processors give the same pixels whether or not torchvision is installed.
            processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                folder, backend="pil", local_files_only=True)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            raise ModelFileError(f"Preprocessor '{entry.name}' ({folder}) could not be loaded: {exc}. If the files "
                                 "are damaged, download or copy them again and `underpaint models add` it.") from exc
        config = model.config
        distance = config.model_type in DISTANCE_MODELS or getattr(config, "depth_estimation_type", "") == "metric"
        return _Warm(model.to(self.placement.device).eval(), processor, kind, distance)
