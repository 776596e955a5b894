"""Unit conversions and unit-bearing constants, each with its source.

Every conversion in EuroQCI goes through this module: no inline ``10 ** (x / 10)``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "C_KM_PER_S",
    "DAY_S",
    "EARTH_RADIUS_KM",
    "FIBER_LOSS_SMF28_DB_PER_KM",
    "FIBER_LOSS_ULL_DB_PER_KM",
    "PS_PER_S",
    "db_to_linear",
    "linear_to_db",
    "loss_db_to_transmittance",
    "transmittance_to_loss_db",
]

ArrayOrFloat = TypeVar("ArrayOrFloat", float, npt.NDArray[np.float64])

#: Speed of light in vacuum, exact by the SI definition of the metre (BIPM SI brochure, 2019).
C_KM_PER_S = 299_792.458
#: Mean Earth radius, IUGG value (Moritz, Geodetic Reference System 1980), as used by haversine.
EARTH_RADIUS_KM = 6371.0088
#: Corning SMF-28 Ultra datasheet: maximum attenuation 0.18-0.20 dB/km at 1550 nm; planning value.
FIBER_LOSS_SMF28_DB_PER_KM = 0.2
#: Ultra-low-loss fibre as used in long-distance TF-QKD (Liu et al., PRL 130, 210801 (2023)).
FIBER_LOSS_ULL_DB_PER_KM = 0.157
#: Seconds in one day (86,400 SI seconds; leap seconds are not counted).
DAY_S = 86_400.0
#: Picoseconds in one second.
PS_PER_S = 1e12


def db_to_linear(value_db: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Power ratio from decibels: ``10 ** (value_db / 10)``.

    >>> float(db_to_linear(30.0))
    1000.0
    """
    return np.power(10.0, np.asarray(value_db, dtype=np.float64) / 10.0)


def linear_to_db(ratio: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Decibels from a power ratio: ``10 log10(ratio)``; ``-inf`` for a ratio of 0."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(ratio, dtype=np.float64))


def loss_db_to_transmittance(loss_db: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Transmittance in [0, 1] from a loss in dB (positive loss attenuates).

    >>> float(loss_db_to_transmittance(20.0))
    0.01
    """
    return np.power(10.0, -np.asarray(loss_db, dtype=np.float64) / 10.0)


def transmittance_to_loss_db(transmittance: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Loss in dB from a transmittance in [0, 1]; ``inf`` for a transmittance of 0."""
    return -linear_to_db(transmittance)
