"""Optional numba acceleration with a plain-Python fallback.

``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python; CI runs the kernel tests both ways.
Compiled kernels live in modules that the library imports lazily, inside the functions that
need them, so ``import euroqci`` and ``euroqci.api`` stay light.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["accelerated", "njit"]


def accelerated() -> bool:
    """True when numba is importable and not disabled by ``NUMBA_DISABLE_JIT``."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency; this guards odd installs
        return False
    return True


def njit(*jit_args: Any, **jit_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``numba.njit(*jit_args, **jit_kwargs)`` when numba is available, else the plain function.

    numba compiles on the first call; decorated kernels can call each other. Modules that use
    this import numba, so they are imported lazily (never from ``euroqci`` or ``euroqci.api``).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if accelerated():
            import numba

            compiled: Callable[..., Any] = numba.njit(*jit_args, **jit_kwargs)(fn)
            return compiled
        return fn

    return decorate
