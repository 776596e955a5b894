"""Kernels of the Toeplitz hash: packed bits to FFT input, FFT output to packed parities.

Each is one pass over memory where the numpy equivalent takes four to seven (unpack, convert,
scale, round, subtract, compare, mask, pack), which matters at 10^8 bits. They are oracle-tested
against the numpy expressions in ``tests/postprocessing/test_amplification.py``.
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit


@njit(cache=True, nogil=True)
def unpack_to_float(packed, start, count, out):
    """Write bits ``start .. start + count`` of ``packed`` (MSB first) to ``out[:count]`` as
    0.0/1.0; zero the rest of ``out``."""
    for i in range(count):
        p = start + i
        out[i] = float((packed[p >> 3] >> (7 - (p & 7))) & 1)
    for i in range(count, out.size):
        out[i] = 0.0


@njit(cache=True, nogil=True)
def round_parity_pack(values, start, count, scale, xor_bits):
    """Parities of ``rint(values[start:start+count] * scale)`` xor the first ``count`` bits of
    ``xor_bits`` (packed MSB first), packed MSB first.

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
        bit = (np.int64(nearest) & 1) ^ ((xor_bits[i >> 3] >> (7 - (i & 7))) & 1)
        if bit:
            packed[i >> 3] |= np.uint8(1 << (7 - (i & 7)))
    return packed, worst
