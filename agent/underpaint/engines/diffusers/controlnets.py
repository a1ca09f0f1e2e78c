"""ControlNets on warm models: checked against the job's model, loaded once beside it, run through its own weights.

A control names a registered ControlNet, or none: then the one registered for its kind and the model's
family (the first by name when there are several). Each ControlNet is loaded once per warm model and
kept, keyed by content hash, at most KEEP per model; beyond that the least recently used is dropped.
The ControlNet pipelines are made from the model's base pipeline with `from_pipe`, so they share its
UNet, VAE and text encoders (LoRAs included) and copy no weights; one per pipeline kind, its ControlNet
(one, or a MultiControlNetModel for several) set per job. A control of strength 0 is left out, and a
job with no others runs the model's plain pipeline: exactly the job without controls.

The SD 1.5 inpaint ControlNet wants the selection marked as -1 in its [0, 1] input, which an RGB8
control map cannot hold: its map is the source (or the image sent), and the selection is marked
here, from the job's mask (imaging.control_maps.inpaint_condition).
Depth and segmentation maps that a preprocessor model makes arrive ready, made by
engines/diffusers/preprocessors.py.

FLUX.1 [dev] and [schnell] run theirs the same way, through FluxControlNetModel and diffusers' FLUX ControlNet
pipelines (engines/diffusers/families.py names them), which take the control map as `control_image` in every
kind of call. Inpaint controls are SD 1.5's: FLUX's inpainting ControlNets want a pipeline diffusers does not
ship, so they are refused at submit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import (
    ControlNetModel,
    FluxControlNetModel,
    FluxMultiControlNetModel,
    MultiControlNetModel,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionControlNetInpaintPipeline,
    StableDiffusionControlNetPipeline,
    StableDiffusionXLControlNetImg2ImgPipeline,
    StableDiffusionXLControlNetInpaintPipeline,
    StableDiffusionXLControlNetPipeline,
)
from PIL import Image

from underpaint.core import ErrorCode, RequestError
from underpaint.core.conditioning import MAX_CONTROLS, ControlKind, ControlRef
from underpaint.engines.base import EngineError, WorkItem
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, read_safetensors_header
from underpaint.engines.diffusers.controlnet_files import folder_weights
from underpaint.engines.diffusers.families import PipelineKind, facts
from underpaint.engines.diffusers.loader import LoadedModel
from underpaint.engines.diffusers.registry import ModelEntry, checked_location
from underpaint.imaging.control_maps import inpaint_condition

log = logging.getLogger(__name__)
KEEP = MAX_CONTROLS
"""ControlNets kept loaded per model: a whole job's controls always fit."""

_CLASSES: dict[Family, dict[PipelineKind, Any]] = {
    Family.SD1: {"txt2img": StableDiffusionControlNetPipeline, "img2img": StableDiffusionControlNetImg2ImgPipeline,
                 "inpaint": StableDiffusionControlNetInpaintPipeline},
    Family.SDXL: {"txt2img": StableDiffusionXLControlNetPipeline,
                  "img2img": StableDiffusionXLControlNetImg2ImgPipeline,
                  "inpaint": StableDiffusionXLControlNetInpaintPipeline},
}
_CLASSES[Family.SD2] = _CLASSES[Family.SD1]

Stack = list[tuple[ControlRef, ModelEntry]]
"""A job's controls, each with the registered ControlNet it runs."""


