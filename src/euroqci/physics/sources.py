"""Photon sources: phase-randomised weak coherent pulses and SPDC pair sources.

A phase-randomised coherent state of mean photon number ``mu`` is a Poisson mixture of Fock
states (Lo, Ma, Chen, PRL 94, 230504 (2005)); a single-mode SPDC source emits a thermal
(Bose-Einstein) number of pairs (Ma, Fung, Lo, PRA 76, 012307 (2007), Eq. (1)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from euroqci.errors import ConfigurationError

__all__ = [
    "SPDCSource",
    "WeakCoherentSource",
    "poisson_photon_probability",
    "thermal_pair_probability",
]

FloatArray = npt.NDArray[np.float64]


def poisson_photon_probability(n: npt.ArrayLike, mu: npt.ArrayLike) -> FloatArray:
    """Probability of ``n`` photons in a phase-randomised coherent pulse of mean ``mu``.

    >>> round(float(poisson_photon_probability(1, 0.5)), 6)
    0.303265
    """
    n_arr = np.asarray(n, dtype=np.float64)
    mu_arr = np.asarray(mu, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = n_arr * np.log(mu_arr) - mu_arr - gammaln(n_arr + 1.0)
    return np.asarray(np.where((mu_arr == 0) & (n_arr == 0), 1.0, np.exp(log_p)))


def thermal_pair_probability(n: npt.ArrayLike, mu: npt.ArrayLike) -> FloatArray:
    """Probability of ``n`` pairs from a single-mode SPDC source of mean pair number ``mu``.

    ``P(n) = mu^n / (1 + mu)^(n + 1)`` (Ma, Fung, Lo 2007, Eq. (1)).
    """
    n_arr = np.asarray(n, dtype=np.float64)
    mu_arr = np.asarray(mu, dtype=np.float64)
    return np.asarray(mu_arr**n_arr / (1.0 + mu_arr) ** (n_arr + 1.0))


def _probability(name: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise ConfigurationError(
            f"source.{name}: expected a fraction in [0, 1]", field=f"source.{name}"
        )


@dataclass(frozen=True)
class WeakCoherentSource:
    """Phase-randomised weak coherent pulses with decoy intensities.

    ``intensities`` are mean photon numbers per pulse, signal first (``mu1 > mu2 + mu3``,
    ``mu2 > mu3 >= 0`` for three intensities). ``None`` fields are chosen by the optimiser.
    """

    repetition_rate_hz: float = 1e9
    intensities: tuple[float, ...] | None = None
    intensity_probabilities: tuple[float, ...] | None = None
    basis_probability_x: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.repetition_rate_hz) and self.repetition_rate_hz > 0):
            raise ConfigurationError(
                "source.repetition_rate_hz: expected a pulse rate > 0 in Hz",
                field="source.repetition_rate_hz",
            )
        if self.basis_probability_x is not None:
            _probability("basis_probability_x", self.basis_probability_x)
        if self.intensities is not None and any(
            not np.isfinite(m) or m < 0 for m in self.intensities
        ):
            raise ConfigurationError(
                "source.intensities: expected mean photon numbers >= 0 per pulse",
                field="source.intensities",
            )
        if self.intensity_probabilities is not None:
            for p in self.intensity_probabilities:
                _probability("intensity_probabilities", p)
            if abs(sum(self.intensity_probabilities) - 1.0) > 1e-9:
                raise ConfigurationError(
                    "source.intensity_probabilities: expected fractions that sum to 1",
                    field="source.intensity_probabilities",
                )
            if self.intensities is not None and len(self.intensities) != len(
                self.intensity_probabilities
            ):
                raise ConfigurationError(
                    "source.intensity_probabilities: expected one probability per intensity",
                    field="source.intensity_probabilities",
                )


@dataclass(frozen=True)
class SPDCSource:
    """A pulsed SPDC entangled-pair source with ``mean_pair_number`` pairs per pulse."""

    repetition_rate_hz: float = 1e8
    mean_pair_number: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.repetition_rate_hz) and self.repetition_rate_hz > 0):
            raise ConfigurationError(
                "source.repetition_rate_hz: expected a pulse rate > 0 in Hz",
                field="source.repetition_rate_hz",
            )
        if self.mean_pair_number is not None and not (0 < self.mean_pair_number < 10):
            raise ConfigurationError(
                "source.mean_pair_number: expected pairs per pulse in (0, 10)",
                field="source.mean_pair_number",
            )
