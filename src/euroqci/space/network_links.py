"""Satellite links in network planning: ground stations as sites, the satellite as trusted node.

A satellite link joins a ground-station site of a network scenario to the satellite, which is
a trusted node (it holds the key of every pass and relays keys by XOR, see ``relay``). The link
is time-varying: it carries key only in bursts, one per pass (rise, set, clear-sky bits; the
key arrives at the set), and planning uses its average rate, the clear-sky key of the period's
night passes times the clear-sky probability over the period
(:func:`euroqci.space.planning.average_key_rate_bps`). For the built-in EU scenario the
built-in optical ground stations become sites, each joined by fibre to the nearest site of
its country.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from euroqci.errors import ConfigurationError
from euroqci.network.geo import great_circle_km
from euroqci.network.scenario import (
    DEFAULT_ROUTE_FACTOR,
    FibreLink,
    LengthSource,
    Scenario,
    Site,
    SiteKind,
)
from euroqci.network.topology import ExtraLink
from euroqci.space.link_budget import OpticalLink
from euroqci.space.orbits import GroundStation, Satellite, builtin_stations
from euroqci.space.pass_key import DownlinkProtocol, QKDSystem
from euroqci.space.passes import DEFAULT_MIN_ELEVATION_DEG
from euroqci.space.planning import (
    DEFAULT_STORAGE_BITS,
    average_key_rate_bps,
    relay_pair_bits_per_day,
)
from euroqci.space.spec import SpaceScenario
from euroqci.space.spec import builtin_scenario as builtin_space_scenario
from euroqci.space.statistics import PassKeyTable, station_pass_keys
from euroqci.units import DAY_S

__all__ = [
    "PassBurst",
    "SatelliteLink",
    "SatelliteLinks",
    "add_ground_stations",
    "ground_stations_of",
    "satellite_links",
    "space_scenario_from_network",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassBurst:
    """Key of one pass on a satellite link: clear-sky secret bits, available at ``end``."""

    start: datetime
    end: datetime
    bits: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "bits": self.bits}


@dataclass(frozen=True)
class SatelliteLink:
    """The time-varying link between a ground-station site and the satellite.

    ``secret_key_rate_bps`` is the average rate (planning); ``bursts`` are the night passes of
    the period with their clear-sky key (the running network); a cloudy night loses its
    bursts, with probability ``cloud_probability``.
    """

    station: str
    satellite: str
    secret_key_rate_bps: float
    cloud_probability: float
    bursts: tuple[PassBurst, ...]

    @property
    def id(self) -> str:
        """Link id: ``SAT:<station>``."""
        return f"SAT:{self.station}"

    def extra_link(self) -> ExtraLink:
        """The link as network planning takes it: an edge of capacity its average rate."""
        return ExtraLink(
            id=self.id,
            a=self.station,
            b=self.satellite,
            secret_key_rate_bps=self.secret_key_rate_bps,
            kind="satellite",
            details={
                "cloud_probability": self.cloud_probability,
                "n_bursts": len(self.bursts),
                "clear_sky_bits": float(sum(b.bits for b in self.bursts)),
            },
        )

    def to_dict(self, *, bursts: bool = True) -> dict[str, Any]:
        """JSON-ready dictionary (with the bursts unless ``bursts=False``)."""
        out = self.extra_link().to_dict()
        if bursts:
            out["bursts"] = [b.to_dict() for b in self.bursts]
        return out


@dataclass(frozen=True)
class SatelliteLinks:
    """The satellite as a trusted node of a network: its node, links and relayed pair rates."""

    node: Site
    satellite_name: str
    start: datetime
    days: float
    links: tuple[SatelliteLink, ...]
    #: Mean relayed rate per station pair when the satellite serves every pair at once.
    pair_rates_bps: dict[tuple[str, str], float]
    storage_bits: float

    def extra_links(self) -> list[ExtraLink]:
        """The satellite links as planning edges."""
        return [link.extra_link() for link in self.links]

    def to_dict(self, *, bursts: bool = False) -> dict[str, Any]:
        """JSON-ready dictionary (pass bursts only with ``bursts=True``: they are long)."""
        return {
            "node": self.node.id,
            "satellite": self.satellite_name,
            "start": self.start.isoformat(),
            "days": self.days,
            "storage_bits": self.storage_bits,
            "links": [link.to_dict(bursts=bursts) for link in self.links],
            "relayed_pairs": [
                {"a": a, "b": b, "relayed_key_rate_bps": rate}
                for (a, b), rate in sorted(self.pair_rates_bps.items())
            ],
        }


def ground_stations_of(scenario: Scenario) -> list[GroundStation]:
    """The ``ground_station`` sites of a scenario as ground stations.

    A site whose id is a built-in OGS (``OGS-ES-TEIDE``) takes that station's altitude (and so
    its default cloud probability); other sites sit at 0 m (cloud probability 0.6 by default).
    """
    builtin = builtin_stations()
    out = []
    for site in scenario.sites:
        if site.kind is not SiteKind.GROUND_STATION:
            continue
        base = builtin.get(site.id)
        out.append(
            GroundStation(
                station_id=site.id,
                latitude_deg=site.lat_deg,
                longitude_deg=site.lon_deg,
                altitude_m=base.altitude_m if base else 0.0,
                name=site.name,
                country_iso2=site.country,
            )
        )
    return out


def add_ground_stations(
    scenario: Scenario,
    stations: Sequence[GroundStation] | None = None,
    *,
    route_factor: float = DEFAULT_ROUTE_FACTOR,
) -> tuple[Scenario, list[dict[str, Any]]]:
    """Add optical ground stations as ``ground_station`` sites, each joined by fibre.

    Each station (the built-in OGS list by default) is joined to the nearest site of its
    country that is not a trusted node or another ground station, by a fibre link of the
    great-circle distance times ``route_factor``, with the device profile of that site's
    first link (the scenario's first profile when it has none). For the EU scenario this is
    the capital, except for Teide, which is on Tenerife and joins Santa Cruz de Tenerife.

    Returns the new scenario and the outermost-region sites that still have no fibre link
    (no ground station of the list is nearby): they stay unreachable, with the reason.
    """
    stations = list(builtin_stations().values()) if stations is None else list(stations)
    if not scenario.profiles:
        raise ConfigurationError("scenario: no device profile to run the ground-station fibre")
    known = scenario.sites_by_id
    sites, links = list(scenario.sites), list(scenario.links)
    for st in stations:
        if st.station_id in known:
            continue
        anchor = _nearest_site(scenario, st)
        if anchor is None:
            logger.warning("%s: no site of country %s to join", st.station_id, st.country_iso2)
            continue
        gc_km = great_circle_km(st.latitude_deg, st.longitude_deg, anchor.lat_deg, anchor.lon_deg)
        sites.append(
            Site(
                id=st.station_id,
                name=st.name or st.station_id,
                country=st.country_iso2,
                lat_deg=st.latitude_deg,
                lon_deg=st.longitude_deg,
                kind=SiteKind.GROUND_STATION,
                notes="optical ground station (space segment)",
            )
        )
        links.append(
            FibreLink(
                id=f"{st.station_id}-{anchor.id}",
                a=st.station_id,
                b=anchor.id,
                profile=_profile_at(scenario, anchor.id),
                length_km=round(route_factor * gc_km, 3),
                length_source=LengthSource.GREAT_CIRCLE,
                route_factor=route_factor,
            )
        )
    linked = {x for link in links for x in (link.a, link.b)}
    unserved = [
        {
            "id": s.id,
            "name": s.name,
            "reason": "no fibre link and no ground station of the list nearby: stays unreachable",
        }
        for s in sites
        if s.outermost_region and s.id not in linked
    ]
    return replace(scenario, sites=tuple(sites), links=tuple(links)), unserved


def _nearest_site(scenario: Scenario, station: GroundStation) -> Site | None:
    candidates = [
        s
        for s in scenario.sites
        if s.country == station.country_iso2
        and s.kind not in (SiteKind.TRUSTED_NODE, SiteKind.GROUND_STATION)
    ]
    return min(
        candidates,
        key=lambda s: great_circle_km(
            station.latitude_deg, station.longitude_deg, s.lat_deg, s.lon_deg
        ),
        default=None,
    )


def _profile_at(scenario: Scenario, site_id: str) -> str:
    for link in scenario.links:
        if site_id in (link.a, link.b):
            return link.profile
    return next(iter(scenario.profiles))


def satellite_links(
    scenario: Scenario,
    satellite: Satellite,
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    link: OpticalLink | None = None,
    system: QKDSystem | None = None,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    storage_bits: float = DEFAULT_STORAGE_BITS,
    relay_trials: int = 20,
    node_id: str | None = None,
) -> SatelliteLinks:
    """The satellite links of every ground-station site of ``scenario`` over ``days``.

    Parameters
    ----------
    scenario
        A network scenario with ``ground_station`` sites (see :func:`add_ground_stations`).
    satellite
        The QKD satellite (a trusted relay, BB84 decoy downlinks).
    start, days
        The period whose night passes are counted, days in (0, 3660].
    rng
        Draws the weather of the relay schedule (the link rates are expectations, no draw).
    link, system
        Optical link and QKD system (``OpticalLink()`` and ``QKDSystem()`` by default).
    storage_bits, relay_trials
        Onboard storage and Monte Carlo draws of the relayed pair rates.
    node_id
        Id of the satellite node (default ``SAT-<satellite name>``).
    """
    stations = ground_stations_of(scenario)
    if not stations:
        raise ConfigurationError(
            'scenario: no ground_station site; add sites with kind = "ground_station"',
            field="sites",
        )
    if not (math.isfinite(days) and 0 < days <= 3660):
        raise ConfigurationError("days: expected a period in (0, 3660] days", field="days")
    system = system or QKDSystem()
    if system.protocol is not DownlinkProtocol.BB84_DECOY:
        raise ConfigurationError(
            'system.protocol: satellite links need a trusted-relay satellite ("bb84-decoy")',
            field="system.protocol",
        )
    node = _satellite_node(satellite, stations, node_id, known=scenario.sites_by_id)
    tables = station_pass_keys(
        satellite, stations, link or OpticalLink(), system, start=start,
        duration_s=days * DAY_S, min_elevation_deg=min_elevation_deg,
    )  # fmt: skip
    links = tuple(
        SatelliteLink(
            station=st.station_id,
            satellite=node.id,
            secret_key_rate_bps=average_key_rate_bps(tables[st.station_id], st, days=days),
            cloud_probability=st.effective_cloud_probability,
            bursts=_bursts(tables[st.station_id]),
        )
        for st in stations
    )
    pairs = list(itertools.combinations([s.station_id for s in stations], 2))
    per_day = relay_pair_bits_per_day(
        tables, stations, pairs, start=start, days=days, rng=rng,
        storage_bits=storage_bits, relay_trials=relay_trials,
    )  # fmt: skip
    return SatelliteLinks(
        node=node,
        satellite_name=satellite.name,
        start=start,
        days=days,
        links=links,
        pair_rates_bps={pair: bits / DAY_S for pair, bits in per_day.items()},
        storage_bits=storage_bits,
    )


def _bursts(table: PassKeyTable) -> tuple[PassBurst, ...]:
    """One burst per pass that gives key: rise, set and clear-sky secret bits."""
    return tuple(
        PassBurst(start=p.rise, end=p.set, bits=float(bits))
        for p, bits in zip(table.passes, table.secret_bits, strict=True)
        if bits > 0
    )


def _satellite_node(
    satellite: Satellite, stations: Sequence[GroundStation], node_id: str | None, *, known: Any
) -> Site:
    """The satellite as a trusted-node site; its map position is nominal (the stations'
    mean position): a satellite has none."""
    ident = node_id or "SAT-" + "".join(c if c.isalnum() or c in "-_" else "-"
                                        for c in satellite.name)  # fmt: skip
    if ident in known:
        raise ConfigurationError(f"node_id: {ident!r} is already a site", field="node_id")
    return Site(
        id=ident,
        name=satellite.name,
        country="",
        lat_deg=round(float(np.mean([s.latitude_deg for s in stations])), 6),
        lon_deg=round(float(np.mean([s.longitude_deg for s in stations])), 6),
        kind=SiteKind.TRUSTED_NODE,
        notes="QKD satellite, trusted relay; position nominal (mean of its stations)",
    )


def space_scenario_from_network(scenario: Scenario, *, start: datetime) -> SpaceScenario:
    """A space scenario from a network scenario's ``ground_station`` sites, with the satellite,
    optics and system of the built-in space scenario (``euroqci space-plan --builtin eu``)."""
    stations = ground_stations_of(scenario)
    if not stations:
        raise ConfigurationError(
            f'scenario {scenario.name!r}: no site with kind = "ground_station" to plan',
            field="sites",
        )
    return replace(builtin_space_scenario("eu", start=start), stations=stations)
