"""Finite-key decoy-state BB84: the key length of Lim et al., PRA 89, 022307 (2014).

The efficient BB84 protocol with biased basis choice (key from X, parameter estimation in Z)
and three intensities ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``. :func:`decoy_key_length` works
on counts: expected counts from the link model (key-rate planning) or observed counts from a
detection record (post-processing) go through the same bounds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.protocols import _kernels

__all__ = ["FiniteKeyBounds", "TailBound", "decoy_key_length"]

FloatArray = npt.NDArray[np.float64]


class TailBound(enum.Enum):
    """How statistical fluctuations of the counts are bounded."""

    #: Hoeffding's inequality, as in Lim et al. (2014), Eqs. (A1)-(A2).
    HOEFFDING = "hoeffding"
    #: Multiplicative Chernoff bound (tighter for small counts); see ``_kernels.chernoff_bounds``.
    CHERNOFF = "chernoff"


@dataclass(frozen=True)
class FiniteKeyBounds:
    """Result of the finite-key analysis (arrays shaped like the leading axes of the counts).

    Attributes
    ----------
    secret_bits : floor of the key length, 0 where no key can be extracted.
    secret_bits_raw : the key length before flooring and clipping (may be negative).
    s_x0, s_x1 : lower bounds on vacuum and single-photon events in the X (key) basis.
    s_z1 : lower bound on single-photon events in Z.
    v_z1 : upper bound on single-photon bit errors in Z.
    phase_error : upper bound on the single-photon phase-error rate in X (at most 0.5).
    """

    secret_bits: FloatArray
    secret_bits_raw: FloatArray
    s_x0: FloatArray
    s_x1: FloatArray
    s_z1: FloatArray
    v_z1: FloatArray
    phase_error: FloatArray


def _check_intensities(mu: FloatArray) -> None:
    if mu.shape[-1] != 3:
        raise ConfigurationError(
            "source.intensities: expected three mean photon numbers [mu1, mu2, mu3]",
            field="source.intensities",
        )
    mu1, mu2, mu3 = mu[..., 0], mu[..., 1], mu[..., 2]
    if np.any(mu3 < 0) or np.any(mu2 <= mu3) or np.any(mu1 <= mu2 + mu3):
        raise ConfigurationError(
            "source.intensities: expected mu1 > mu2 + mu3 and mu2 > mu3 >= 0 (photons per pulse)",
            field="source.intensities",
        )


def decoy_key_length(
    n_x: npt.ArrayLike,
    n_z: npt.ArrayLike,
    m_x: npt.ArrayLike,
    m_z: npt.ArrayLike,
    *,
    intensities: npt.ArrayLike,
    intensity_probabilities: npt.ArrayLike,
    leak_ec_bits: npt.ArrayLike,
    epsilon_sec: npt.ArrayLike = 1e-10,
    epsilon_cor: npt.ArrayLike = 1e-15,
    tail_bound: TailBound = TailBound.HOEFFDING,
) -> FiniteKeyBounds:
    """Secret key length from decoy-state counts (Lim et al. 2014, Eqs. (1)-(5)).

    Parameters
    ----------
    n_x, n_z : detections with both parties in X (resp. Z), per intensity, shape ``(..., 3)``.
    m_x, m_z : bit errors among them, shape ``(..., 3)`` (``m_x`` is kept for the record;
        the error-correction leak is given explicitly).
    intensities : mean photon numbers ``[mu1, mu2, mu3]`` per pulse, shape ``(..., 3)``.
    intensity_probabilities : ``[p1, p2, p3]``, shape ``(..., 3)``.
    leak_ec_bits : bits revealed by error correction (``f n_X h(e_X)`` for planning, the
        actual syndrome and parity bits in post-processing).
    epsilon_sec, epsilon_cor : secrecy and correctness parameters in (0, 1).
    tail_bound : :class:`TailBound`.

    Returns
    -------
    FiniteKeyBounds

    Examples
    --------
    >>> import numpy as np
    >>> b = decoy_key_length([6e6, 2e6, 2e3], [6e4, 2e4, 20], [6e4, 4e4, 1e3], [600, 400, 10],
    ...     intensities=[0.5, 0.1, 2e-4], intensity_probabilities=[0.7, 0.2, 0.1],
    ...     leak_ec_bits=1.16 * 8.002e6 * 0.013)
    >>> bool(b.secret_bits > 0)
    True
    """
    mu = np.asarray(intensities, dtype=np.float64)
    p = np.asarray(intensity_probabilities, dtype=np.float64)
    _check_intensities(mu)
    if np.any(p <= 0) or np.any(np.abs(np.sum(p, axis=-1) - 1.0) > 1e-9):
        raise ConfigurationError(
            "source.intensity_probabilities: expected three fractions > 0 that sum to 1",
            field="source.intensity_probabilities",
        )
    for name, eps in (("epsilon_sec", epsilon_sec), ("epsilon_cor", epsilon_cor)):
        eps_arr = np.asarray(eps, dtype=np.float64)
        if not np.all((eps_arr > 0.0) & (eps_arr < 1.0)):
            raise ConfigurationError(
                f"finite_key.{name}: expected a probability in (0, 1)", field=f"finite_key.{name}"
            )
    counts = [np.asarray(c, dtype=np.float64) for c in (n_x, n_z, m_x, m_z)]
    if any(c.shape[-1:] != (3,) for c in counts) or any(np.any(c < 0) for c in counts):
        raise ConfigurationError(
            "counts: expected non-negative counts per intensity, shape (..., 3)"
        )
    ell, s_x0, s_x1, s_z1, v_z1, phi = _kernels.lim_key_length(
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        mu,
        p,
        np.asarray(leak_ec_bits, dtype=np.float64),
        np.asarray(epsilon_sec, dtype=np.float64),
        np.asarray(epsilon_cor, dtype=np.float64),
        tail_bound is TailBound.CHERNOFF,
    )
    return FiniteKeyBounds(
        secret_bits=np.floor(np.maximum(ell, 0.0)),
        secret_bits_raw=ell,
        s_x0=s_x0,
        s_x1=s_x1,
        s_z1=s_z1,
        v_z1=v_z1,
        phase_error=phi,
    )
