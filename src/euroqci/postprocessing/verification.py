"""Verification of reconciled frames with a universal hash.

Alice draws ``t`` hash keys uniformly in ``[0, p)``, ``p = 2^61 - 1``, after reconciliation and
sends them with her tags; a frame of ``L`` 32-bit words whose keys differ has equal tags with
probability at most ``(L / p)^t`` (polynomial hashing, Carter and Wegman 1979). ``t`` is the
smallest count that brings this below ``epsilon_cor / frames``, so the probability that any
accepted frame differs is at most ``epsilon_cor`` (Fung, Ma, Chau, PRA 81, 012318 (2010)).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from euroqci.postprocessing._kernels import MERSENNE61, frame_hashes61

__all__ = ["frame_tags", "frame_words", "hash_count", "tag_bits"]

_LOG2_P = 61.0


def hash_count(*, frame_bits: int, n_frames: int, epsilon_cor: float) -> int:
    """Number of independent 61-bit hashes per frame that meets ``epsilon_cor`` over all frames.

    >>> hash_count(frame_bits=131072, n_frames=10, epsilon_cor=1e-15)
    2
    """
    if not 0 < epsilon_cor < 1:
        raise ValueError("epsilon_cor: expected a probability in (0, 1)")
    words = frame_bits // 32 + 2
    per_hash = _LOG2_P - math.log2(words)
    need = math.log2(max(n_frames, 1) / epsilon_cor)
    return max(1, math.ceil(need / per_hash))


def tag_bits(count: int) -> int:
    """Bits disclosed per frame by ``count`` tags."""
    return 61 * count


def frame_words(frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Frames (F, N) of 0/1 bits as rows of 32-bit words (uint64), zero padded."""
    n_frames, n_bits = frames.shape
    packed = np.packbits(frames, axis=1)
    pad = -packed.shape[1] % 4
    if pad:
        packed = np.concatenate([packed, np.zeros((n_frames, pad), dtype=np.uint8)], axis=1)
    del n_bits
    return packed.view(">u4").astype(np.uint64)


def frame_tags(
    frames: npt.NDArray[np.uint8], keys: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """Tags (F, len(keys)) of each frame under each hash key (keys in ``[0, 2^61 - 1)``)."""
    if np.any(keys >= MERSENNE61):
        raise ValueError("keys: expected hash keys below 2^61 - 1")
    tags: npt.NDArray[np.uint64] = frame_hashes61(frame_words(frames), keys)
    return tags
