"""Building the engines an agent (or an in-process caller) offers."""

from __future__ import annotations

from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine


def build_engines(default_engine: str) -> dict[str, Engine]:
    engines: dict[str, Engine] = {"classic": ClassicEngine()}
    if default_engine not in engines:
        raise ValueError(f"Unknown engine '{default_engine}'; available: {sorted(engines)}.")
    return engines
