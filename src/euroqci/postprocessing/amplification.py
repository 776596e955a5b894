"""Privacy amplification by Toeplitz hashing, bit-exact.

The output is ``y = T x`` over GF(2) with ``T`` the m x n Toeplitz matrix
``T[i, j] = s[i - j + n - 1]`` of a public random seed ``s`` of ``n + m - 1`` bits, a
2-universal family (Carter and Wegman 1979; Krawczyk, CRYPTO '94), so the leftover hash lemma
applies (Tomamichel et al., IEEE TIT 57, 5524 (2011)). ``T x`` is the middle of the integer
convolution ``s * x`` taken modulo 2: we compute the convolution with a real FFT in float64,
round to integers and check that every value was within 0.25 of an integer (an exact result,
not an approximation); if ever it was not, we fall back to an exact blockwise computation.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import scipy.fft

from euroqci.postprocessing.bits import BitString

__all__ = ["toeplitz_hash", "toeplitz_hash_direct"]

log = logging.getLogger(__name__)

_ROUNDING_MARGIN = 0.25


def _convolution_mod2(
    seed: npt.NDArray[np.uint8], x: npt.NDArray[np.uint8], m: int, workers: int
) -> tuple[npt.NDArray[np.float64], float]:
    n = x.size
    # A cyclic convolution of length >= len(seed) = n + m - 1 leaves the middle outputs
    # n - 1 .. n + m - 2 free of wrap-around, so the FFT need not cover the whole product.
    size = scipy.fft.next_fast_len(seed.size, real=True)
    spec = scipy.fft.rfft(seed.astype(np.float64), size, workers=workers)
    spec *= scipy.fft.rfft(x.astype(np.float64), size, workers=workers)
    conv = scipy.fft.irfft(spec, size, workers=workers, overwrite_x=True)
    del spec
    middle = conv[n - 1 : n - 1 + m]
    rounded = np.rint(middle)
    worst = float(np.max(np.abs(middle - rounded))) if m else 0.0
    return rounded, worst


def toeplitz_hash(
    key: BitString, seed: BitString, *, output_bits: int, workers: int = 2
) -> BitString:
    """Compress ``key`` (n bits) to ``output_bits`` bits with the Toeplitz matrix of ``seed``.

    Parameters
    ----------
    key
        The reconciled key, ``n`` bits.
    seed
        Public uniformly random bits, ``n + output_bits - 1`` of them.
    output_bits
        Length ``m`` of the result, ``0 <= m <= n``.
    workers
        Threads for the FFT.

    Returns
    -------
    BitString
        ``m`` bits, identical to :func:`toeplitz_hash_direct`.

    >>> k = BitString.from_bits([1, 0, 1, 1])
    >>> s = BitString.from_bits([1, 1, 0, 1, 0])
    >>> toeplitz_hash(k, s, output_bits=2).unpack().tolist()
    [1, 1]
    """
    n = key.n_bits
    if not 0 <= output_bits <= n:
        raise ValueError(f"output_bits: expected 0 <= output_bits <= {n} (the key length)")
    if seed.n_bits != n + output_bits - 1 and output_bits > 0:
        raise ValueError(f"seed: expected {n + output_bits - 1} bits (n + output_bits - 1)")
    if output_bits == 0:
        return BitString.empty()
    x = key.unpack()
    s = seed.unpack()
    rounded, worst = _convolution_mod2(s, x, output_bits, workers)
    if worst >= _ROUNDING_MARGIN:  # pragma: no cover - not reached below n ~ 1e11
        log.warning("FFT rounding margin %.3f too small; using the exact blockwise product", worst)
        return toeplitz_hash_direct(key, seed, output_bits=output_bits)
    return BitString.from_bits((rounded.astype(np.int64) & 1).astype(np.uint8))


def toeplitz_hash_direct(key: BitString, seed: BitString, *, output_bits: int) -> BitString:
    """The same hash by an explicit matrix-vector product over GF(2), blockwise (slow oracle)."""
    n = key.n_bits
    x = key.unpack().astype(np.int64)
    s = seed.unpack().astype(np.int64)
    out = np.zeros(output_bits, dtype=np.uint8)
    rows = max(1, 2**22 // max(n, 1))
    cols = np.arange(n)
    for start in range(0, output_bits, rows):
        i = np.arange(start, min(start + rows, output_bits))[:, None]
        matrix = s[i - cols[None, :] + n - 1]
        out[start : start + i.shape[0]] = (matrix @ x) & 1
    return BitString.from_bits(out)
