"""LoRA stacks on warm models: each LoRA loaded once per model, then switched per job by its weight alone.

diffusers (through peft) wraps each layer a LoRA touches in the UNet and text
encoders with a layer that calls the original and adds the low-rank product;
the weights are never merged, and the three pipelines of a model share those
modules (from_pipe), so one load serves every mode. A job's stack is set with
`set_adapters` (names and weights) and switched off after it with
`disable_lora`, after which every wrapper calls just its original layer: a job
without LoRAs computes exactly what it computed before any was loaded
(tests/test_loras.py compares the pixels). Loaded LoRAs stay, keyed by content
hash, at most KEEP per model; beyond that the least recently used is deleted.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from underpaint.core.spec import MAX_LORAS
from underpaint.engines.diffusers.checkpoint import ModelFileError, read_safetensors_header
from underpaint.engines.diffusers.loader import LoadedModel
from underpaint.engines.diffusers.registry import ModelEntry, checked_location

log = logging.getLogger(__name__)
KEEP = MAX_LORAS
"""LoRAs kept loaded per model: a whole stack always fits, and each costs only its own (small) weights."""


def adapter_name(entry: ModelEntry) -> str:
    """By content, so a re-registered file never reuses the old weights (peft names cannot hold dots)."""
    return "lora_" + entry.sha256[:16]


def apply(model: LoadedModel, stack: Sequence[tuple[ModelEntry, float]]) -> None:
    """Make `stack` (LoRA entries and weights) the model's active LoRAs; an empty stack switches all off.

    A weight of 0 leaves its LoRA out, so the job is exactly the one without it.
    Raises ModelFileError naming a LoRA file that cannot be loaded; the model is then left with none active.
    """
    weights: dict[str, float] = {}
    try:
        for entry, weight in stack:
            if weight != 0:
                name = _loaded(model, entry)
                # Two names for the same file are one adapter; LoRA deltas add, so the weights do.
                weights[name] = weights.get(name, 0.0) + weight
    except ModelFileError:
        switch_off(model)
        raise
    if not weights:
        switch_off(model)
        return
    model.base.set_adapters(list(weights), adapter_weights=list(weights.values()))
    model.base.enable_lora()


def switch_off(model: LoadedModel) -> None:
    if model.adapters:
        model.base.disable_lora()


def _loaded(model: LoadedModel, entry: ModelEntry) -> str:
    name = adapter_name(entry)
    if name in model.adapters:
        model.adapters.move_to_end(name)
        return name
    path = checked_location(entry, "LoRA", read_safetensors_header)
    while len(model.adapters) >= KEEP:
        oldest, lora = model.adapters.popitem(last=False)
        log.info("unloading LoRA %s from %s to make room", lora, model.entry.name)
        model.base.delete_adapters(oldest)
    try:
        with _quiet_adapter_reports():
            model.base.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name,
                                         local_files_only=True)
    except Exception as exc:
        if any(name in names for names in model.base.get_list_adapters().values()):
            model.base.delete_adapters(name)  # what was injected before the failure
        raise ModelFileError(f"LoRA '{entry.name}' ({path}) could not be loaded into {model.entry.name}: {exc}. "
                             "If the file is damaged, download or copy it again and `underpaint models add` it."
                             ) from exc
    model.adapters[name] = entry.name
    log.info("loaded LoRA %s into %s", entry.name, model.entry.name)
    return name


@contextmanager
def _quiet_adapter_reports() -> Iterator[None]:
    """Keep two false alarms out of the agent's log: transformers' 'load report' per text-encoder adapter
    calls every other adapter's weights missing, and peft warns that a second adapter makes several."""
    reports = logging.getLogger("transformers.integrations.peft")
    level = reports.level
    reports.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Already found a `peft_config` attribute", UserWarning)
            yield
    finally:
        reports.setLevel(level)
