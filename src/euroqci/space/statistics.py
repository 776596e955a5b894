"""Key over time: key of every pass in a period, and key per day and year under clouds.

Evaluating the finite-key engine on every pass of a year is needlessly slow: the key of a pass
is a smooth, increasing function of its maximum elevation for a given orbit, station and
system. :func:`station_pass_keys` therefore evaluates a handful of reference passes spread
over the range of maximum elevations and interpolates the others (linear in maximum
elevation; the reference points are reported so that the interpolation can be checked).

Clouds: each station's night is clear with probability ``1 - cloud_probability``, independently
from night to night and from station to station (a planning simplification: real cloud cover
is correlated in time and space). All passes of one night share its weather. The Monte Carlo
draws take an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.space.channel import pass_channel
from euroqci.space.link_budget import OpticalLink
from euroqci.space.orbits import GroundStation, Satellite
from euroqci.space.pass_key import QKDSystem, pass_key
from euroqci.space.passes import DEFAULT_MIN_ELEVATION_DEG, Pass, find_passes_many
from euroqci.units import DAY_S

__all__ = [
    "DAYS_PER_YEAR",
    "PassKeyTable",
    "StationKeyStatistics",
    "key_statistics",
    "night_index",
    "station_pass_keys",
]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
#: Julian year, days.
DAYS_PER_YEAR = 365.25
DEFAULT_REFERENCE_PASSES = 6
#: Slot length for planning: 5 s slots change a pass's key by about 2 % against 1 s slots and
#: make the finite-key optimisation several times faster (measured in benchmarks/space.py).
PLANNING_SLOT_S = 5.0
#: Stations whose altitudes agree to this step share reference passes (see station_pass_keys).
ALTITUDE_GROUP_M = 500.0


@dataclass(frozen=True)
class PassKeyTable:
    """The passes of one station in a period and the secret bits of each (clear sky)."""

    station_id: str
    passes: list[Pass]
    secret_bits: FloatArray
    reference_max_elevation_deg: FloatArray
    reference_secret_bits: FloatArray

    @property
    def total_bits(self) -> float:
        """Key of all passes with a clear sky."""
        return float(np.sum(self.secret_bits))


def station_pass_keys(
    satellite: Satellite,
    stations: Sequence[GroundStation],
    link: OpticalLink,
    system: QKDSystem,
    *,
    start: datetime,
    duration_s: float,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    night_only: bool = True,
    slot_s: float = PLANNING_SLOT_S,
    n_reference: int = DEFAULT_REFERENCE_PASSES,
    altitude_group_m: float = ALTITUDE_GROUP_M,
) -> dict[str, PassKeyTable]:
    """Passes of every station over the period and the clear-sky key of each pass.

    ``n_reference`` passes (spread over the maximum elevations) go through the finite-key
    engine; the key of the other passes is interpolated in maximum elevation. Stations whose
    altitudes round to the same multiple of ``altitude_group_m`` share their reference passes:
    the key of a pass depends on its elevation profile and on the air above the site, hardly on
    the site's latitude (``altitude_group_m=0`` gives every station its own references).
    Slots are ``slot_s`` long (5 s by default for planning; use 1 s for a single pass).
    """
    if n_reference < 2:
        raise ConfigurationError("n_reference: expected at least 2 reference passes")
    found = find_passes_many(
        satellite,
        stations,
        start=start,
        duration_s=duration_s,
        min_elevation_deg=min_elevation_deg,
        night_only=night_only,
    )
    groups: dict[object, list[GroundStation]] = {}
    for st in stations:
        key = st.station_id if altitude_group_m <= 0 else round(st.altitude_m / altitude_group_m)
        groups.setdefault(key, []).append(st)
    tables = {}
    for members in groups.values():
        pooled = [(st, p) for st in members for p in found[st.station_id]]
        if pooled:
            ref_el, ref_bits = _reference_keys(
                satellite, pooled, link, system, night_only, slot_s, n_reference
            )
        for st in members:
            passes = found[st.station_id]
            max_el = np.array([p.max_elevation_deg for p in passes])
            bits = np.interp(max_el, ref_el, ref_bits) if passes else np.zeros(0)
            tables[st.station_id] = PassKeyTable(
                st.station_id, passes, bits, ref_el if pooled else np.zeros(0),
                ref_bits if pooled else np.zeros(0),
            )  # fmt: skip
        logger.info("%s: %d passes pooled", [m.station_id for m in members], len(pooled))
    return tables


def _reference_keys(
    satellite: Satellite,
    pooled: list[tuple[GroundStation, Pass]],
    link: OpticalLink,
    system: QKDSystem,
    night_only: bool,
    slot_s: float,
    n_reference: int,
) -> tuple[FloatArray, FloatArray]:
    """Key of reference passes spread evenly (by rank) over the pooled maximum elevations."""
    max_el = np.array([p.max_elevation_deg for _, p in pooled])
    order = np.argsort(max_el)
    picks = np.unique(np.round(np.linspace(0, len(pooled) - 1, min(n_reference, len(pooled)))))
    ref_idx = order[picks.astype(int)]
    daytime = False if night_only else None
    ref_bits = np.array(
        [
            pass_key(
                pass_channel(satellite, pooled[i][0], pooled[i][1], link, slot_s=slot_s,
                             daytime=daytime),
                system,
            ).secret_bits
            for i in ref_idx
        ]
    )  # fmt: skip
    return max_el[ref_idx], ref_bits


def night_index(moment: datetime, start: datetime) -> int:
    """Index of the night (noon-to-noon UTC period) of ``moment`` counted from ``start``."""
    anchor = (start - timedelta(hours=12)).replace(hour=12, minute=0, second=0, microsecond=0)
    return int((moment - anchor).total_seconds() // DAY_S)


@dataclass(frozen=True)
class StationKeyStatistics:
    """Key of one station over the period: clear-sky and Monte Carlo under clouds (bits)."""

    station_id: str
    days: float
    n_passes: int
    cloud_probability: float
    clear_sky_bits_per_day: float
    mean_bits_per_day: float
    std_bits_per_day: float
    p05_bits_per_day: float
    p95_bits_per_day: float
    trials: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def mean_bits_per_year(self) -> float:
        """Mean key per (Julian) year, extrapolated from the period."""
        return self.mean_bits_per_day * DAYS_PER_YEAR

    @property
    def average_key_rate_bps(self) -> float:
        """Mean key rate averaged over day and night, bits per second (for network planning)."""
        return self.mean_bits_per_day / DAY_S

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready fields."""
        return {
            "station_id": self.station_id,
            "days": self.days,
            "n_passes": self.n_passes,
            "cloud_probability": self.cloud_probability,
            "clear_sky_bits_per_day": self.clear_sky_bits_per_day,
            "mean_bits_per_day": self.mean_bits_per_day,
            "std_bits_per_day": self.std_bits_per_day,
            "p05_bits_per_day": self.p05_bits_per_day,
            "p95_bits_per_day": self.p95_bits_per_day,
            "mean_bits_per_year": self.mean_bits_per_year,
            "average_key_rate_bps": self.average_key_rate_bps,
            "trials": self.trials,
        }


