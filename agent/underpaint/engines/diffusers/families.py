"""What each model family can do: its modes, how guidance steers it, its size multiple, its schedulers and the
diffusers pipeline that runs each kind of call.

SD 1.x/2.x/SDXL run every image mode through their txt2img, img2img and inpaint pipelines. FLUX.1 [dev] and
[schnell] and SD 3.5 do the same through their own (inpainting by masked-latent blending: FluxInpaintPipeline,
StableDiffusion3InpaintPipeline). FLUX.1 Fill is a dedicated inpaint model (fill, remove, expand through
FluxFillPipeline). FLUX.1 Kontext edits by instruction (FluxKontextPipeline; from a noised source when the edit
may go only part of the way, FluxKontextInpaintPipeline) and refines through FluxImg2ImgPipeline, which its
[dev]-shaped transformer runs as [dev] does.

FLUX.1 [dev] and [schnell] run controls through diffusers' FLUX ControlNet pipelines (FluxControlNetPipeline,
-Img2ImgPipeline, -InpaintPipeline). Fill and Kontext have none (their transformers read the source themselves;
diffusers' FLUX ControlNet pipelines feed a plain transformer), nor has SD 3.5 here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from diffusers import (
    FluxControlNetImg2ImgPipeline,
    FluxControlNetInpaintPipeline,
    FluxControlNetPipeline,
    FluxFillPipeline,
    FluxImg2ImgPipeline,
    FluxInpaintPipeline,
    FluxKontextInpaintPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    StableDiffusion3Img2ImgPipeline,
    StableDiffusion3InpaintPipeline,
    StableDiffusion3Pipeline,
)

from underpaint.core import ErrorCode, Mode, Params, RequestError
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.schedulers import FLOW_SCHEDULER_NAMES as FLOW_SCHEDULERS
from underpaint.engines.diffusers.schedulers import SCHEDULER_NAMES as UNET_SCHEDULERS

PipelineKind = Literal["txt2img", "img2img", "inpaint", "edit", "edit_partial"]
Guidance = Literal["cfg", "distilled", "none"]

_IMAGE_MODES = frozenset({Mode.GENERATE, Mode.REFINE, Mode.FILL, Mode.REMOVE, Mode.EXPAND})
_INPAINT_MODES = frozenset({Mode.FILL, Mode.REMOVE, Mode.EXPAND})


@dataclass(frozen=True)
class FamilyFacts:
    modes: frozenset[Mode]
    guidance: Guidance
    multiple: int
    """Working sizes are multiples of this: the VAE's 8x, times the transformer's 2x2 patches where it has them."""
    schedulers: tuple[str, ...]
    pipelines: dict[PipelineKind, Any]
    """The diffusers pipeline class of each kind of call; the first is the one a model loads as."""
    max_sequence_length: int = 0
    """T5 tokens the prompt is encoded to (FLUX, SD 3.5); 0 for the CLIP-only UNet families."""
    large_text_encoder: str = ""
    """The pipeline attribute of the text encoder worth dropping after encoding (T5: most of FLUX's and SD 3.5's
    text-encoding memory); empty where there is none."""
    control_pipelines: dict[PipelineKind, Any] | None = None
    """The diffusers ControlNet pipeline of each kind of call, for the flow-matching families that run controls
    (the UNet families' live in controlnets.py)."""


_FLUX_PIPELINES: dict[PipelineKind, Any] = {"txt2img": FluxPipeline, "img2img": FluxImg2ImgPipeline,
                                            "inpaint": FluxInpaintPipeline}
_FLUX_CONTROL_PIPELINES: dict[PipelineKind, Any] = {"txt2img": FluxControlNetPipeline,
                                                    "img2img": FluxControlNetImg2ImgPipeline,
                                                    "inpaint": FluxControlNetInpaintPipeline}

FACTS: dict[Family, FamilyFacts] = {
    Family.FLUX_DEV: FamilyFacts(_IMAGE_MODES, "distilled", 16, FLOW_SCHEDULERS, _FLUX_PIPELINES, 512,
                                 "text_encoder_2", _FLUX_CONTROL_PIPELINES),
    # [schnell]'s T5 was trained on 256 tokens, and its transformer takes no guidance at all.
    Family.FLUX_SCHNELL: FamilyFacts(_IMAGE_MODES, "none", 16, FLOW_SCHEDULERS, _FLUX_PIPELINES, 256,
                                     "text_encoder_2", _FLUX_CONTROL_PIPELINES),
    Family.FLUX_FILL: FamilyFacts(_INPAINT_MODES, "distilled", 16, FLOW_SCHEDULERS, {"inpaint": FluxFillPipeline},
                                  512, "text_encoder_2"),
    Family.FLUX_KONTEXT: FamilyFacts(frozenset({Mode.EDIT, Mode.REFINE}), "distilled", 16, FLOW_SCHEDULERS,
                                     {"edit": FluxKontextPipeline, "edit_partial": FluxKontextInpaintPipeline,
                                      "img2img": FluxImg2ImgPipeline}, 512, "text_encoder_2"),
    Family.SD3: FamilyFacts(_IMAGE_MODES, "cfg", 16, FLOW_SCHEDULERS,
                            {"txt2img": StableDiffusion3Pipeline, "img2img": StableDiffusion3Img2ImgPipeline,
                             "inpaint": StableDiffusion3InpaintPipeline}, 256, "text_encoder_3"),
}
_UNET_FACTS = FamilyFacts(frozenset(Mode) - {Mode.EDIT}, "cfg", 8, UNET_SCHEDULERS, {})
"""SD 1.x/2.x/SDXL; their pipeline classes live in loader.py."""


def facts(family: Family) -> FamilyFacts:
    return FACTS.get(family, _UNET_FACTS)


def base_kind(family: Family) -> PipelineKind:
    """The kind a FLUX or SD 3.5 model loads as (its other pipelines are made from it)."""
    return next(iter(FACTS[family].pipelines))


def refuse_unsupported(family: Family, model: str, params: Params) -> None:
    """Refuses, at submit, what diffusers cannot run on a FLUX or SD 3.5 model: controls except on FLUX.1 [dev]
    and [schnell] (diffusers has no ControlNet pipeline for Fill or Kontext, and Underpaint loads none for SD 3.5
    yet), references (their IP-Adapters differ from SD's, and Underpaint loads none for them yet), and
    guidance_skip (FLUX has no guidance pass to skip; SD 3.5's pipelines keep the pooled embeddings out of
    reach)."""
    if family.unet:
        return
    what = {"controls (ControlNet)": params.controls and not facts(family).control_pipelines,
            "references (IP-Adapter)": params.references,
            "guidance_skip": params.guidance_skip > 0}
    asked = [name for name, given in what.items() if given]
    if asked:
        raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                           f"Model '{model}' is {family}: Underpaint runs no {' or '.join(asked)} with "
                           f"{family} models. Remove them, or use an SD 1.x, SD 2.x or SDXL model for them"
                           f"{' (or FLUX.1 [dev] for controls)' if 'controls (ControlNet)' in asked else ''}.")
