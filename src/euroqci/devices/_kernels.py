"""Kernels of the detection records: pure functions on the packed arrays.

Compiled with numba through ``euroqci._jit.njit`` (plain Python under ``NUMBA_DISABLE_JIT=1``);
imported lazily by :mod:`euroqci.devices.record`.
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit


@njit(cache=True, nogil=True)
def gather_pulses(bits, bases, intensity_index, pulses):
    """Bit, basis and intensity index of each pulse in ``pulses`` from the packed record.

    One pass where numpy's fancy indexing takes a dozen (shifts, masks, gathers, casts).
    """
    n = pulses.shape[0]
    out_bits = np.empty(n, dtype=np.uint8)
    out_bases = np.empty(n, dtype=np.uint8)
    out_index = np.empty(n, dtype=np.uint8)
    for i in range(n):
        p = pulses[i]
        shift = 7 - (p & 7)
        out_bits[i] = (bits[p >> 3] >> shift) & 1
        out_bases[i] = (bases[p >> 3] >> shift) & 1
        out_index[i] = (intensity_index[p >> 2] >> (6 - 2 * (p & 3))) & 3
    return out_bits, out_bases, out_index


@njit(cache=True, nogil=True)
def gather_gaps(bits, bases, intensity_index, stream, n_pulses):
    """:func:`gather_pulses` for the pulses announced as LEB128 gaps (first gap = first pulse
    number; see ``euroqci.postprocessing.sifting.click_gaps``).

    Decodes and gathers in one pass without materialising the pulse numbers. Returns
    ``(status, bits, bases, index)``: status 0 when every gap decoded within the record, 1 when
    a pulse number reaches ``n_pulses``, 2 when the stream is malformed (it ends inside a
    number, or a number has more than nine bytes).
    """
    n_bytes = stream.shape[0]
    n = 0
    for k in range(n_bytes):
        n += stream[k] < 128
    out_bits = np.empty(n, dtype=np.uint8)
    out_bases = np.empty(n, dtype=np.uint8)
    out_index = np.empty(n, dtype=np.uint8)
    if n_bytes > 0 and stream[n_bytes - 1] >= 128:
        return 2, out_bits[:0], out_bases[:0], out_index[:0]
    p = np.int64(0)
    k = 0
    for i in range(n):
        gap = np.int64(0)
        shift = 0
        while True:
            byte = np.int64(stream[k])
            k += 1
            gap |= (byte & 127) << shift
            if byte < 128:
                break
            shift += 7
            if shift > 56:  # nine bytes hold 63 bits: a longer number is not a pulse number
                return 2, out_bits[:0], out_bases[:0], out_index[:0]
        if gap >= n_pulses - p:
            return 1, out_bits[:0], out_bases[:0], out_index[:0]
        p += gap
        bit_shift = 7 - (p & 7)
        out_bits[i] = (bits[p >> 3] >> bit_shift) & 1
        out_bases[i] = (bases[p >> 3] >> bit_shift) & 1
        out_index[i] = (intensity_index[p >> 2] >> (6 - 2 * (p & 3))) & 3
    return 0, out_bits, out_bases, out_index


@njit(cache=True, nogil=True)
def pack_two_bit(values, out):
    """Pack ``values`` (0-3) four to a byte into ``out``, first in the high bits; the last
    byte is zero-padded."""
    n = values.shape[0]
    for b in range(out.shape[0]):
        acc = np.uint8(0)
        for k in range(4):
            i = 4 * b + k
            v = values[i] & 3 if i < n else 0
            acc |= np.uint8(v << (6 - 2 * k))
        out[b] = acc


@njit(cache=True, nogil=True)
def unpack_two_bit(packed, start, out):
    """Values ``start .. start + len(out)`` of the two-bit array ``packed``."""
    for i in range(out.shape[0]):
        p = start + i
        out[i] = (packed[p >> 2] >> (6 - 2 * (p & 3))) & 3