@dataclass(frozen=True, eq=False)
class ActiveControls:
    """A job's controls of non-zero strength, ready for its diffusers calls."""

    controlnet: Any
    """One ControlNetModel (FluxControlNetModel), or a MultiControlNetModel (FluxMultiControlNetModel) of several."""
    images: tuple[Any, ...]
    scales: tuple[float, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    flux: bool = False
    """For a FLUX model, whose pipelines take the control image as `control_image` in every kind of call."""

    def arguments(self, kind: PipelineKind) -> dict[str, Any]:
        """The call's control arguments: SD's txt2img takes the control image as `image`, the others as
        `control_image`."""
        def each(values: tuple[Any, ...]) -> Any:
            return values[0] if len(values) == 1 else list(values)

        arguments = {"image" if kind == "txt2img" and not self.flux else "control_image": each(self.images),
                     "controlnet_conditioning_scale": each(self.scales), "control_guidance_start": each(self.starts),
                     "control_guidance_end": each(self.ends)}
        if self.flux and len(self.images) > 1:
            # diffusers' FLUX img2img and inpaint pipelines run a FluxMultiControlNetModel over one control mode
            # per ControlNet, and over none when the mode is left at its default: say "none" for each.
            arguments["control_mode"] = [None] * len(self.images)
        return arguments


def available(model: ModelEntry, entries: Mapping[str, ModelEntry]) -> tuple[tuple[str, ControlKind], ...]:
    """The registered ControlNets made for `model`'s family (a family's ControlNets fit its inpainting models too)."""
    return tuple(sorted((name, entry.control_kind) for name, entry in entries.items()
                        if entry.role == "controlnet" and entry.control_kind is not None
                        and entry.arch.family is model.arch.family))


def resolve(model: ModelEntry, entries: Mapping[str, ModelEntry], controls: Sequence[ControlRef]) -> Stack:
    """Each control with the ControlNet it runs; RequestError (its own code, a sentence) when one cannot run."""
    return [(control, _entry(model, entries, control, index)) for index, control in enumerate(controls, start=1)]


def pin(stack: Stack) -> tuple[ControlRef, ...]:
    """The controls with the name and content hash of the ControlNet each runs (what a recipe records)."""
    return tuple(control.model_copy(update={"model": entry.name, "sha256": entry.sha256}) for control, entry in stack)


def _entry(model: ModelEntry, entries: Mapping[str, ModelEntry], control: ControlRef, index: int) -> ModelEntry:
    label = f"Control {index} ({control.kind})"
    if control.kind is ControlKind.INPAINT and not model.arch.family.unet:
        raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                           f"{label}: inpaint controls run on SD 1.x, SD 2.x and SDXL models only: FLUX.1's inpainting "
                           f"ControlNets need a pipeline diffusers does not ship. Fill with model '{model.name}' "
                           "without it, or use FLUX.1 Fill.")
    fitting = [name for name, kind in available(model, entries) if kind is control.kind]
    if control.model is None:
        if not fitting:
            raise RequestError(ErrorCode.UNKNOWN_CONTROLNET,
                               f"{label}: no {control.kind} ControlNet for {model.arch.family} models (model "
                               f"'{model.name}') is registered; add one with `underpaint models add NAME PATH "
                               f"--kind {control.kind}`.")
        return entries[fitting[0]]
    entry = entries.get(control.model)
    if entry is None or entry.role != "controlnet":
        known = ", ".join(f"{name} ({kind})" for name, kind in available(model, entries)) or "none registered"
        raise RequestError(ErrorCode.UNKNOWN_CONTROLNET,
                           f"{label}: no ControlNet named '{control.model}' (for {model.name}: {known}); add one "
                           f"with `underpaint models add NAME PATH --kind {control.kind}`.")
    if entry.arch.family is not model.arch.family:
        raise RequestError(ErrorCode.INCOMPATIBLE_CONTROLNET,
                           f"{label}: ControlNet '{entry.name}' was made for {entry.architecture} models, but model "
                           f"'{model.name}' is {model.architecture}; use a ControlNet made for {model.arch.family}, "
                           f"or a {entry.architecture} model.")
    if entry.control_kind is not control.kind:
        raise RequestError(ErrorCode.INCOMPATIBLE_CONTROLNET,
                           f"{label}: ControlNet '{entry.name}' is for {entry.control_kind} controls, not "
                           f"{control.kind}; use a {control.kind} ControlNet ({', '.join(fitting) or 'none here'}).")
    if control.sha256 is not None and control.sha256 != entry.sha256:
        raise RequestError(ErrorCode.CONTROLNET_CHANGED,
                           f"{label}: ControlNet '{entry.name}' is not the one this job asks for: its content hash "
                           f"is {entry.sha256[:12]}, the job pins {control.sha256[:12]}. Register the original as "
                           f"'{entry.name}' again, or drop the pinned sha256 to use this one.")
    return entry


