"""Sifting: keep the detections where Alice's and Bob's bases agree.

Bob announces which pulses clicked and his bases; Alice answers with her bases and the
intensity of each of those pulses (public in decoy-state BB84). Pulses with both parties in X
form the raw key; those with both in Z are test bits (efficient BB84 with biased bases,
Lo, Chau, Ardehali, J. Cryptology 18, 133 (2005)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SiftedIndices", "click_gaps", "sift"]

BASIS_X = 1
BASIS_Z = 0


@dataclass(frozen=True, repr=False)
class SiftedIndices:
    """Positions (into the list of clicks) of the X-basis key bits and the Z-basis test bits,
    with the intensity index of each."""

    key: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]
    key_intensity: npt.NDArray[np.uint8]
    test_intensity: npt.NDArray[np.uint8]
    #: Key and test clicks per intensity index (as many entries as the largest index + 1).
    key_counts: npt.NDArray[np.int64]
    test_counts: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return f"SiftedIndices(key={self.key.size}, test={self.test.size})"

    def counts(self, n_intensities: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Detections per intensity in X (key) and in Z (test)."""
        n_x = np.zeros(max(n_intensities, self.key_counts.size), np.int64)
        n_z = np.zeros_like(n_x)
        n_x[: self.key_counts.size] = self.key_counts
        n_z[: self.test_counts.size] = self.test_counts
        return n_x, n_z


def sift(
    alice_bases: npt.NDArray[np.uint8],
    bob_bases: npt.NDArray[np.uint8],
    intensity: npt.NDArray[np.uint8],
) -> SiftedIndices:
    """Sift the clicks given both parties' bases (1 = X) and the intensity index per click.

    >>> s = sift(np.array([1, 0, 1, 0], np.uint8), np.array([1, 0, 0, 1], np.uint8),
    ...          np.array([0, 1, 2, 0], np.uint8))
    >>> s.key.tolist(), s.test.tolist()
    ([0], [1])
    """
    from euroqci.postprocessing._sifting_kernels import sift_clicks

    n_intensities = int(intensity.max()) + 1 if intensity.size else 1
    key, test, key_intensity, test_intensity, n_x, n_z = sift_clicks(
        np.ascontiguousarray(alice_bases, dtype=np.uint8),
        np.ascontiguousarray(bob_bases, dtype=np.uint8),
        np.ascontiguousarray(intensity, dtype=np.uint8),
        n_intensities,
    )
    return SiftedIndices(key, test, key_intensity, test_intensity, n_x, n_z)


def click_gaps(click_index: npt.NDArray[np.int64]) -> npt.NDArray[np.unsignedinteger]:
    """Bob's announcement of his clicks: the gaps between increasing pulse numbers.

    The first gap is the first pulse number. Gaps go in the narrowest unsigned type that holds
    them (uint16, uint32 or uint64): a quarter to a half of the int64 positions, so less to
    send and less to authenticate.

    >>> click_gaps(np.array([3, 4, 10], np.int64)).tolist()
    [3, 1, 6]
    """
    from euroqci.postprocessing._sifting_kernels import largest_gap, write_gaps

    index = np.ascontiguousarray(click_index, dtype=np.int64)
    largest = int(largest_gap(index))
    if largest < 0:
        raise ValueError("click_index: expected increasing pulse numbers")
    dtype: np.dtype[np.unsignedinteger] = np.dtype(np.uint64)
    for narrow in (np.dtype(np.uint16), np.dtype(np.uint32)):
        if largest <= np.iinfo(narrow).max:
            dtype = narrow
            break
    gaps: npt.NDArray[np.unsignedinteger] = np.empty(index.size, dtype=dtype)
    write_gaps(index, gaps)
    return gaps
