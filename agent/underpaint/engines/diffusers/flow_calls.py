"""One diffusers call per variant for the flow-matching families: FLUX.1 [dev], [schnell], Fill, Kontext and SD 3.5.

generate -> txt2img; refine -> img2img (steps x strength, as for SD); fill/remove/expand -> inpaint, which for
[dev], [schnell] and SD 3.5 blends the known latents back in after every step and for FLUX.1 Fill feeds its
transformer the masked image and the mask; edit -> Kontext on the whole working image (the composer keeps
everything outside the selection), from the source noised to `strength` when the edit may go only part of the
way. Kontext's pipelines resize to its preferred sizes unless told not to: the planner already chose a working
size of the family's multiple, so they are told not to. With controls, FLUX.1 [dev] and [schnell] run the same
kinds through their ControlNet pipelines (engines/diffusers/controlnets.py).

The prompt is encoded once per job, as for SD (calls.prompt_arguments): FLUX's CLIP pooled output and T5
sequence; SD 3.5's three encoders, with the negative prompt where classifier-free guidance runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from PIL import Image

from underpaint.core import Mode
from underpaint.engines.base import WorkItem
from underpaint.engines.diffusers import controlnets
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.calls import StepHook
from underpaint.engines.diffusers.families import PipelineKind, facts
from underpaint.engines.diffusers.loader import LoadedModel, configure_vae
from underpaint.engines.diffusers.schedulers import make_scheduler

_KIND: dict[Mode, PipelineKind] = {
    Mode.GENERATE: "txt2img", Mode.REFINE: "img2img", Mode.EDIT: "edit",
    Mode.FILL: "inpaint", Mode.REMOVE: "inpaint", Mode.EXPAND: "inpaint",
}


def inputs(model: LoadedModel, work: WorkItem) -> tuple[PipelineKind, dict[str, Any]]:
    """The pipeline kind and its mode-specific arguments (images as Pillow images at working size)."""
    kind = _KIND[work.mode]
    size = {"width": work.width, "height": work.height}
    image = Image.fromarray(work.image) if work.image is not None else None
    strength = work.params.strength
    if kind == "txt2img":
        return kind, size
    if kind == "img2img":
        return kind, size | {"image": image, "strength": strength}
    if kind == "edit":
        fixed = size | {"image": image, "max_area": work.width * work.height, "_auto_resize": False}
        if strength >= 1:
            return kind, fixed
        whole = Image.new("L", (work.width, work.height), 255)
        return "edit_partial", fixed | {"image_reference": image, "mask_image": whole, "strength": strength}
    mask = Image.fromarray(work.mask) if work.mask is not None else Image.new("L", (work.width, work.height), 255)
    return kind, size | {"image": image, "mask_image": mask, "strength": strength}


def guided(model: LoadedModel, guidance: float) -> bool:
    """Whether a call runs classifier-free guidance: SD 3.5 above 1, as its pipelines decide; FLUX never (its
    guidance is an embedding the transformer reads, not a second pass)."""
    return model.arch.family is Family.SD3 and guidance > 1


def prompt_arguments(model: LoadedModel, work: WorkItem) -> dict[str, Any]:
    """The prompt's embeddings as call arguments, encoded once for all of `work`'s variants."""
    params = work.params
    pipe = model.base
    length = facts(model.arch.family).max_sequence_length
    device = model.placement.device
    with torch.inference_mode():
        if model.arch.family is Family.SD3:
            positive, negative, pooled, negative_pooled = pipe.encode_prompt(
                prompt=params.prompt, prompt_2=None, prompt_3=None, device=device, num_images_per_prompt=1,
                do_classifier_free_guidance=guided(model, params.guidance),
                negative_prompt=params.negative_prompt or None, max_sequence_length=length)
            return {"prompt_embeds": positive, "negative_prompt_embeds": negative,
                    "pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}
        positive, pooled, _ids = pipe.encode_prompt(prompt=params.prompt, prompt_2=None, device=device,
                                                    num_images_per_prompt=1, max_sequence_length=length)
    return {"prompt_embeds": positive, "pooled_prompt_embeds": pooled}


def run_one(model: LoadedModel, work: WorkItem, seed: int, on_step: StepHook, prompt: dict[str, Any],
            controls: controlnets.ActiveControls | None = None) -> np.ndarray:
    """One image for `seed`: RGB8 (height, width, 3)."""
    kind, mode_args = inputs(model, work)
    if controls is None:
        pipe = model.pipeline(kind)
    else:
        pipe = controlnets.pipeline(model, kind, controls)
        mode_args |= controls.arguments(kind)
    pipe.scheduler = make_scheduler(work.params.scheduler, model.base.scheduler.config, flow=True)
    configure_vae(pipe, work.width, work.height)
    # Noise drawn on the CPU: the same seed gives the same noise on every device.
    generator = torch.Generator("cpu").manual_seed(seed)
    params = work.params

    def step_end(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(index + 1, int(pipeline.num_timesteps), tensors["latents"])
        return tensors

    strength = float(mode_args.get("strength", 1.0))
    if strength <= 0 and work.image is not None:
        on_step(1, 1, torch.zeros(1, 4, 1, 1))
        return work.image.copy()
    # diffusers runs int(steps x strength) steps; at least one.
    steps = max(params.steps, math.ceil(1 / strength))
    with torch.inference_mode():
        output = pipe(**prompt, num_inference_steps=steps, guidance_scale=params.guidance, generator=generator,
                      output_type="np", callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=["latents"],
                      max_sequence_length=facts(model.arch.family).max_sequence_length, **mode_args)
    image = np.asarray(output.images[0], dtype=np.float32)
    return np.ascontiguousarray((image * 255).round().clip(0, 255).astype(np.uint8))
