"""The diffusers engine: Stable Diffusion 1.x/2.x/SDXL, FLUX.1 ([dev], [schnell], Fill, Kontext) and SD 3.5
behind the Engine interface; what each family can do is in engines/diffusers/families.py.

Knows nothing of documents: it gets a WorkItem at working size and yields one
RGB8 image per seed, each as soon as it is decoded (variants run one by one;
docs/benchmarks.md says why not batched). A job's LoRA stack is applied to the
warm model before its first variant and switched off after its last
(engines/diffusers/adapters.py); its controls run their ControlNets beside it
(engines/diffusers/controlnets.py), on maps their preprocessor models make
(engines/diffusers/preprocessors.py), and its references their IP-Adapters in it
(engines/diffusers/references.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from underpaint.core import ErrorCode, Mode, Params, RequestError
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.conditioning import FROM_SOURCE, WEIGHTLESS_PREPROCESSORS, ControlKind, ReferenceRef
from underpaint.core.spec import LoraRef
from underpaint.engines.base import CancelToken, EngineError, JobCancelled, ProgressSink, WorkItem
from underpaint.engines.diffusers import adapters, controlnets, flow_calls, memory, preprocessors, references
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.cache import ModelCache
from underpaint.engines.diffusers.calls import encodings_reused, prompt_arguments, run_one
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.families import facts, refuse_unsupported
from underpaint.engines.diffusers.loader import LoadedModel, LoadOptions
from underpaint.engines.diffusers.previews import latents_to_rgb, wants_preview
from underpaint.engines.diffusers.registry import ModelEntry, ModelRegistry, RegistryError, make_entry

log = logging.getLogger(__name__)
NAME = "diffusers"


class DiffusersEngine:
    """Models by registry name (or a path given as the default); loaded on first use and kept warm."""

    def __init__(self, registry: ModelRegistry, default_model: str, options: LoadOptions,
                 max_models: int = 2) -> None:
        self.registry = registry
        self.default_model = default_model
        self.options = options
        self.cache = ModelCache(options, max_models)
        self.preprocessors = preprocessors.Preprocessors(options.placement)
        self._adhoc: dict[str, ModelEntry] = {}
        self._adhoc_lock = threading.Lock()
        self.entry(None)  # an unknown default fails here, at start, not at the first job

    # what the agent reports and plans with

    @property
    def capabilities(self) -> EngineCapabilities:
        return self.capabilities_for(None)

    def capabilities_for(self, model: str | None) -> EngineCapabilities:
        """Capabilities of `model` (the default model when None): its family's modes, sizes, guidance and
        schedulers, and the LoRAs, ControlNets and IP-Adapters made for it."""
        entries = self.registry.entries()
        loras: tuple[str, ...] = ()
        controls: tuple[tuple[str, ControlKind], ...] = ()
        ip_adapters: tuple[str, ...] = ()
        family: Family | None = None
        try:
            entry = self.entry(model)
            native_min, native_max, max_pixels = entry.native or entry.arch.native
            label = f"{entry.name} ({entry.architecture})"
            family = entry.arch.family
            loras = _loras_for(entry, entries)
            if family.unet or facts(family).control_pipelines:
                controls = controlnets.available(entry, entries)
            if family.unet:
                ip_adapters = references.ip_adapters_for(entry, entries)
        except (RegistryError, ModelFileError):
            native_min, native_max, max_pixels, label = 512, 768, 512 * 768, f"{model} (unavailable)"
        # An unavailable model is described as SD and takes any mode, so its jobs fail on the model, not the mode.
        known = facts(family or Family.SD1)
        names = sorted({*(name for name, e in entries.items() if e.role == "model"), self.default_name})
        return EngineCapabilities(
            name=NAME, modes=known.modes if family is not None else frozenset(Mode), uses_prompt=True,
            native_min=native_min, native_max=native_max, multiple=known.multiple, max_pixels=max_pixels,
            models=tuple(names), schedulers=known.schedulers, loras=loras, controlnets=controls,
            preprocessors=(FROM_SOURCE & (WEIGHTLESS_PREPROCESSORS | preprocessors.kinds(entries))
                           if (family or Family.SD1).unet or known.control_pipelines else frozenset()),
            ip_adapters=ip_adapters, device=self.options.placement.label, family=str(family or ""),
            guidance=known.guidance,
            description=(f"Diffusion models through diffusers on {self.options.placement.label}; model {label}; "
                         f"schedulers {', '.join(known.schedulers)}."),
        )

    def model_identity(self, model: str | None) -> tuple[str, str]:
        """(name, content sha256) of the model a job with `model` runs: what its recipe records."""
        entry = self.entry(model)
        return entry.name, entry.sha256

    @property
    def default_name(self) -> str:
        return self.entry(None).name

    def pin(self, params: Params) -> Params:
        if (base := self._entry_or_none(params.model)) is not None:
            refuse_unsupported(base.arch.family, base.name, params)
        self._check_guidance_skip(params)
        loras = tuple(ref.model_copy(update={"sha256": entry.sha256})
                      for ref, entry in self._stack(params.model, params.loras))
        controls = controlnets.pin(self._controls(params)[0])
        pinned = tuple(ref for ref, _ in self._references(params))
        return params.model_copy(update={"loras": loras, "controls": controls, "references": pinned})

    def _check_guidance_skip(self, params: Params) -> None:
        """Refuses guidance_skip where diffusers gives no way to drop the guidance halfway: with IP-Adapter
        references (their image embeddings are fixed before the first step), and with controls on an
        inpainting model (its every mode runs the ControlNet inpaint pipeline; calls.NO_GUIDANCE_SKIP)."""
        if params.guidance_skip <= 0:
            return
        if params.references:
            raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                               "guidance_skip cannot run with references: diffusers fixes the IP-Adapter's image "
                               "embeddings for guidance before the first step. Set guidance_skip to 0, or drop "
                               "the references.")
        base = self._entry_or_none(params.model) if params.controls else None
        if base is not None and base.arch.inpaint:
            raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                               "guidance_skip cannot run with controls on an inpainting model: diffusers' ControlNet "
                               "inpaint pipeline keeps its own mask. Set guidance_skip to 0, drop the controls, or "
                               "use a regular model.")

    def _entry_or_none(self, model: str | None) -> ModelEntry | None:
        try:
            return self.entry(model)
        except (RegistryError, ModelFileError):
            return None  # an unknown or broken model has its own refusal

    def entry(self, model: str | None) -> ModelEntry:
        name = model or self.default_model
        entries = self.registry.entries()
        if name in entries:
            if entries[name].role == "lora":
                raise RegistryError(f"'{name}' is a LoRA, not a model: give it in the job's LoRAs "
                                    f"(--lora {name}) on a {entries[name].architecture} model.")
            if entries[name].role == "controlnet":
                raise RegistryError(f"'{name}' is a ControlNet, not a model: name it in one of the job's "
                                    f"controls, on a {entries[name].architecture} model.")
            if entries[name].role == "ip_adapter":
                raise RegistryError(f"'{name}' is an IP-Adapter, not a model: name it in one of the job's "
                                    f"references, on a {entries[name].architecture} model.")
            if entries[name].role == "preprocessor":
                raise RegistryError(f"'{name}' is a preprocessor model, not a model: it makes the maps of "
                                    f"{entries[name].control_kind} controls.")
            return entries[name]
        path = Path(name).expanduser()
        if model is None and path.exists():
            with self._adhoc_lock:
                if name not in self._adhoc:
                    self._adhoc[name] = make_entry(path.name.removesuffix(".safetensors")[:64] or "model", path)
                return self._adhoc[name]
        return self.registry.get(name)

    # work

    def preload(self) -> None:
        """Load the default model on a background thread so the first job finds it warm."""
        def load() -> None:
            try:
                self.cache.get(self.entry(None))
            except Exception as exc:
                log.error("could not preload the default model: %s", exc)

        threading.Thread(target=load, name="underpaint-preload", daemon=True).start()

    def _stack(self, model: str | None, loras: tuple[LoraRef, ...]) -> list[tuple[LoraRef, ModelEntry]]:
        """Each of `loras` with its registry entry, checked against the model (RequestError when one cannot run)."""
        if not loras:
            return []
        try:
            base = self.entry(model)
        except RegistryError as exc:
            raise RequestError(ErrorCode.UNKNOWN_MODEL, str(exc)) from None
        entries = self.registry.entries()
        stack = []
        for ref in loras:
            entry = entries.get(ref.name)
            if entry is None or entry.role != "lora":
                known = ", ".join(_loras_for(base, entries)) or "none registered"
                raise RequestError(ErrorCode.UNKNOWN_LORA,
                                   f"No LoRA named '{ref.name}' (for {base.name}: {known}); add one with "
                                   "`underpaint models add NAME FILE.safetensors`.")
            if entry.arch.family.lineage is not base.arch.family.lineage:
                raise RequestError(ErrorCode.INCOMPATIBLE_LORA,
                                   f"LoRA '{ref.name}' was made for {entry.architecture} models, but model "
                                   f"'{base.name}' is {base.architecture}; use a LoRA made for "
                                   f"{base.arch.family.lineage}, or a {entry.architecture} model.")
            if ref.sha256 is not None and ref.sha256 != entry.sha256:
                raise RequestError(ErrorCode.LORA_CHANGED,
                                   f"LoRA '{ref.name}' is not the one this job asks for: its content hash is "
                                   f"{entry.sha256[:12]}, the job pins {ref.sha256[:12]}. Register the original "
                                   f"file as '{ref.name}' again, or drop the pinned sha256 to use this one.")
            stack.append((ref, entry))
        return stack

    def _controls(self, params: Params) -> tuple[controlnets.Stack, preprocessors.Made]:
        """Each of the job's controls, its preprocessor pinned, with its ControlNet's entry, and the preprocessor
        each runs (RequestError when one cannot run)."""
        if not params.controls:
            return [], ()
        try:
            base = self.entry(params.model)
        except RegistryError as exc:
            raise RequestError(ErrorCode.UNKNOWN_MODEL, str(exc)) from None
        entries = self.registry.entries()
        made = preprocessors.resolve(params.controls, entries)
        return (controlnets.resolve(base, entries, [control for control, _ in made]),
                tuple(entry for _, entry in made))

    def _references(self, params: Params) -> list[tuple[ReferenceRef, ModelEntry]]:
        """Each of the job's references pinned, with its IP-Adapter's entry (RequestError when one cannot run)."""
        if not params.references:
            return []
        try:
            base = self.entry(params.model)
        except RegistryError as exc:
            raise RequestError(ErrorCode.UNKNOWN_MODEL, str(exc)) from None
        return references.resolve(base, params.references, self.registry.entries())

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        try:
            stack = [(entry, ref.weight) for ref, entry in self._stack(work.params.model, work.params.loras)]
            control_stack, made = self._controls(work.params)
            reference_stack = self._references(work.params)
            work = self.preprocessors.finish(work, made)
            model = self.cache.get(self.entry(work.params.model))
            # ControlNets load before the LoRAs apply, so one that fails leaves no stack behind.
            controls = controlnets.prepare(model, work, control_stack, self.options.offline)
            references.prepare(model, work, reference_stack)
            adapters.apply(model, stack)
        except (RegistryError, ModelFileError) as exc:
            raise EngineError(ErrorCode.MODEL_UNAVAILABLE, str(exc)) from None
        try:
            yield from self._variants(model, work, progress, cancel, controls)
        except GeneratorExit:
            # Abandoned by its consumer, perhaps collected later while another job runs: leave the
            # LoRAs to that job (each job sets its own stack before its first step).
            raise
        except BaseException:
            adapters.switch_off(model)
            references.switch_off(model)
            raise
        adapters.switch_off(model)
        references.switch_off(model)

    def _variants(self, model: LoadedModel, work: WorkItem, progress: ProgressSink, cancel: CancelToken,
                  controls: controlnets.ActiveControls | None = None) -> Iterator[np.ndarray]:
        with encodings_reused(model.base.vae):
            yield from self._each_variant(model, work, progress, cancel, controls)

    def _encoded(self, model: LoadedModel, work: WorkItem) -> dict[str, Any]:
        """The job's prompt embeddings; with drop_text_encoders, T5 is read back before and freed after."""
        if model.arch.family.unet:
            return prompt_arguments(model, work)
        part = facts(model.arch.family).large_text_encoder
        # Offloaded models keep their idle parts on the CPU (the offload hooks bring them over to run).
        home = torch.device("cpu") if self.options.offload else model.placement.device
        memory.restore(model.base, part, model.entry.location, home, model.placement.dtype)
        encoded = flow_calls.prompt_arguments(model, work)
        # Sequential offload keeps its own copy of every weight on the CPU: dropping the module would free nothing.
        if self.options.drop_text_encoders and self.options.offload != "sequential":
            memory.drop(model.base, part)
        return encoded

    def _each_variant(self, model: LoadedModel, work: WorkItem, progress: ProgressSink, cancel: CancelToken,
                      controls: controlnets.ActiveControls | None) -> Iterator[np.ndarray]:
        family = model.arch.family
        prompt: dict[str, Any] | None = None
        for index, seed in enumerate(work.seeds):
            cancel.raise_if_cancelled()

            def on_step(step: int, steps: int, latents: torch.Tensor, index: int = index) -> None:
                preview = (latents_to_rgb(latents, family, work.width, work.height)
                           if wants_preview(step, steps) else None)
                progress(index, step, steps, preview)
                cancel.raise_if_cancelled()

            try:
                # After the job's LoRAs apply, before its first variant: one encoding for all of them.
                prompt = prompt if prompt is not None else self._encoded(model, work)
                if family.unet:
                    image = run_one(model, work, seed, on_step, controls, prompt)
                else:
                    image = flow_calls.run_one(model, work, seed, on_step, prompt, controls)
            except (JobCancelled, EngineError):
                raise
            except torch.OutOfMemoryError:
                raise EngineError(ErrorCode.ENGINE_FAILED, "The GPU ran out of memory; try fewer variants, a smaller "
                                  "selection, or cpu_offload = true.") from None
            except Exception as exc:
                log.exception("diffusers call failed")
                raise EngineError(ErrorCode.ENGINE_FAILED, f"The diffusers engine failed: {exc}") from exc
            yield image


def _loras_for(model: ModelEntry, entries: dict[str, ModelEntry]) -> tuple[str, ...]:
    """The registered LoRAs made for `model`'s family (a family's LoRAs fit its inpainting models too, and
    [dev]'s every FLUX.1 model)."""
    return tuple(sorted(name for name, entry in entries.items()
                        if entry.role == "lora" and entry.arch.family.lineage is model.arch.family.lineage))
