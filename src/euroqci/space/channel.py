"""The time-resolved quantum channel of one pass: one link budget per time slot.

A pass from :mod:`euroqci.space.passes` is cut into slots of ``slot_s`` (1 s by default); each
slot gets the satellite's elevation and range at its centre and the loss of
:func:`euroqci.space.link_budget.link_budget`. Day or night is decided by the Sun's elevation at
the culmination, and sets the background count rate of the whole pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.space.link_budget import LinkBudget, OpticalLink, link_budget
from euroqci.space.orbits import GroundStation, Satellite
from euroqci.space.passes import Pass, sun_elevation_deg, track

__all__ = ["DAYTIME_SUN_ELEVATION_DEG", "PassChannel", "pass_channel"]

FloatArray = npt.NDArray[np.float64]

#: Sun elevation above which a pass counts as daytime for the background (sunrise/sunset).
DAYTIME_SUN_ELEVATION_DEG = 0.0


@dataclass(frozen=True)
class PassChannel:
    """One pass as a slotted channel: slot ``k`` starts ``k * slot_s`` seconds after ``start``."""

    station_id: str
    start: datetime
    slot_s: float
    elevation_deg: FloatArray
    range_km: FloatArray
    budget: LinkBudget
    daytime: bool

    @property
    def n_slots(self) -> int:
        """Number of time slots."""
        return int(self.elevation_deg.size)

    @property
    def duration_s(self) -> float:
        """Duration covered by the slots, seconds."""
        return self.n_slots * self.slot_s

    @property
    def loss_db(self) -> FloatArray:
        """Channel loss per slot up to the detector, dB."""
        return self.budget.loss_db

    def above(self, min_elevation_deg: float) -> PassChannel:
        """The slots at or above ``min_elevation_deg`` (a transmission window; may be empty).

        Elevation rises then falls within a pass, so these slots are contiguous.
        """
        keep = self.elevation_deg >= min_elevation_deg
        b = self.budget
        budget = replace(
            b,
            elevation_deg=b.elevation_deg[keep],
            range_km=b.range_km[keep],
            diffraction_db=b.diffraction_db[keep],
            pointing_db=b.pointing_db[keep],
            atmosphere_db=b.atmosphere_db[keep],
            turbulence_db=b.turbulence_db[keep],
        )
        return replace(
            self,
            elevation_deg=self.elevation_deg[keep],
            range_km=self.range_km[keep],
            budget=budget,
        )


def pass_channel(
    satellite: Satellite,
    station: GroundStation,
    pass_: Pass,
    link: OpticalLink,
    *,
    slot_s: float = 1.0,
    daytime: bool | None = None,
) -> PassChannel:
    """Cut ``pass_`` into slots of ``slot_s`` seconds and compute each slot's link budget.

    Parameters
    ----------
    slot_s
        Slot length in seconds, (0, 60].
    daytime
        Force day or night background; by default the Sun at the culmination decides.
    """
    if not (math.isfinite(slot_s) and 0.0 < slot_s <= 60.0):
        raise ConfigurationError(
            "slot_s: expected a slot length in (0, 60] seconds", field="slot_s"
        )
    n = max(int(pass_.duration_s // slot_s), 1)
    offsets = (np.arange(n) + 0.5) * slot_s
    tr = track(satellite, station, start=pass_.rise, offsets_s=offsets)
    if daytime is None:
        sun = sun_elevation_deg(station, [pass_.culmination])
        daytime = bool(sun[0] > DAYTIME_SUN_ELEVATION_DEG)
    budget = link_budget(
        link,
        elevation_deg=np.maximum(tr.elevation_deg, 0.0),
        range_km=tr.range_km,
        station_altitude_m=station.altitude_m,
        daytime=daytime,
    )
    return PassChannel(
        station_id=station.station_id,
        start=pass_.rise,
        slot_s=slot_s,
        elevation_deg=tr.elevation_deg,
        range_km=tr.range_km,
        budget=budget,
        daytime=daytime,
    )
