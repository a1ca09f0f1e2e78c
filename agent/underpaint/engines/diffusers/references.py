"""Reference images (IP-Adapter) on warm models: each reference its own weight, its own focus.

diffusers runs several IP-Adapters in one call, each with its own image embeddings
(`ip_adapter_image_embeds`, one tensor per adapter) and its own scale (`set_ip_adapter_scale`,
a number or an InstantStyle block dict per adapter). Several images given to one adapter share
its scale and are attended to together; per-image scales exist only with `ip_adapter_masks`,
which diffusers cuts to the output's aspect ratio. So every reference of a job is an adapter
slot of its own: each cross-attention processor gets one key/value projection per reference,
and references to the same file share that file's modules (nothing is copied), as they share its
image projection. Each file is loaded once per model with `load_ip_adapter` (through the base
pipeline, whose UNet the other pipelines share), its modules kept (at most KEEP files per model,
least recently used dropped), and the UNet's own processors put back right after.

Embeddings are computed here once per job, as diffusers' `encode_image` does (plain adapters: the
pooled image embedding, zeros as the negative; plus: the penultimate hidden states, those of a
black image as the negative), each with its adapter's own encoder, so adapters trained with
different encoders can share a job. Images are prepared by transformers' Pillow CLIP processor,
which gives the same pixels whether or not torchvision is installed.

A reference of weight 0 is left out, so its job is exactly the job without it. A job without
references runs on the UNet's original processor objects, put back, so it computes exactly what
it computed before any IP-Adapter was loaded (tests/test_references.py compares the pixels).

focus 'style' (InstantStyle) applies a reference only in the style layers: SDXL's
`up_blocks.0.attentions.1` (diffusers' documented `{"up": {"block_0": [0.0, w, 0.0]}}`) and,
for SD 1.x/2.x, `up_blocks.1` (what InstantStyle's infer_style_sd15.py uses, marked experimental).
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.models.attention_processor import IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0
from diffusers.models.embeddings import ImageProjection, MultiIPAdapterImageProjection
from PIL import Image
from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

from underpaint.core import ErrorCode, RequestError
from underpaint.core.conditioning import MAX_REFERENCES, ReferenceRef
from underpaint.engines.base import WorkItem
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, fingerprint, read_safetensors_header
from underpaint.engines.diffusers.ip_adapter_files import (
    ENCODER_FOLDER,
    encoder_config,
    files_fingerprint,
    files_sha256,
)
from underpaint.engines.diffusers.loader import LoadedModel
from underpaint.engines.diffusers.registry import ModelEntry

KEEP = MAX_REFERENCES
"""IP-Adapter files kept loaded per model: a job's references always fit."""
_PROCESSORS = (IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0)
_NOTICES = ("diffusers.loaders.ip_adapter", "diffusers.models.modeling_utils", "transformers")
_ADD = "`underpaint models add NAME ip-adapter.safetensors` (its image_encoder/ folder beside it, or --image-encoder)"


def ip_adapters_for(model: ModelEntry, entries: dict[str, ModelEntry]) -> tuple[str, ...]:
    """The registered IP-Adapters made for `model`'s family, by name; a reference naming none gets the first."""
    return tuple(sorted(name for name, entry in entries.items()
                        if entry.role == "ip_adapter" and entry.arch.family is model.arch.family))


def resolve(model: ModelEntry, references: Sequence[ReferenceRef], entries: dict[str, ModelEntry]
            ) -> list[tuple[ReferenceRef, ModelEntry]]:
    """Each reference pinned (its IP-Adapter's name and content hash filled in) with that adapter's entry.

    RequestError unknown_ip_adapter, incompatible_ip_adapter or ip_adapter_changed when one cannot run."""
    fitting = ip_adapters_for(model, entries)
    resolved = []
    for ref in references:
        name = ref.model or next(iter(fitting), None)
        if name is None:
            raise RequestError(ErrorCode.UNKNOWN_IP_ADAPTER,
                               f"No IP-Adapter is registered for {model.arch.family} models like '{model.name}', "
                               f"so its references cannot run; add one with {_ADD}.")
        entry = entries.get(name)
        if entry is None or entry.role != "ip_adapter":
            raise RequestError(ErrorCode.UNKNOWN_IP_ADAPTER,
                               f"No IP-Adapter named '{name}' (for {model.name}: "
                               f"{', '.join(fitting) or 'none registered'}); add one with {_ADD}.")
        if entry.arch.family is not model.arch.family:
            raise RequestError(ErrorCode.INCOMPATIBLE_IP_ADAPTER,
                               f"IP-Adapter '{name}' was made for {entry.architecture} models, but model "
                               f"'{model.name}' is {model.architecture}; use an IP-Adapter made for "
                               f"{model.arch.family} ({', '.join(fitting) or 'none registered'}), or a "
                               f"{entry.architecture} model.")
        if ref.sha256 is not None and ref.sha256 != entry.sha256:
            raise RequestError(ErrorCode.IP_ADAPTER_CHANGED,
                               f"IP-Adapter '{name}' is not the one this job asks for: its content hash is "
                               f"{entry.sha256[:12]}, the job pins {ref.sha256[:12]}. Register the original "
                               f"files as '{name}' again, or drop the pinned sha256 to use these.")
        resolved.append((ref.model_copy(update={"model": entry.name, "sha256": entry.sha256}), entry))
    return resolved


