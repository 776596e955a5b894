"""Small numeric helpers shared by the key-rate models: entropy and a vectorised optimiser.

Pure functions on numpy arrays. The optimiser is a golden-section search run on a whole
array of independent one-dimensional problems at once: scipy's scalar minimisers handle one
problem per call, and a Python loop over 10^5 link lengths is what the models must avoid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


def binary_entropy(p: npt.ArrayLike) -> FloatArray:
    """Binary Shannon entropy ``h(p) = -p log2 p - (1-p) log2(1-p)``, with ``h(0) = h(1) = 0``.

    >>> round(float(binary_entropy(0.11)), 4)
    0.4999
    """
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -q * np.log2(q) - (1.0 - q) * np.log2(1.0 - q)
    return np.asarray(np.where((q == 0.0) | (q == 1.0), 0.0, h), dtype=np.float64)


def capped_entropy(p: npt.ArrayLike) -> FloatArray:
    """``h(min(p, 1/2))``: an error-rate bound above 1/2 carries no more than one bit."""
    return binary_entropy(np.minimum(np.asarray(p, dtype=np.float64), 0.5))


def golden_section_maximise(
    objective: Callable[[FloatArray], FloatArray],
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    *,
    iterations: int = 40,
) -> FloatArray:
    """Maximise many unimodal one-dimensional functions at once.

    ``objective`` maps an array ``x`` (shape of ``lower``/``upper`` broadcast together) to an
    array of values of the same shape, elementwise. Returns the arg-max per element. The
    bracket shrinks by 0.618 per iteration (40 iterations: 4e-9 of the initial width).
    """
    a, b = np.broadcast_arrays(
        np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    )
    a, b = a.copy(), b.copy()
    c = b - _INV_PHI * (b - a)
    d = a + _INV_PHI * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(iterations):
        left = fc >= fd  # the maximum lies in [a, d], else in [c, b]
        a, b = np.where(left, a, c), np.where(left, d, b)
        # One new evaluation per element: the surviving interior point is reused.
        new_c = np.where(left, b - _INV_PHI * (b - a), d)
        new_d = np.where(left, c, a + _INV_PHI * (b - a))
        f_new = objective(np.where(left, new_c, new_d))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = new_c, new_d
    return np.asarray(np.where(fc >= fd, c, d), dtype=np.float64)
