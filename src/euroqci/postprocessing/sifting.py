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


def click_gaps(click_index: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Bob's announcement of his clicks: the gaps between increasing pulse numbers, LEB128.

    The first gap is the first pulse number. Each gap is a variable-length number of seven
    bits per byte, low bits first, the high bit set on every byte but its last (LEB128, as
    in DWARF and Protocol Buffers): a gap below 128 takes one byte, below 16384 two. At a few
    percent of pulses clicking that is about one byte per click, half of uint16 gaps and an
    eighth of int64 positions: less to send on the classical channel and less to
    authenticate. Alice reads them with :meth:`euroqci.devices.record.AliceRecord.at_gaps`.

    >>> click_gaps(np.array([3, 4, 10, 210], np.int64)).tolist()
    [3, 1, 6, 200, 1]
    """
    from euroqci.postprocessing._sifting_kernels import varint_gaps_size, write_varint_gaps

    index = np.ascontiguousarray(click_index, dtype=np.int64)
    size = int(varint_gaps_size(index))
    if size < 0:
        raise ValueError("click_index: expected increasing pulse numbers")
    out = np.empty(size, dtype=np.uint8)
    write_varint_gaps(index, out)
    return out
