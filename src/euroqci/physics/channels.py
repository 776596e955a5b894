"""Quantum channels: a fibre span, a fixed loss, and a time-resolved free-space pass.

A channel reduces to its loss in dB (scalar, array of lengths, or one value per time slot);
``transmittance`` turns that into the fraction of photons that arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.units import FIBER_LOSS_SMF28_DB_PER_KM, loss_db_to_transmittance

__all__ = [
    "Channel",
    "FibreChannel",
    "FixedLossChannel",
    "SlottedChannel",
    "fibre_loss_db",
]

FloatArray = npt.NDArray[np.float64]


def fibre_loss_db(
    length_km: npt.ArrayLike,
    attenuation_db_per_km: npt.ArrayLike = FIBER_LOSS_SMF28_DB_PER_KM,
    extra_loss_db: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Loss of a fibre span: ``attenuation_db_per_km * length_km + extra_loss_db``.

    Broadcasts over arrays of lengths.

    >>> float(fibre_loss_db(50.0, 0.2, 1.0))
    11.0
    """
    return np.asarray(
        np.asarray(attenuation_db_per_km, dtype=np.float64)
        * np.asarray(length_km, dtype=np.float64)
        + np.asarray(extra_loss_db, dtype=np.float64),
        dtype=np.float64,
    )


def _check_non_negative(name: str, value: npt.ArrayLike, unit: str) -> None:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigurationError(
            f"channel.{name}: expected a finite value >= 0 in {unit}", field=f"channel.{name}"
        )


@dataclass(frozen=True)
class FibreChannel:
    """A fibre span of ``length_km`` (scalar or array) with a uniform attenuation."""

    length_km: npt.ArrayLike
    attenuation_db_per_km: float = FIBER_LOSS_SMF28_DB_PER_KM
    extra_loss_db: float = 0.0

    def __post_init__(self) -> None:
        _check_non_negative("length_km", self.length_km, "km")
        _check_non_negative("attenuation_db_per_km", self.attenuation_db_per_km, "dB/km")
        _check_non_negative("extra_loss_db", self.extra_loss_db, "dB")

    @property
    def loss_db(self) -> FloatArray:
        """Total loss in dB, shaped like ``length_km``."""
        return fibre_loss_db(self.length_km, self.attenuation_db_per_km, self.extra_loss_db)

    @property
    def transmittance(self) -> FloatArray:
        """Fraction of photons that arrive, shaped like ``length_km``."""
        return loss_db_to_transmittance(self.loss_db)


@dataclass(frozen=True)
class FixedLossChannel:
    """A channel given by its total loss (a link budget, a measured attenuation)."""

    loss_db: npt.ArrayLike

    def __post_init__(self) -> None:
        _check_non_negative("loss_db", self.loss_db, "dB")

    @property
    def transmittance(self) -> FloatArray:
        """Fraction of photons that arrive, shaped like ``loss_db``."""
        return loss_db_to_transmittance(self.loss_db)


@dataclass(frozen=True)
class SlottedChannel:
    """A time-resolved channel, e.g. a satellite pass: one loss per time slot of ``slot_s``.

    Counts are summed over slots and the finite-key bounds applied once per pass.
    """

    loss_db_per_slot: npt.ArrayLike
    slot_s: float = 1.0
    optimise_window: bool = True
    _loss: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        loss = np.asarray(self.loss_db_per_slot, dtype=np.float64)
        if loss.ndim != 1 or loss.size == 0:
            raise ConfigurationError(
                "channel.loss_db_per_slot: expected a non-empty list of losses in dB",
                field="channel.loss_db_per_slot",
            )
        _check_non_negative("loss_db_per_slot", loss, "dB")
        if not (np.isfinite(self.slot_s) and self.slot_s > 0):
            raise ConfigurationError(
                "channel.slot_s: expected a slot duration > 0 in seconds", field="channel.slot_s"
            )
        object.__setattr__(self, "_loss", loss)

    @property
    def loss_db(self) -> FloatArray:
        """Loss of each slot in dB, shape ``(n_slots,)``."""
        return self._loss

    @property
    def transmittance(self) -> FloatArray:
        """Transmittance of each slot, shape ``(n_slots,)``."""
        return loss_db_to_transmittance(self._loss)

    @property
    def duration_s(self) -> float:
        """Duration of the pass: number of slots times ``slot_s``."""
        return float(self._loss.size * self.slot_s)


Channel = FibreChannel | FixedLossChannel | SlottedChannel