@dataclass(eq=False)
class _Encoder:
    model: Any
    processor: CLIPImageProcessorPil


@dataclass(eq=False)
class _Adapter:
    """One IP-Adapter file's modules in one model."""

    projection: torch.nn.Module
    processors: dict[str, Any]
    """Cross-attention processor name -> a processor holding this adapter's key and value projections alone."""
    encoder: tuple[str, str]
    """Its image encoder in `_Warm.encoders`."""

    @property
    def reads_hidden_states(self) -> bool:
        """Plus adapters read the encoder's penultimate hidden states, plain ones its image embedding."""
        return not isinstance(self.projection, ImageProjection)


@dataclass(eq=False)
class _Active:
    work: WorkItem
    embeds: list[tuple[torch.Tensor, torch.Tensor]]
    """(negative, positive) image embeddings per reference slot, each (1, 1, ...)."""


@dataclass(eq=False)
class _Warm:
    """What one model holds for references."""

    originals: dict[str, Any] | None = None
    """The UNet's attention processors before any IP-Adapter, put back for jobs without references."""
    hid_dim_type: Any = None
    adapters: OrderedDict[str, _Adapter] = field(default_factory=OrderedDict)
    """By content hash, least recently used first."""
    encoders: dict[tuple[str, str], _Encoder] = field(default_factory=dict)
    """By folder and fingerprint."""
    active: _Active | None = None


_WARM: weakref.WeakKeyDictionary[LoadedModel, _Warm] = weakref.WeakKeyDictionary()


def prepare(model: LoadedModel, work: WorkItem, references: Sequence[tuple[ReferenceRef, ModelEntry]]) -> None:
    """Set `model` up for `work`, whose `references` come from `resolve`: their adapters active at their
    weights, their images encoded; with none active when it has none (or only weight 0).

    Raises ModelFileError naming an IP-Adapter or image encoder that cannot be loaded; the model is then left
    with none active."""
    switch_off(model)
    slots = [(ref, entry, image) for (ref, entry), image in zip(references, work.reference_images, strict=True)
             if ref.weight != 0]
    if not slots:
        return
    warm = _WARM.setdefault(model, _Warm())
    adapters = [_loaded(model, warm, entry) for _, entry, _ in slots]
    embeds = [_embeds(warm.encoders[adapter.encoder], adapter.reads_hidden_states, image)
              for adapter, (_, _, image) in zip(adapters, slots, strict=True)]
    _install(model, warm, adapters)
    model.base.set_ip_adapter_scale([_scale(ref, model.arch.family) for ref, _, _ in slots])
    warm.active = _Active(work, embeds)


def reference_arguments(model: LoadedModel, work: WorkItem) -> dict[str, Any]:
    """The diffusers call arguments for `work`'s references (none without), after `prepare(model, work, ...)`."""
    warm = _WARM.get(model)
    active = warm.active if warm is not None else None
    if active is None or active.work is not work:
        if active is not None or any(ref.weight != 0 for ref in work.params.references):
            raise RuntimeError("references.prepare(model, work, ...) must run before the work's diffusers calls")
        return {}
    # With classifier-free guidance the pipeline splits each tensor into (negative, positive) halves.
    guided = work.params.guidance > 1 and model.base.unet.config.time_cond_proj_dim is None
    return {"ip_adapter_image_embeds": [torch.cat([negative, positive]) if guided else positive
                                        for negative, positive in active.embeds]}


def switch_off(model: LoadedModel) -> None:
    """Put the UNet's own attention processors back: no reference active."""
    warm = _WARM.get(model)
    if warm is None or warm.originals is None:
        return
    warm.active = None
    unet = model.base.unet
    unet.encoder_hid_proj = None
    unet.set_attn_processor(dict(warm.originals))  # it pops from the dict it gets
    unet.config.encoder_hid_dim_type = warm.hid_dim_type


def _scale(ref: ReferenceRef, family: Family) -> float | dict[str, Any]:
    """The reference's `set_ip_adapter_scale` entry: its weight everywhere, or in the style layers alone."""
    if ref.focus == "all":
        return ref.weight
    if family is Family.SDXL:
        return {"up": {"block_0": [0.0, ref.weight, 0.0]}}
    return {"up": {"block_1": ref.weight}}


