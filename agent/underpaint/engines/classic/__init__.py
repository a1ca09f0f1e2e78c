"""The classic engine: exemplar-based content-aware fill that needs no model weights."""

from underpaint.engines.classic.engine import CAPABILITIES, ClassicEngine, steps_for

__all__ = ["CAPABILITIES", "ClassicEngine", "steps_for"]
