"""The registered super-resolution models: checked and pinned at intake, loaded on first use and kept warm.

They live in the same registry as checkpoints, LoRAs and ControlNets (`underpaint models add NAME PATH
--kind upscaler`), with role "upscaler" and spandrel's architecture name. Nothing here imports torch until
a job runs one, so an agent with none registered starts as light as before.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from underpaint.core import ErrorCode, RequestError
from underpaint.core.upscale import UpscaleParams
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.registry import ModelEntry, ModelRegistry, RegistryError, checked_location

if TYPE_CHECKING:
    from underpaint.engines.upscalers.runner import SuperResolution

ROLE = "upscaler"


class Upscalers:
    """The upscalers of `registry`, run on `device` in `dtype` (engines.diffusers.device's names and picks)."""

    def __init__(self, registry: ModelRegistry, device: str = "auto", dtype: str = "auto") -> None:
        self.registry = registry
        self.device, self.dtype = device, dtype
        self._warm: tuple[str, str, SuperResolution] | None = None
        self._lock = threading.Lock()

    def names(self) -> tuple[str, ...]:
        try:
            return tuple(sorted(name for name, entry in self.registry.entries().items() if entry.role == ROLE))
        except RegistryError:
            return ()

    def pin(self, upscale: UpscaleParams, job_id: str | None = None) -> UpscaleParams:
        """`upscale` with its upscaler's content hash filled in; unknown_upscaler for a name not registered as
        one, upscaler_changed when the job pins a hash the registered file no longer has."""
        if upscale.upscaler is None:
            return upscale
        entry = self._entry(upscale.upscaler, job_id)
        if upscale.upscaler_sha256 is not None and upscale.upscaler_sha256 != entry.sha256:
            raise RequestError(ErrorCode.UPSCALER_CHANGED,
                               f"Upscaler '{entry.name}' is not the one this job pins (sha256 "
                               f"{upscale.upscaler_sha256[:12]}, registered now: {entry.sha256[:12]}); register "
                               "the pinned file under another name, or drop upscaler_sha256 to use it as it is.",
                               job_id)
        return upscale.model_copy(update={"upscaler_sha256": entry.sha256})

    def load(self, name: str, job_id: str | None = None) -> SuperResolution:
        """Upscaler `name`, loaded (or the warm one, when it is still the registered content)."""
        entry = self._entry(name, job_id)
        with self._lock:
            if self._warm is not None and self._warm[:2] == (name, entry.sha256):
                return self._warm[2]
            try:
                location = checked_location(entry, "Upscaler", lambda path: None, " --kind upscaler")
            except ModelFileError as exc:
                raise RequestError(ErrorCode.UPSCALER_CHANGED, str(exc), job_id) from None
            from underpaint.engines.diffusers.device import placement
            from underpaint.engines.upscalers.runner import SuperResolution
            from underpaint.engines.upscalers.spandrel_models import read_model

            try:
                model = read_model(location)
            except ModelFileError as exc:
                raise RequestError(ErrorCode.UNSUPPORTED_MODEL_FILE, f"Upscaler '{name}': {exc}", job_id) from None
            where = placement(self.device, self.dtype)
            self._warm = None  # one warm upscaler: the old one's memory goes before the new one's is counted
            self._warm = (name, entry.sha256, SuperResolution(model, where.device, where.dtype))
            return self._warm[2]

    def _entry(self, name: str, job_id: str | None) -> ModelEntry:
        try:
            entries = self.registry.entries()
        except RegistryError as exc:
            raise RequestError(ErrorCode.UNKNOWN_UPSCALER, str(exc), job_id) from None
        entry = entries.get(name)
        if entry is None or entry.role != ROLE:
            known = ", ".join(sorted(n for n, e in entries.items() if e.role == ROLE)) or "none registered"
            raise RequestError(ErrorCode.UNKNOWN_UPSCALER,
                               f"No upscaler named '{name}' (known: {known}); add one with `underpaint models add "
                               "NAME FILE --kind upscaler`, or leave upscaler out for the built-in Lanczos.", job_id)
        return entry
