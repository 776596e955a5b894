"""Optional numba acceleration with a plain-Python fallback.

``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python; CI runs the kernel tests both ways.
numba is imported lazily, at the first call of a decorated function, so ``import euroqci``
stays light.
"""

from __future__ import annotations

import functools
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
    """Compile ``fn`` with ``numba.njit(*jit_args, **jit_kwargs)`` on first call, if available."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled: list[Callable[..., Any]] = []

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not compiled:
                if accelerated():
                    import numba

                    compiled.append(numba.njit(*jit_args, **jit_kwargs)(fn))
                else:
                    compiled.append(fn)
            return compiled[0](*args, **kwargs)

        wrapper.py_func = fn  # type: ignore[attr-defined]
        return wrapper

    return decorate
