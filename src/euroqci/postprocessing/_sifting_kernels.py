"""Kernels of sifting: Bob's click announcement as LEB128 gaps, the sifting itself, counts.

Compiled with numba through ``euroqci._jit.njit`` (plain Python under ``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit


@njit(cache=True, nogil=True)
def varint_gaps_size(click_index):
    """Bytes of the LEB128 encoding of the gaps between consecutive pulse numbers (the first
    from 0), or -1 if the numbers decrease anywhere."""
    previous = np.int64(0)
    size = np.int64(0)
    for i in range(click_index.shape[0]):
        gap = click_index[i] - previous
        if gap < 0:
            return np.int64(-1)
        size += 1
        while gap >= 128:
            gap >>= 7
            size += 1
        previous = click_index[i]
    return size


@njit(cache=True, nogil=True)
def write_varint_gaps(click_index, out):
    """Write the gaps as LEB128 (seven bits per byte, low bits first, the high bit set on
    every byte but a number's last) into ``out`` (``varint_gaps_size`` bytes)."""
    previous = np.int64(0)
    k = 0
    for i in range(click_index.shape[0]):
        gap = click_index[i] - previous
        while gap >= 128:
            out[k] = np.uint8((gap & 127) | 128)
            gap >>= 7
            k += 1
        out[k] = np.uint8(gap)
        k += 1
        previous = click_index[i]


@njit(cache=True, nogil=True)
def sift_clicks(alice_bases, bob_bases, intensity, n_intensities):
    """Positions and intensities of the key (both X) and test (both Z) clicks, and the counts
    per intensity, in two passes over the clicks (no boolean or int64 temporaries).

    Branch-free: the bases are random, so an ``if`` per click would be mispredicted half the
    time. Each click gets a class (0 discarded, 1 test, 2 key) and every write is done, with
    the output position advanced only for its class.
    """
    n = bob_bases.shape[0]
    counts = np.zeros((3, n_intensities), np.int64)
    for i in range(n):
        c = np.int64(alice_bases[i] == bob_bases[i]) * (1 + np.int64(bob_bases[i] & 1))
        counts[c, intensity[i]] += 1
    n_x = counts[2].copy()
    n_z = counts[1].copy()
    n_key = n_x.sum()
    n_test = n_z.sum()
    # One spare slot each: the unconditional write of the other class lands there.
    key = np.empty(n_key + 1, np.int64)
    test = np.empty(n_test + 1, np.int64)
    key_intensity = np.empty(n_key + 1, np.uint8)
    test_intensity = np.empty(n_test + 1, np.uint8)
    k = np.int64(0)
    t = np.int64(0)
    for i in range(n):
        c = np.int64(alice_bases[i] == bob_bases[i]) * (1 + np.int64(bob_bases[i] & 1))
        is_key = np.int64(c == 2)
        is_test = np.int64(c == 1)
        key[k] = i
        key_intensity[k] = intensity[i]
        test[t] = i
        test_intensity[t] = intensity[i]
        k += is_key
        t += is_test
    return key[:n_key], test[:n_test], key_intensity[:n_key], test_intensity[:n_test], n_x, n_z


@njit(cache=True, nogil=True)
def count_kept(key_intensity, ok, frame_bits, n_intensities):
    """Key bits per intensity in the frames that passed verification (``ok[f]``)."""
    counts = np.zeros(n_intensities, np.int64)
    for i in range(key_intensity.shape[0]):
        if ok[i // frame_bits]:
            counts[key_intensity[i]] += 1
    return counts


@njit(cache=True, nogil=True)
def count_kept_errors(corrected, raw, key_intensity, ok, frame_bits, n_intensities):
    """Bits that error correction changed, per intensity, in the frames that passed
    verification: Bob's observed errors of the key bits."""
    counts = np.zeros(n_intensities, np.int64)
    for i in range(raw.shape[0]):
        if corrected[i] != raw[i] and ok[i // frame_bits]:
            counts[key_intensity[i]] += 1
    return counts
