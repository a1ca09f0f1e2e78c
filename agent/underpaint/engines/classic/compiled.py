"""How the classic engine's kernels are compiled (numba), stated once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(function: F) -> F:
    # cache: compile once per machine, not per process; nogil: the agent's event loop keeps running.
    return cast(F, numba.njit(cache=True, nogil=True)(function))


def parallel(function: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True, parallel=True)(function))


def inlined(function: F) -> F:
    """A small helper of kernels, compiled into each kernel that calls it: a call per pixel would cost more
    than the work it does."""
    return cast(F, numba.njit(cache=True, nogil=True, inline="always")(function))
