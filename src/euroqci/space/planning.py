"""Space segment in network planning: key per station and per station pair over a period.

Ground stations are sites; a satellite link is a time-varying link whose planning figure is
its average key rate (:func:`station_average_key_rate_bps`). :func:`plan_space_segment` puts
it together: passes, key per pass, Monte Carlo clouds, and the satellite as a trusted relay
between every pair of stations under an onboard storage limit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from euroqci.errors import ConfigurationError
from euroqci.space.double_downlink import pair_block_bits_per_day
from euroqci.space.link_budget import OpticalLink
from euroqci.space.orbits import GroundStation, Satellite
from euroqci.space.pass_key import DownlinkProtocol, QKDSystem
from euroqci.space.passes import DEFAULT_MIN_ELEVATION_DEG
from euroqci.space.relay import PassKeyEvent, schedule_relay
from euroqci.space.statistics import (
    DEFAULT_REFERENCE_PASSES,
    PassKeyTable,
    StationKeyStatistics,
    clear_nights,
    key_statistics,
    night_index,
    station_pass_keys,
)
from euroqci.units import DAY_S

__all__ = [
    "SpacePlan",
    "average_key_rate_bps",
    "plan_space_segment",
    "relay_pair_bits_per_day",
    "station_average_key_rate_bps",
]

#: Onboard key memory when none is given: 1 Gbit, a planning assumption (flash memory is not the
#: limit; the point of the parameter is to study it).
DEFAULT_STORAGE_BITS = 1e9


@dataclass(frozen=True)
class SpacePlan:
    """Key per station (Monte Carlo under clouds) and relayed key per station pair."""

    satellite: str
    start: datetime
    days: float
    stations: dict[str, StationKeyStatistics]
    pair_bits_per_day: dict[tuple[str, str], float]
    storage_bits: float
    trials: int
    reference_points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    pair_mode: str = "trusted-relay"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plan."""
        return {
            "satellite": self.satellite,
            "start": self.start.isoformat(),
            "days": self.days,
            "storage_bits": self.storage_bits,
            "trials": self.trials,
            "pair_mode": self.pair_mode,
            "stations": [s.to_dict() for s in self.stations.values()],
            "pairs": [
                {"a": a, "b": b, "mean_bits_per_day": float(bits)}
                for (a, b), bits in sorted(self.pair_bits_per_day.items())
            ],
            "reference_points": {
                sid: [{"max_elevation_deg": e, "secret_bits": k} for e, k in pts]
                for sid, pts in self.reference_points.items()
            },
        }


def station_average_key_rate_bps(
    satellite: Satellite,
    station: GroundStation,
    *,
    link: OpticalLink | None = None,
    system: QKDSystem | None = None,
    start: datetime,
    days: float = 30.0,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    n_reference: int = DEFAULT_REFERENCE_PASSES,
) -> float:
    """Expected key rate of a ground station averaged over day and night, bits per second.

    ``sum(key of each night pass) * (1 - cloud_probability) / period``: the planning figure of
    a satellite link (its bursts are the passes themselves).
    """
    tables = station_pass_keys(
        satellite,
        [station],
        link or OpticalLink(),
        system or QKDSystem(),
        start=start,
        duration_s=days * DAY_S,
        min_elevation_deg=min_elevation_deg,
        n_reference=n_reference,
    )
    return average_key_rate_bps(tables[station.station_id], station, days=days)


def average_key_rate_bps(table: PassKeyTable, station: GroundStation, *, days: float) -> float:
    """``sum(key of each pass) * (1 - cloud_probability) / period`` in bit/s: the expected rate
    of a station's satellite link over day and night (its passes' table over ``days``)."""
    clear = 1.0 - station.effective_cloud_probability
    return table.total_bits * clear / (days * DAY_S)


def relay_pair_bits_per_day(
    tables: dict[str, PassKeyTable],
    stations: Sequence[GroundStation],
    pairs: Sequence[tuple[str, str]],
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    storage_bits: float = DEFAULT_STORAGE_BITS,
    relay_trials: int = 20,
) -> dict[tuple[str, str], float]:
    """Mean key relayed per pair per day when the satellite serves all ``pairs`` at once.

    Each of ``relay_trials`` Monte Carlo draws picks the clear nights of every station, keeps
    the passes of those nights and runs :func:`euroqci.space.relay.schedule_relay` on them.
    """
    n_nights = math.ceil(days) + 1
    totals: dict[tuple[str, str], float] = {}
    for _ in range(relay_trials):
        events = _relay_events(tables, stations, start, n_nights, rng)
        schedule = schedule_relay(events, pairs, storage_bits=storage_bits)
        for pair, bits in schedule.per_day(days).items():
            totals[pair] = totals.get(pair, 0.0) + bits / relay_trials
    return totals