def _install(model: LoadedModel, warm: _Warm, adapters: list[_Adapter]) -> None:
    """One adapter slot per reference in every cross-attention layer, sharing each file's modules."""
    assert warm.originals is not None
    processors = dict(warm.originals)
    for name, first in adapters[0].processors.items():
        slots = [adapter.processors[name] for adapter in adapters]
        combined = type(first)(first.hidden_size, first.cross_attention_dim, num_tokens=[], scale=[])
        combined.num_tokens = [slot.num_tokens[0] for slot in slots]
        combined.scale = [1.0] * len(slots)
        combined.to_k_ip = torch.nn.ModuleList(slot.to_k_ip[0] for slot in slots)
        combined.to_v_ip = torch.nn.ModuleList(slot.to_v_ip[0] for slot in slots)
        processors[name] = combined
    unet = model.base.unet
    # The projections (a plus adapter's Resampler) have attention processors too: set them after.
    unet.encoder_hid_proj = None
    unet.set_attn_processor(processors)
    unet.encoder_hid_proj = MultiIPAdapterImageProjection([adapter.projection for adapter in adapters])
    unet.config.encoder_hid_dim_type = "ip_image_proj"


def _loaded(model: LoadedModel, warm: _Warm, entry: ModelEntry) -> _Adapter:
    if entry.sha256 in warm.adapters:
        warm.adapters.move_to_end(entry.sha256)
        return warm.adapters[entry.sha256]
    path, encoder_folder = _checked_files(entry)
    encoder = _encoder(model, warm, encoder_folder)
    unet = model.base.unet
    if warm.originals is None:
        warm.originals, warm.hid_dim_type = dict(unet.attn_processors), unet.config.encoder_hid_dim_type
    try:
        with _quiet_loading_notices():
            model.base.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name,
                                       image_encoder_folder=None, local_files_only=True)
        processors = {name: p for name, p in unet.attn_processors.items() if isinstance(p, _PROCESSORS)}
        adapter = _Adapter(unet.encoder_hid_proj.image_projection_layers[0], processors, encoder)
    except Exception as exc:
        raise ModelFileError(f"IP-Adapter '{entry.name}' ({path}) could not be loaded into {model.entry.name}: "
                             f"{exc}. If the file is damaged, download or copy it again and `underpaint models "
                             "add` it.") from exc
    finally:
        switch_off(model)
    warm.adapters[entry.sha256] = adapter
    while len(warm.adapters) > KEEP:
        warm.adapters.popitem(last=False)
    used = {kept.encoder for kept in warm.adapters.values()}
    for unused in set(warm.encoders) - used:
        del warm.encoders[unused]
    return adapter


def _checked_files(entry: ModelEntry) -> tuple[Path, Path]:
    """The adapter's file and encoder folder, complete and still the content they were registered with."""
    path = entry.location
    encoder = Path(entry.image_encoder) if entry.image_encoder else path.parent / ENCODER_FOLDER
    if not path.is_file():
        raise ModelFileError(f"IP-Adapter '{entry.name}': {path} does not exist. Put it back, or "
                             f"`underpaint models remove {entry.name}` and add it again.")
    try:
        read_safetensors_header(path)
        encoder_config(encoder)
    except ModelFileError as exc:
        raise ModelFileError(f"IP-Adapter '{entry.name}': {exc}") from None
    if files_fingerprint(path, encoder) != entry.fingerprint and files_sha256(path, encoder) != entry.sha256:
        raise ModelFileError(f"IP-Adapter '{entry.name}': {path} or its image encoder {encoder} is not what was "
                             f"registered (the content changed); `underpaint models add {entry.name} {path}` again "
                             "to use it as it is now.")
    return path, encoder


def _encoder(model: LoadedModel, warm: _Warm, folder: Path) -> tuple[str, str]:
    key = (str(folder), fingerprint(folder))
    if key not in warm.encoders:
        try:
            encoder: Any = CLIPVisionModelWithProjection.from_pretrained(folder, dtype=model.placement.dtype,
                                                                         local_files_only=True)
        except Exception as exc:
            raise ModelFileError(f"The IP-Adapter image encoder {folder} could not be loaded: {exc}. Copy or "
                                 "download it again.") from exc
        encoder.to(model.placement.device).eval()
        size = encoder.config.image_size
        warm.encoders[key] = _Encoder(encoder, CLIPImageProcessorPil(size=size, crop_size=size))
    return key


def _embeds(encoder: _Encoder, hidden_states: bool, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = encoder.processor(Image.fromarray(image).convert("RGB"), return_tensors="pt").pixel_values
    pixels = pixels.to(device=encoder.model.device, dtype=encoder.model.dtype)
    with torch.inference_mode():
        if hidden_states:
            positive = encoder.model(pixels, output_hidden_states=True).hidden_states[-2]
            negative = encoder.model(torch.zeros_like(pixels), output_hidden_states=True).hidden_states[-2]
        else:
            positive = encoder.model(pixels).image_embeds
            negative = torch.zeros_like(positive)
    return negative[None], positive[None]


@contextmanager
def _quiet_loading_notices() -> Iterator[None]:
    """Keep three false alarms out of the agent's log: diffusers says no encoder was loaded (this module keeps
    its own) and that casting the UNet (to its own dtype) could upcast none of its modules, and transformers
    that the pipeline's new, unused feature extractor falls back to Pillow."""
    loggers = [logging.getLogger(name) for name in _NOTICES]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
