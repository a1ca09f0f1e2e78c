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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

from underpaint.core import Mode
from underpaint.engines.base import WorkItem
from underpaint.engines.diffusers import controlnets
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.controlnets import ActiveControls
from underpaint.engines.diffusers.loader import LoadedModel, PipelineKind, configure_vae
from underpaint.engines.diffusers.references import reference_arguments
from underpaint.engines.diffusers.schedulers import make_scheduler

StepHook = Callable[[int, int, torch.Tensor], None]
"""(step done, steps in this call, latents) after each denoising step; may raise to stop."""

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
    # As the pipelines decide it: guidance above 1 on a UNet without guidance embedding (LCM's).
    guided = params.guidance > 1 and pipe.unet.config.time_cond_proj_dim is None
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

    def step_end(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(index + 1, int(pipeline.num_timesteps), tensors["latents"])
        return tensors

    params = work.params
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
            output_type="np", callback_on_step_end=step_end, callback_on_step_end_tensor_inputs=["latents"],
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