def _relay_events(
    tables: dict[str, PassKeyTable],
    stations: Sequence[GroundStation],
    start: datetime,
    n_nights: int,
    rng: np.random.Generator,
) -> list[PassKeyEvent]:
    events = []
    for st in stations:
        table = tables[st.station_id]
        clear = clear_nights(st.effective_cloud_probability, n_nights, trials=1, rng=rng)[0]
        for p, bits in zip(table.passes, table.secret_bits, strict=True):
            if clear[min(night_index(p.culmination, start), n_nights - 1)] and bits > 0:
                events.append(PassKeyEvent(time=p.set, station_id=st.station_id, secret_bits=bits))
    return events


def plan_space_segment(
    satellite: Satellite,
    stations: Sequence[GroundStation],
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    link: OpticalLink | None = None,
    system: QKDSystem | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    storage_bits: float = DEFAULT_STORAGE_BITS,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    trials: int = 200,
    relay_trials: int = 20,
    n_reference: int = DEFAULT_REFERENCE_PASSES,
) -> SpacePlan:
    """Key per station and per station pair over ``days`` from ``start`` (night passes only).

    With ``system.protocol`` BB84 (decoy) the satellite is a trusted relay between stations;
    with BBM92 each pair gets the entanglement-based key of its common-view windows (the whole
    period as one finite-key block per weather draw) and no station has a key on its own.

    Parameters
    ----------
    pairs
        Station pairs served by the trusted-relay satellite (default: every pair).
    storage_bits
        Onboard storage for station keys waiting to be relayed.
    trials, relay_trials
        Monte Carlo weather draws for the station statistics and for the relay schedule.
    """
    if not stations:
        raise ConfigurationError("stations: expected at least one ground station")
    if not (math.isfinite(days) and 0 < days <= 3660):
        raise ConfigurationError("days: expected a period in (0, 3660] days", field="days")
    ids = [s.station_id for s in stations]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("stations: station IDs must be unique")
    pair_list = list(pairs) if pairs is not None else list(itertools.combinations(ids, 2))
    for a, b in pair_list:
        if a not in ids or b not in ids:
            raise ConfigurationError(f"pairs: unknown station in ({a}, {b})", field="pairs")
    link = link or OpticalLink()
    system = system or QKDSystem()
    if system.protocol is DownlinkProtocol.BBM92:
        return _plan_entanglement(
            satellite, stations, pair_list, link, system, start=start, days=days, rng=rng,
            min_elevation_deg=min_elevation_deg, trials=relay_trials,
        )  # fmt: skip
    tables = station_pass_keys(
        satellite,
        stations,
        link,
        system,
        start=start,
        duration_s=days * DAY_S,
        min_elevation_deg=min_elevation_deg,
        n_reference=n_reference,
    )
    stats = key_statistics(tables, stations, start=start, days=days, rng=rng, trials=trials)
    totals = relay_pair_bits_per_day(
        tables, stations, pair_list, start=start, days=days, rng=rng,
        storage_bits=storage_bits, relay_trials=relay_trials,
    )  # fmt: skip
    refs = {
        sid: [(float(e), float(k)) for e, k in zip(t.reference_max_elevation_deg,
                                                   t.reference_secret_bits, strict=True)]
        for sid, t in tables.items()
    }  # fmt: skip
    return SpacePlan(
        satellite=satellite.name,
        start=start,
        days=days,
        stations=stats,
        pair_bits_per_day=totals,
        storage_bits=storage_bits,
        trials=trials,
        reference_points=refs,
    )


def _plan_entanglement(
    satellite: Satellite,
    stations: Sequence[GroundStation],
    pair_list: list[tuple[str, str]],
    link: OpticalLink,
    system: QKDSystem,
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    min_elevation_deg: float,
    trials: int,
) -> SpacePlan:
    """BBM92: no station key on its own; each pair's key comes from their common view."""
    by_id = {s.station_id: s for s in stations}
    totals = {
        (a, b): pair_block_bits_per_day(
            satellite, by_id[a], by_id[b], link, system, start=start, days=days, rng=rng,
            trials=trials, min_elevation_deg=min_elevation_deg,
        )
        for a, b in pair_list
    }  # fmt: skip
    return SpacePlan(
        satellite=satellite.name,
        start=start,
        days=days,
        stations={},
        pair_bits_per_day=totals,
        storage_bits=0.0,
        trials=trials,
        pair_mode="double-downlink",
    )
