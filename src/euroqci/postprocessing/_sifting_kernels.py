"""Kernels of sifting: Bob's click announcement as narrow gaps, without int64 temporaries.

Compiled with numba through ``euroqci._jit.njit`` (plain Python under ``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit


@njit(cache=True, nogil=True)
def largest_gap(click_index):
    """The largest gap between consecutive pulse numbers (the first from 0), or -1 if the
    numbers decrease anywhere."""
    previous = np.int64(0)
    largest = np.int64(0)
    for i in range(click_index.shape[0]):
        gap = click_index[i] - previous
        if gap < 0:
            return np.int64(-1)
        if gap > largest:
            largest = gap
        previous = click_index[i]
    return largest


@njit(cache=True, nogil=True)
def write_gaps(click_index, out):
    """``out[i] = click_index[i] - click_index[i - 1]`` (``out[0] = click_index[0]``)."""
    previous = np.int64(0)
    for i in range(click_index.shape[0]):
        out[i] = click_index[i] - previous
        previous = click_index[i]