def clear_nights(
    cloud_probability: float, n_nights: int, *, trials: int, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Monte Carlo weather: ``(trials, n_nights)`` booleans, True for a clear night."""
    return rng.random((trials, n_nights)) >= cloud_probability


def key_statistics(
    tables: Mapping[str, PassKeyTable],
    stations: Sequence[GroundStation],
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    trials: int = 1000,
) -> dict[str, StationKeyStatistics]:
    """Key per day (mean, spread, 5th and 95th percentiles) of each station under clouds.

    The daily figures are over the days of the period and the Monte Carlo trials together.
    """
    if trials < 1 or not (math.isfinite(days) and days > 0):
        raise ConfigurationError("key statistics: expected trials >= 1 and days > 0")
    n_nights = math.ceil(days) + 1
    out = {}
    for st in stations:
        table = tables[st.station_id]
        p_cloud = st.effective_cloud_probability
        per_night = np.zeros(n_nights)
        for p, bits in zip(table.passes, table.secret_bits, strict=True):
            per_night[min(night_index(p.culmination, start), n_nights - 1)] += bits
        clear = clear_nights(p_cloud, n_nights, trials=trials, rng=rng)
        nightly = clear * per_night  # (trials, nights)
        per_day = nightly.ravel()
        total = nightly.sum(axis=1) / days
        out[st.station_id] = StationKeyStatistics(
            station_id=st.station_id,
            days=days,
            n_passes=len(table.passes),
            cloud_probability=p_cloud,
            clear_sky_bits_per_day=table.total_bits / days,
            mean_bits_per_day=float(np.mean(total)),
            std_bits_per_day=float(np.std(per_day)),
            p05_bits_per_day=float(np.percentile(per_day, 5)),
            p95_bits_per_day=float(np.percentile(per_day, 95)),
            trials=trials,
        )
    return out
