"""Bit strings held packed, eight bits to a byte (``numpy.packbits`` order, first bit = MSB).

Keys travel between modules as :class:`BitString`; kernels unpack what they need.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BitString"]


@dataclass(frozen=True, eq=False, repr=False)
class BitString:
    """``n_bits`` bits packed into ``data`` (uint8, ``ceil(n_bits / 8)`` bytes, zero padded).

    The content never appears in ``repr``; compare two bit strings with :meth:`equals`, which
    uses ``hmac.compare_digest``.

    >>> b = BitString.from_bits(np.array([1, 0, 1], dtype=np.uint8))
    >>> b.n_bits, b.unpack().tolist()
    (3, [1, 0, 1])
    """

    data: npt.NDArray[np.uint8]
    n_bits: int

    def __post_init__(self) -> None:
        if self.data.dtype != np.uint8 or self.data.ndim != 1:
            raise TypeError("BitString.data: expected a 1-d uint8 array of packed bits")
        if self.n_bits < 0 or self.data.size != (self.n_bits + 7) // 8:
            raise ValueError("BitString.n_bits: expected ceil(n_bits / 8) == data.size")

    @classmethod
    def from_bits(cls, bits: npt.ArrayLike) -> BitString:
        """Pack an array of 0/1 values."""
        arr = np.asarray(bits, dtype=np.uint8).ravel()
        return cls(np.packbits(arr), int(arr.size))

    @classmethod
    def from_bytes(cls, raw: bytes, n_bits: int | None = None) -> BitString:
        """Wrap ``raw`` bytes; ``n_bits`` defaults to ``8 * len(raw)``."""
        n = 8 * len(raw) if n_bits is None else n_bits
        data = np.frombuffer(raw, dtype=np.uint8)[: (n + 7) // 8].copy()
        return cls(data, n)

    @classmethod
    def random(cls, n_bits: int, rng: np.random.Generator) -> BitString:
        """``n_bits`` uniform bits from ``rng`` (whole random bytes, the tail zeroed)."""
        data = np.frombuffer(rng.bytes((n_bits + 7) // 8), dtype=np.uint8).copy()
        if n_bits % 8:
            data[-1] &= np.uint8((0xFF << (8 - n_bits % 8)) & 0xFF)
        return cls(data, n_bits)

    @classmethod
    def empty(cls) -> BitString:
        """A bit string of length zero."""
        return cls(np.zeros(0, dtype=np.uint8), 0)

    def unpack(self) -> npt.NDArray[np.uint8]:
        """One uint8 0/1 per bit."""
        return np.unpackbits(self.data, count=self.n_bits)

    def to_bytes(self) -> bytes:
        """The packed bytes (the last byte zero padded)."""
        return self.data.tobytes()

    def __len__(self) -> int:
        return self.n_bits

    def __repr__(self) -> str:
        return f"BitString(n_bits={self.n_bits})"

    def equals(self, other: BitString) -> bool:
        """Constant-time equality of length and content."""
        return self.n_bits == other.n_bits and hmac.compare_digest(
            self.to_bytes(), other.to_bytes()
        )

    def slice(self, start: int, stop: int) -> BitString:
        """Bits ``start`` (inclusive) to ``stop`` (exclusive)."""
        return BitString.from_bits(self.unpack()[start:stop])
