"""Underpaint: a local generation agent for design tools.

The public Python API (`underpaint.fill`, `underpaint.replay`, ...) runs the
same job path as the agent, in-process. It is imported lazily so that
`import underpaint.something` stays cheap.
"""

from typing import Any

from underpaint.version import __version__

_API = ("Control", "ParamError", "Reference", "Underpaint", "edit", "expand", "fill", "fill_set", "generate",
        "generate_set", "refine", "remove", "replay", "run_set", "save_psd", "upscale")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from underpaint import api

        return getattr(api, name)
    raise AttributeError(f"module 'underpaint' has no attribute {name!r}")
