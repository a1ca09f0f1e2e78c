"""Underpaint: a local generation agent for design tools.

The public Python API (`underpaint.fill`, `underpaint.remove`, ...) runs the
same job path as the agent, in-process. It is imported lazily so that
`import underpaint.something` stays cheap.
"""

from typing import Any

from underpaint.version import __version__

__all__ = ["__version__", "fill", "remove", "run", "save_psd"]


def __getattr__(name: str) -> Any:
    if name in ("fill", "remove", "run", "save_psd"):
        from underpaint import api

        return getattr(api, name)
    raise AttributeError(f"module 'underpaint' has no attribute {name!r}")
