"""Which free worker takes a job: one that has the job's model (and LoRAs) warm, else the least loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    name: str
    loaded_models: tuple[str, ...]
    recent_loras: frozenset[str]
    """The LoRAs its last job applied: their weights are still in the model's memory."""
    jobs_run: int


def pick(free: Sequence[Candidate], model: str | None, loras: frozenset[str], avoid: frozenset[str]) -> Candidate:
    """The free worker for a job on `model` with `loras`. Warm first (the model loaded, then the most of its
    LoRAs); among equally warm ones the least loaded: the fewest models held (the most memory free for a
    model it must load), then the fewest jobs run. Workers in `avoid` (those a job lost) only when no
    other is free. `free` must not be empty."""
    others = [candidate for candidate in free if candidate.name not in avoid] or list(free)

    def rank(candidate: Candidate) -> tuple[int, int, int, int, str]:
        warm = model is not None and model in candidate.loaded_models
        return (-int(warm), -len(loras & candidate.recent_loras) if warm else 0, len(candidate.loaded_models),
                candidate.jobs_run, candidate.name)

    return min(others, key=rank)
