"""One diffusers call per variant: the mode decides the pipeline and its inputs.

generate -> txt2img; refine -> img2img (diffusers runs steps x strength);
fill/remove/expand -> inpaint, which for a 9-channel UNet feeds it the mask and
masked image, and for a regular UNet blends the known latents back in after
every step. Inpainting UNets do generate and refine through inpaint too.
A job with controls runs the ControlNet pipeline of the same kind
(engines/diffusers/controlnets.py), with the controls' arguments added.

Work that is the same for every variant is done once per job: the prompt's
embeddings (`prompt_arguments`, passed as diffusers' prompt_embeds) and the VAE
encoding of the source and masked source (`encodings_reused`). The encoding is
kept as the encoder's distribution, not as latents: diffusers draws each
variant's latents from it with that variant's generator, so the pixels stay
those of a call that encodes afresh.

Optional, off by default: `guidance_skip` runs the last fraction of steps
without classifier-free guidance (diffusers' "dynamic CFG" through the
step-end callback): from that step on the pipeline's guidance is 0 and every
tensor it stacked as (unconditional, conditional) keeps its conditional half,
so each such step is one UNet pass instead of two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

from underpaint.core import ErrorCode, Mode
from underpaint.engines.base import EngineError, WorkItem
from underpaint.engines.diffusers import controlnets
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.controlnets import ActiveControls
from underpaint.engines.diffusers.families import PipelineKind
from underpaint.engines.diffusers.loader import LoadedModel, configure_vae
from underpaint.engines.diffusers.references import reference_arguments
from underpaint.engines.diffusers.schedulers import make_scheduler

StepHook = Callable[[int, int, torch.Tensor], None]
"""(step done, steps in this call, latents) after each denoising step; may raise to stop."""

CFG_STACKED = ("prompt_embeds", "add_text_embeds", "add_time_ids", "mask", "masked_image_latents", "image",
               "control_image")
"""Tensors the pipelines stack as (unconditional, conditional) for classifier-free guidance; each pipeline
reads back from its step-end callback those of them it lists in `_callback_tensor_inputs`."""
NO_GUIDANCE_SKIP = {
    "StableDiffusionControlNetInpaintPipeline": "does not read the mask back from its step callback",
    "StableDiffusionXLControlNetInpaintPipeline": "does not read its added conditions back from its step callback",
}
"""Pipelines that list a stacked tensor for their callback but keep their own copy (diffusers 0.42)."""

KIND: dict[Mode, PipelineKind] = {
    Mode.GENERATE: "txt2img", Mode.REFINE: "img2img",
    Mode.FILL: "inpaint", Mode.REMOVE: "inpaint", Mode.EXPAND: "inpaint",
}


def inputs(model: LoadedModel, work: WorkItem) -> tuple[PipelineKind, dict[str, Any]]:
    """The pipeline kind and its mode-specific arguments (images as Pillow images at working size)."""
    kind = KIND[work.mode]
    size = (work.width, work.height)
    image = Image.fromarray(work.image) if work.image is not None else None
    if kind == "txt2img":
        if not model.arch.inpaint:
            return kind, {"width": work.width, "height": work.height}
        # An inpainting UNet creates everything under a full mask.
        return "inpaint", {"image": Image.new("RGB", size, (127, 127, 127)), "mask_image": Image.new("L", size, 255),
                           "width": work.width, "height": work.height, "strength": 1.0}
    if kind == "img2img":
        if not model.arch.inpaint:
            return kind, {"image": image, "strength": work.params.strength}
        return "inpaint", {"image": image, "mask_image": Image.new("L", size, 255), "width": work.width,
                           "height": work.height, "strength": work.params.strength}
    mask = Image.fromarray(work.mask) if work.mask is not None else Image.new("L", size, 255)
    return kind, {"image": image, "mask_image": mask, "width": work.width, "height": work.height,
                  "strength": work.params.strength}


def prompt_arguments(model: LoadedModel, work: WorkItem) -> dict[str, Any]:
    """The prompt's embeddings as diffusers call arguments, encoded once for all of `work`'s variants.

    Encoded by the pipeline's own encode_prompt with the arguments its call would give it, after the job's
    LoRAs apply (they change the text encoder), so every variant sees what it would have encoded itself.
    """
    params = work.params
    pipe = model.base
    guided = is_guided(pipe, params.guidance)
    with torch.inference_mode():
        embeds = pipe.encode_prompt(prompt=params.prompt, device=model.placement.device, num_images_per_prompt=1,
                                    do_classifier_free_guidance=guided,
                                    negative_prompt=params.negative_prompt or None)
    if model.arch.family is Family.SDXL:
        positive, negative, pooled, negative_pooled = embeds
        return {"prompt_embeds": positive, "negative_prompt_embeds": negative,
                "pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}
    positive, negative = embeds
    return {"prompt_embeds": positive, "negative_prompt_embeds": negative}


def is_guided(pipe: Any, guidance: float) -> bool:
    """Whether a call runs classifier-free guidance, as the pipelines decide it: guidance above 1 on a UNet
    without a guidance embedding (LCM's)."""
    return guidance > 1 and pipe.unet.config.time_cond_proj_dim is None


def unguided_steps(fraction: float, steps: int) -> int:
    """How many of a call's last `steps` run without guidance: `fraction` of them, rounded down (so a
    fraction below 1 always leaves the first step guided)."""
    return int(fraction * steps + 1e-9)


def guidance_skip_refusal(pipe: Any) -> str | None:
    """Why `pipe` cannot run steps without guidance, or None when it can."""
    why = NO_GUIDANCE_SKIP.get(type(pipe).__name__)
    if why is not None:
        return f"guidance_skip cannot run with controls on an inpaint job: diffusers' {type(pipe).__name__} {why}."
    return None


def _drop_guidance(pipeline: Any, tensors: dict[str, Any]) -> dict[str, Any]:
    """From the next step on, no guidance: guidance 0 and the conditional half of each stacked tensor."""
    pipeline._guidance_scale = 0.0
    return {name: _conditional_half(value) for name, value in tensors.items()}


def _conditional_half(value: Any) -> Any:
    if isinstance(value, list):  # several ControlNets' images
        return [_conditional_half(item) for item in value]
    if isinstance(value, torch.Tensor) and value.shape[0] % 2 == 0:
        return value.chunk(2)[1]
    return value


@contextmanager
def encodings_reused(vae: Any) -> Iterator[None]:
    """While open, `vae.encode` runs its encoder once per distinct image and returns the kept result after.

    diffusers has no argument for img2img's or strength < 1 inpaint's image latents that keeps the per-variant
    sampling, so the VAE's own encode is wrapped for one job (an instance attribute over the class's method,
    removed on exit) and holds that job's images only.
    """
    original = vae.encode
    kept: list[tuple[torch.Tensor, Any]] = []

    def encode(image: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        for seen, result in kept:
            if seen.shape == image.shape and seen.dtype == image.dtype and torch.equal(seen, image):
                return result
        result = original(image, *args, **kwargs)
        kept.append((image.clone(), result))
        return result

    vae.encode = encode
    try:
        yield
    finally:
        vae.__dict__.pop("encode", None)


def run_one(model: LoadedModel, work: WorkItem, seed: int, on_step: StepHook,
            controls: ActiveControls | None = None, prompt: dict[str, Any] | None = None) -> np.ndarray:
    """One image for `seed`: RGB8 (height, width, 3), from `prompt`'s embeddings when given (else the
    pipeline encodes the prompt itself)."""
    kind, mode_args = inputs(model, work)
    pipe, mode_args = _with_controls(model, kind, mode_args, controls)
    pipe.scheduler = make_scheduler(work.params.scheduler, model.base.scheduler.config)
    configure_vae(pipe, work.width, work.height)
    # Noise drawn on the CPU: the same seed gives the same noise on every device.
    generator = torch.Generator("cpu").manual_seed(seed)
    params = work.params
    skipping = params.guidance_skip > 0 and is_guided(pipe, params.guidance)
    if skipping and (refusal := guidance_skip_refusal(pipe)) is not None:
        raise EngineError(ErrorCode.UNSUPPORTED_FEATURE, f"{refusal} Set guidance_skip to 0, or drop the controls.")
    stacked = [name for name in CFG_STACKED if name in pipe._callback_tensor_inputs] if skipping else []

    def step_end(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        steps = int(pipeline.num_timesteps)
        on_step(index + 1, steps, tensors["latents"])
        skipped = unguided_steps(params.guidance_skip, steps) if skipping else 0
        if skipped and index + 1 == steps - skipped:
            return {"latents": tensors["latents"]} | _drop_guidance(pipeline, {n: tensors[n] for n in stacked})
        return tensors

    steps = params.steps
    strength = float(mode_args.get("strength", 1.0))
    if strength <= 0 and work.image is not None:
        on_step(1, 1, torch.zeros(1, 4, 1, 1))
        return work.image.copy()
    # diffusers runs int(steps x strength) steps; at least one.
    steps = max(steps, math.ceil(1 / strength))
    with torch.inference_mode():
        text = prompt if prompt is not None else {"prompt": params.prompt,
                                                  "negative_prompt": params.negative_prompt or None}
        output = pipe(
            **text, num_inference_steps=steps, guidance_scale=params.guidance, generator=generator,
            output_type="np", callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=["latents", *stacked],
            **mode_args, **reference_arguments(model, work),
        )
    image = np.asarray(output.images[0], dtype=np.float32)
    return np.ascontiguousarray((image * 255).round().clip(0, 255).astype(np.uint8))


def _with_controls(model: LoadedModel, kind: PipelineKind, mode_args: dict[str, Any],
                   controls: ActiveControls | None) -> tuple[Any, dict[str, Any]]:
    """The pipeline for `kind` and its arguments: the model's own, or its ControlNet one with `controls`'."""
    if controls is None:
        return model.pipeline(kind), mode_args
    return controlnets.pipeline(model, kind, controls), mode_args | controls.arguments(kind)
