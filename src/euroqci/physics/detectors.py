"""Single-photon detectors and the click/error model of a prepare-and-measure link.

Bob measures with two threshold detectors. With system transmittance
``eta_sys = transmittance * efficiency`` and a phase-randomised pulse of mean ``mu``, the
probability of at least one click, excluding afterpulses, is (Lim et al., PRA 89, 022307 (2014),
Sec. IV)::

    D = 1 - (1 - 2 p_dc) exp(-eta_sys mu)

and, including afterpulses, ``R = D (1 + p_ap)``. The probability of an erroneous click is::

    e = p_dc + e_mis (1 - exp(-eta_sys mu)) + p_ap D / 2

Lim et al. print ``exp(-eta_ch mu)`` in the misalignment term; with ``eta_ch`` the optical error
would be 1/eta_Bob times too large, so we follow the standard model of Ma, Qi, Zhao, Lo,
PRA 72, 012326 (2005), Eq. (9), which uses the overall transmittance ``eta``. With ``p_ap = 0``
and ``Y0 = 2 p_dc`` these are Ma et al.'s gain ``Q = Y0 + 1 - exp(-eta mu)`` (to first order in
``Y0``) and error gain ``E Q = e0 Y0 + e_d (1 - exp(-eta mu))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError

__all__ = ["Detector", "click_probability", "error_click_probability"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Detector:
    """A pair of threshold single-photon detectors at Bob (figures per detector, per gate)."""

    efficiency: float = 0.1
    dark_count_probability: float = 6e-7
    afterpulse_probability: float = 0.0

    def __post_init__(self) -> None:
        for name in ("efficiency", "dark_count_probability", "afterpulse_probability"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value <= 1.0):
                raise ConfigurationError(
                    f"detector.{name}: expected a fraction in [0, 1], got {value}",
                    field=f"detector.{name}",
                )
        if self.efficiency == 0.0:
            raise ConfigurationError(
                "detector.efficiency: expected a fraction in (0, 1]; 0 detects nothing",
                field="detector.efficiency",
            )
        if self.dark_count_probability >= 0.5:
            raise ConfigurationError(
                "detector.dark_count_probability: expected a probability per gate below 0.5",
                field="detector.dark_count_probability",
            )


def click_probability(
    transmittance: npt.ArrayLike,
    mu: npt.ArrayLike,
    detector: Detector,
    *,
    with_afterpulses: bool = True,
) -> FloatArray:
    """Probability that Bob registers a click for a pulse of mean photon number ``mu``.

    ``R = D (1 + p_ap)`` with ``D = 1 - (1 - 2 p_dc) exp(-eta_sys mu)`` (Lim et al. 2014, Sec. IV).
    Broadcasts ``transmittance`` against ``mu``. Uses ``expm1`` so that it stays accurate for
    ``eta_sys mu`` down to 1e-20.
    """
    eta_sys_mu = np.asarray(transmittance, dtype=np.float64) * detector.efficiency * np.asarray(mu)
    p_dc = detector.dark_count_probability
    # 1 - (1 - 2p) e^{-x} = -expm1(-x) + 2p e^{-x}: no cancellation at tiny x.
    d = -np.expm1(-eta_sys_mu) + 2.0 * p_dc * np.exp(-eta_sys_mu)
    if with_afterpulses:
        d = d * (1.0 + detector.afterpulse_probability)
    return np.asarray(d, dtype=np.float64)


def error_click_probability(
    transmittance: npt.ArrayLike,
    mu: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
) -> FloatArray:
    """Probability of a click with the wrong bit value (same basis), per pulse.

    ``e = p_dc + e_mis (1 - exp(-eta_sys mu)) + p_ap D / 2`` (Lim et al. 2014, Sec. IV;
    Ma et al. 2005, Eq. (9)).
    """
    eta_sys_mu = np.asarray(transmittance, dtype=np.float64) * detector.efficiency * np.asarray(mu)
    d = click_probability(transmittance, mu, detector, with_afterpulses=False)
    e = (
        detector.dark_count_probability
        + misalignment_error * (-np.expm1(-eta_sys_mu))
        + detector.afterpulse_probability * d / 2.0
    )
    return np.asarray(e, dtype=np.float64)
