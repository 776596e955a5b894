"""Privacy amplification by (modified) Toeplitz hashing, bit-exact.

The output is ``y = [I_m | T] x`` over GF(2): with ``x = (x1, x2)``, ``x1`` the first ``m``
bits and ``x2`` the other ``n - m``, ``y = x1 xor T x2`` where ``T`` is the m x (n - m)
Toeplitz matrix ``T[i, j] = s[i - j + n - m - 1]`` of a public random seed ``s`` of ``n - 1``
bits. This is the "modified Toeplitz" family of Hayashi and Tsurumaru, IEEE TIT 62, 2213
(2016), Sec. V, used in QKD systems because it needs ``n - 1`` seed bits instead of
``n + m - 1`` and a shorter convolution. It is universal_2, so the leftover hash lemma applies
(Tomamichel et al., IEEE TIT 57, 5524 (2011)): for keys ``x != x'`` with ``d = x xor x'``,
``h(x) = h(x')`` iff ``d1 = T d2``; if ``d2 = 0`` that needs ``d1 = 0``, impossible; if
``d2 != 0``, ``T d2`` is uniform over ``{0,1}^m`` for a uniform seed (Krawczyk, CRYPTO '94,
Toeplitz hashing), so it happens with probability ``2^-m``. A test checks this exhaustively
on small sizes.

``T x2`` is the middle of the integer convolution ``s * x2`` taken modulo 2: we compute the
convolution with a real FFT in float64 (FFTW), round to integers and check that every value was
within 0.25 of an integer (an exact result, not an approximation); if ever it was not, we fall
back to an exact blockwise computation.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyfftw

from euroqci.postprocessing.bits import BitString

__all__ = ["seed_bits", "toeplitz_hash", "toeplitz_hash_direct"]

log = logging.getLogger(__name__)

_ROUNDING_MARGIN = 0.25
# FFTW (through pyFFTW) rather than scipy's pocketfft: on this project's machines FFTW's
# codelets run a 1.5e6-point real transform in about 8 ms against pocketfft's 23 ms, and the
# two forward transforms run on two threads at once (FFTW releases the GIL). FFTW_ESTIMATE
# plans cost milliseconds; measured plans would be faster still but take tens of seconds.
_PLAN_FLAGS = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")


def _fast_size(n: int) -> int:
    """The smallest even ``L >= n`` of the form 2^a 3^b 5^c 7^d (sizes FFTW's codelets like)."""
    best = 1 << max(1, (n - 1).bit_length())
    p7 = 1
    while p7 < best:
        p75 = p7
        while p75 < best:
            p753 = p75
            while p753 < best:
                size = p753
                while size < n:
                    size *= 2
                if size % 2 == 0 and size < best:
                    best = size
                p753 *= 3
            p75 *= 5
        p7 *= 7
    return best


class _Workspace:
    """FFTW plans and two aligned in-place buffers for one transform size.

    Fresh buffers of this size cost about as much in page faults as the transform itself, so
    workspaces of small sizes are kept for the next call (see :func:`_acquire_workspace`).
    Transforms run in place (the real signal is a view on the spectrum's memory), so a
    workspace takes 16 bytes per point.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.key_spectrum = pyfftw.empty_aligned(size // 2 + 1, dtype=np.complex128)
        self.seed_spectrum = pyfftw.empty_aligned(size // 2 + 1, dtype=np.complex128)
        self.key_in = self.key_spectrum.view(np.float64)[:size]
        self.seed_in = self.seed_spectrum.view(np.float64)[:size]
        self.key_plan = pyfftw.FFTW(self.key_in, self.key_spectrum, flags=_PLAN_FLAGS)
        self.seed_plan = pyfftw.FFTW(self.seed_in, self.seed_spectrum, flags=_PLAN_FLAGS)
        # The product goes back in place: the convolution ends up in ``key_in``.
        self.backward_plan = pyfftw.FFTW(
            self.key_spectrum,
            self.key_in,
            direction="FFTW_BACKWARD",
            flags=_PLAN_FLAGS,
        )


_THREADED_MIN_SIZE = 1 << 17  # below this a second thread costs more than it saves
_CACHE_MAX_SIZE = 1 << 24  # keep workspaces up to 268 MB (1e7-bit keys); larger: per call
_CACHE_ENTRIES = 2  # Alice and Bob hash at the same time in one process
_cache: list[_Workspace] = []
_cache_lock = threading.Lock()


def _acquire_workspace(size: int) -> _Workspace:
    """A workspace of ``size`` with its lock held by the caller (release it when done)."""
    if size <= _CACHE_MAX_SIZE:
        with _cache_lock:
            for space in _cache:
                if space.size == size and space.lock.acquire(False):
                    return space
    space = _Workspace(size)
    space.lock.acquire()
    if size <= _CACHE_MAX_SIZE:
        with _cache_lock:
            _cache.append(space)
            # Forget the oldest workspaces that nobody is using.
            for old in list(_cache):
                if len(_cache) <= _CACHE_ENTRIES:
                    break
                if old is not space and not old.lock.locked():
                    _cache.remove(old)
    return space


def seed_bits(key_bits: int, output_bits: int) -> int:
    """Seed length for hashing ``key_bits`` down to ``output_bits``: ``n - 1`` (0 if m is 0).

    >>> seed_bits(1000, 300)
    999
    """
    return max(key_bits - 1, 0) if output_bits > 0 else 0


def _hash_fft(key: BitString, seed: BitString, m: int, workers: int) -> tuple[BitString, float]:
    """``x1 xor T x2`` by FFT; also the worst distance of a convolution value from an integer."""
    from euroqci.postprocessing._amplification_kernels import round_parity_pack, unpack_to_float

    n2 = key.n_bits - m
    # A cyclic convolution of length >= len(seed) = n2 + m - 1 leaves the middle outputs
    # n2 - 1 .. n2 + m - 2 free of wrap-around, so the FFT need not cover the whole product.
    space = _acquire_workspace(_fast_size(seed.n_bits))
    try:
        unpack_to_float(key.data, m, n2, space.key_in)
        unpack_to_float(seed.data, 0, seed.n_bits, space.seed_in)
        if workers > 1 and space.size >= _THREADED_MIN_SIZE:
            # The two forward transforms at once, one FFTW thread each (FFTW releases the GIL).
            # FFTW's own multi-threaded plans were no faster here and stalled whenever the
            # other core was busy.
            with ThreadPoolExecutor(max_workers=1) as pool:
                seed_done = pool.submit(space.seed_plan.execute)
                space.key_plan.execute()
                seed_done.result()
        else:
            space.key_plan.execute()
            space.seed_plan.execute()
        space.key_spectrum *= space.seed_spectrum
        space.backward_plan.execute()
        # execute() runs FFTW's unnormalised backward transform: scale what we keep, and add
        # x1 (the identity part) bit by bit.
        packed, worst = round_parity_pack(space.key_in, n2 - 1, m, 1.0 / space.size, key.data)
    finally:
        if space.size <= _CACHE_MAX_SIZE:
            # A kept workspace must not hold the key (or its convolution) until the next
            # block: wipe the key's buffer (the seed's holds only the public seed).
            space.key_spectrum.fill(0)
        space.lock.release()
    return BitString(packed, m), float(worst)


def _check(key: BitString, seed: BitString, output_bits: int) -> None:
    n = key.n_bits
    if not 0 <= output_bits <= n:
        raise ValueError(f"output_bits: expected 0 <= output_bits <= {n} (the key length)")
    expected = seed_bits(n, output_bits)
    if seed.n_bits != expected:
        raise ValueError(f"seed: expected {expected} bits (the key length - 1)")


def toeplitz_hash(
    key: BitString, seed: BitString, *, output_bits: int, workers: int = 2
) -> BitString:
    """Compress ``key`` (n bits) to ``output_bits`` bits with the modified Toeplitz matrix.

    Parameters
    ----------
    key
        The reconciled key, ``n`` bits.
    seed
        Public uniformly random bits, ``seed_bits(n, output_bits)`` (``n - 1``) of them.
    output_bits
        Length ``m`` of the result, ``0 <= m <= n``.
    workers
        Threads for the FFT (the two forward transforms run concurrently when > 1).

    Returns
    -------
    BitString
        ``m`` bits, identical to :func:`toeplitz_hash_direct`.

    >>> k = BitString.from_bits([1, 0, 1, 1])
    >>> s = BitString.from_bits([1, 1, 0])
    >>> toeplitz_hash(k, s, output_bits=2).unpack().tolist()
    [1, 1]
    """
    _check(key, seed, output_bits)
    if output_bits == 0:
        return BitString.empty()
    if output_bits == key.n_bits:  # T has no columns: y = x
        return BitString(key.data.copy(), key.n_bits)
    hashed, worst = _hash_fft(key, seed, output_bits, workers)
    if worst >= _ROUNDING_MARGIN:  # pragma: no cover - not reached below n ~ 1e11
        log.warning("FFT rounding margin %.3f too small; using the exact blockwise product", worst)
        return toeplitz_hash_direct(key, seed, output_bits=output_bits)
    return hashed


def toeplitz_hash_direct(key: BitString, seed: BitString, *, output_bits: int) -> BitString:
    """The same hash by an explicit matrix-vector product over GF(2), blockwise (slow oracle)."""
    _check(key, seed, output_bits)
    m = output_bits
    x = key.unpack().astype(np.int64)
    x1, x2 = x[:m], x[m:]
    n2 = x2.size
    s = seed.unpack().astype(np.int64)
    out = x1.astype(np.uint8) & 1
    rows = max(1, 2**22 // max(n2, 1))
    cols = np.arange(n2)
    for start in range(0, m if n2 else 0, rows):
        i = np.arange(start, min(start + rows, m))[:, None]
        matrix = s[i - cols[None, :] + n2 - 1]
        out[start : start + i.shape[0]] ^= ((matrix @ x2) & 1).astype(np.uint8)
    return BitString.from_bits(out)
