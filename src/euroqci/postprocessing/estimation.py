"""Parameter estimation on observed counts with the key-rate engine's finite-key bounds.

The decoy analysis and the key length are those of :func:`euroqci.protocols.finite_key.
decoy_key_length` (Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014)); this module only
feeds it the observed counts and the bits that error correction and verification disclosed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.protocols.finite_key import TailBound, decoy_key_length

__all__ = ["KeyLength", "binary_entropy", "secret_key_length"]


def binary_entropy(p: float) -> float:
    """``h(p) = -p log2 p - (1 - p) log2 (1 - p)``, 0 at 0 and 1.

    >>> round(binary_entropy(0.11), 4)
    0.4999
    """
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


@dataclass(frozen=True)
class KeyLength:
    """The finite-key outcome for one block."""

    secret_bits: int
    phase_error: float
    s_x0: float
    s_x1: float


def secret_key_length(
    *,
    n_x: npt.NDArray[np.int64],
    n_z: npt.NDArray[np.int64],
    m_x: npt.NDArray[np.int64],
    m_z: npt.NDArray[np.int64],
    intensities: tuple[float, ...],
    intensity_probabilities: tuple[float, ...],
    leak_bits: float,
    epsilon_sec: float,
    epsilon_cor: float,
    tail_bound: TailBound = TailBound.HOEFFDING,
) -> KeyLength:
    """Key length allowed by the observed counts (three intensities, signal first)."""
    b = decoy_key_length(
        n_x,
        n_z,
        m_x,
        m_z,
        intensities=intensities,
        intensity_probabilities=intensity_probabilities,
        leak_ec_bits=leak_bits,
        epsilon_sec=epsilon_sec,
        epsilon_cor=epsilon_cor,
        tail_bound=tail_bound,
    )
    return KeyLength(
        secret_bits=max(0, int(np.floor(float(b.secret_bits)))),
        phase_error=float(b.phase_error),
        s_x0=float(b.s_x0),
        s_x1=float(b.s_x1),
    )
