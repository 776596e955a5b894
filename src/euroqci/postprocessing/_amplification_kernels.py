"""Kernels of the Toeplitz hash: packed bits to FFT input, FFT output to packed parities.

Each is one pass over memory where the numpy equivalent takes four to seven (unpack, convert,
scale, round, subtract, compare, mask, pack), which matters at 10^8 bits. They are oracle-tested
against the numpy expressions in ``tests/postprocessing/test_amplification.py``.
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit


@njit(cache=True, nogil=True)
def unpack_to_float(packed, n_bits, out):
    """Write bit ``i`` of ``packed`` (MSB first) to ``out[i]`` as 0.0/1.0; zero the rest."""
    full = n_bits // 8
    for byte_index in range(full):
        value = packed[byte_index]
        base = 8 * byte_index
        for bit in range(8):
            out[base + bit] = float((value >> (7 - bit)) & 1)
    for i in range(8 * full, n_bits):
        out[i] = float((packed[i // 8] >> (7 - i % 8)) & 1)
    for i in range(n_bits, out.size):
        out[i] = 0.0


@njit(cache=True, nogil=True)
def round_parity_pack(values, start, count, scale):
    """Parities of ``rint(values[start:start+count] * scale)``, packed MSB first.

    Returns the packed bits and the largest distance of a scaled value from its integer (the
    caller checks it against the rounding margin).
    """
    packed = np.zeros((count + 7) // 8, dtype=np.uint8)
    worst = 0.0
    for i in range(count):
        value = values[start + i] * scale
        nearest = np.rint(value)
        distance = abs(value - nearest)
        if distance > worst:
            worst = distance
        if np.int64(nearest) & 1:
            packed[i >> 3] |= np.uint8(1 << (7 - (i & 7)))
    return packed, worst