def prepare(model: LoadedModel, work: WorkItem, stack: Stack, offline: bool) -> ActiveControls | None:
    """The job's controls of non-zero strength, their ControlNets loaded; None when there are none.

    Raises ModelFileError naming a ControlNet whose files cannot be loaded.
    """
    if len(work.control_images) != len(stack):
        raise EngineError(ErrorCode.CONTROL_NEEDS_IMAGE, f"The work has {len(stack)} controls but "
                                                         f"{len(work.control_images)} control maps.")
    active = [(control, entry, image) for (control, entry), image in zip(stack, work.control_images, strict=True)
              if control.strength != 0]
    if not active:
        return None
    nets = [_loaded(model, entry, offline) for _, entry, _ in active]
    images = tuple(inpaint_tensor(image, work) if control.kind is ControlKind.INPAINT else Image.fromarray(image)
                   for control, _, image in active)
    flux = not model.arch.family.unet
    several = FluxMultiControlNetModel if flux else MultiControlNetModel
    controlnet = nets[0] if len(nets) == 1 else several(nets)
    return ActiveControls(controlnet=controlnet, images=images, flux=flux,
                          scales=tuple(control.strength for control, _, _ in active),
                          starts=tuple(control.start for control, _, _ in active),
                          ends=tuple(control.end for control, _, _ in active))


def inpaint_tensor(image: np.ndarray, work: WorkItem) -> torch.Tensor:
    """The inpaint ControlNet's input: `image` in [0, 1] with the job's selection at -1, as (1, 3, H, W)."""
    return torch.from_numpy(inpaint_condition(image, work.mask)).permute(2, 0, 1)[None]


def pipeline(model: LoadedModel, kind: PipelineKind, controls: ActiveControls) -> Any:
    """The model's ControlNet pipeline for `kind`, made on first use from its base (no weight copies),
    running `controls`' ControlNet."""
    pipe = model.control_pipes.get(kind)
    if pipe is None:
        cls = (_CLASSES.get(model.arch.family) or facts(model.arch.family).control_pipelines or {})[kind]
        # from_pipe casts every component to its dtype argument (fp32 by default) in place: pass ours.
        pipe = cls.from_pipe(model.base, controlnet=controls.controlnet, dtype=model.placement.dtype)
        pipe.set_progress_bar_config(disable=True)
        model.control_pipes[kind] = pipe
    else:
        pipe.controlnet = controls.controlnet
    return pipe


def _loaded(model: LoadedModel, entry: ModelEntry, offline: bool) -> Any:
    if entry.sha256 in model.controlnets:
        model.controlnets.move_to_end(entry.sha256)
        return model.controlnets[entry.sha256]
    net = _load(entry, model, offline)
    while len(model.controlnets) >= KEEP:
        model.controlnets.popitem(last=False)
    model.controlnets[entry.sha256] = net
    log.info("loaded ControlNet %s beside %s", entry.name, model.entry.name)
    return net


def _load(entry: ModelEntry, model: LoadedModel, offline: bool) -> Any:
    location = checked_location(
        entry, "ControlNet", lambda where: read_safetensors_header(folder_weights(where) if where.is_dir() else where),
        f" --kind {entry.control_kind}")
    dtype = model.placement.dtype
    try:
        if location.is_dir():
            variant = "fp16" if folder_weights(location).name.endswith(".fp16.safetensors") else None
            loader = ControlNetModel if entry.arch.family.unet else FluxControlNetModel
            net = loader.from_pretrained(  # type: ignore[no-untyped-call]
                location, dtype=dtype, variant=variant, local_files_only=True)
        else:
            net = _from_single_file(entry, dtype, offline)
    except (ModelFileError, torch.OutOfMemoryError):
        raise
    except Exception as exc:
        raise ModelFileError(f"ControlNet '{entry.name}' ({location}) could not be loaded: {exc}. If the files are "
                             f"damaged, download or copy them again and `underpaint models add` it.") from exc
    return net.to(model.placement.device).eval()


def _from_single_file(entry: ModelEntry, dtype: torch.dtype, offline: bool) -> Any:
    """A single .safetensors ControlNet; its config from the entry's --config, else the one diffusers picks for
    its layout (from the Hugging Face cache, fetched once when online)."""
    kwargs: dict[str, Any] = {"dtype": dtype} | ({"config": entry.config} if entry.config else {})
    try:
        return ControlNetModel.from_single_file(str(entry.location), local_files_only=True, **kwargs)
    except OSError:
        if offline or entry.config:
            raise ModelFileError(f"ControlNet '{entry.name}' ({entry.location}) needs its config, which is not on "
                                 "this machine. Connect once to fetch it, or register the ControlNet with --config "
                                 "pointing at a diffusers ControlNet folder of the same architecture.") from None
    return ControlNetModel.from_single_file(str(entry.location), local_files_only=False, **kwargs)
