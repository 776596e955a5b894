"""The scenario model: sites, fibre links, device profiles and planning options.

A scenario is plain, immutable data; ``scenario_file`` reads it from TOML and ``topology`` turns
it into a graph (inserting trusted nodes where a span is longer than its devices reach).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from euroqci.errors import ConfigurationError

__all__ = [
    "DEFAULT_ROUTE_FACTOR",
    "DeviceProfile",
    "FibreLink",
    "LengthSource",
    "LinkMedium",
    "PlanningOptions",
    "Scenario",
    "Site",
    "SiteKind",
]

#: Fibre route length over great-circle distance for inter-city backbone links (planning figure
#: of public studies, see /work/shared/data/README.md; about 2 for short metro hops).
DEFAULT_ROUTE_FACTOR = 1.5


class SiteKind(enum.Enum):
    """What a site is; every site relays keys, a ``TRUSTED_NODE`` does nothing else."""

    CAPITAL = "capital"
    GOVERNMENT = "government"
    DATA_CENTRE = "data_centre"
    HOSPITAL = "hospital"
    ENERGY_GRID = "energy_grid"
    GROUND_STATION = "ground_station"
    TRUSTED_NODE = "trusted_node"


class LinkMedium(enum.Enum):
    """Where the fibre runs: on land or under the sea (a cable, or a fixed link)."""

    TERRESTRIAL = "terrestrial"
    SUBMARINE = "submarine"


class LengthSource(enum.Enum):
    """Where a link's length comes from."""

    GIVEN = "given"
    GREAT_CIRCLE = "great_circle"
    SPLIT = "split"


@dataclass(frozen=True)
class Site:
    """A place that terminates QKD links: a strategic site or a trusted node."""

    id: str
    name: str
    country: str
    lat_deg: float
    lon_deg: float
    kind: SiteKind
    outermost_region: bool = False
    notes: str = ""

    @property
    def is_trusted_node(self) -> bool:
        """True for relay-only sites (inserted or declared trusted nodes)."""
        return self.kind is SiteKind.TRUSTED_NODE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (enum as its value)."""
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "kind": self.kind.value,
            "outermost_region": self.outermost_region,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class DeviceProfile:
    """A named pair of QKD devices: a key-rate SPEC as accepted by ``euroqci keyrate``.

    ``spec["channel"]["length_km"]`` is set per link; everything else (protocol, source,
    detector, attenuation, finite-key settings) comes from here. ``max_span_km`` caps the span
    length below the devices' reach, e.g. to keep a minimum key rate.
    """

    name: str
    spec: Mapping[str, Any]
    max_span_km: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", MappingProxyType(dict(self.spec)))

    @property
    def attenuation_db_per_km(self) -> float:
        """Fibre attenuation of this profile's channel (0.2 dB/km when the SPEC omits it)."""
        channel = self.spec.get("channel", {})
        return float(channel.get("attenuation_db_per_km", 0.2))

    @property
    def extra_loss_db(self) -> float:
        """Fixed loss per span (connectors, splices) in dB, 0 when the SPEC omits it."""
        return float(self.spec.get("channel", {}).get("extra_loss_db", 0.0))

    def spec_dict(self) -> dict[str, Any]:
        """A deep, mutable copy of the SPEC."""
        copy: dict[str, Any] = _deep_copy(self.spec)
        return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(v) for v in value]
    return value


@dataclass(frozen=True)
class FibreLink:
    """A fibre span between two sites, run by one device profile.

    ``parent`` is the id of the scenario link a span was cut from when trusted nodes were
    inserted (``""`` for a link as declared).
    """

    id: str
    a: str
    b: str
    profile: str
    length_km: float
    length_source: LengthSource = LengthSource.GIVEN
    route_factor: float | None = None
    medium: LinkMedium = LinkMedium.TERRESTRIAL
    parent: str = ""

    @property
    def corridor(self) -> str:
        """The declared link this span belongs to (its own id when it was not split)."""
        return self.parent or self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "id": self.id,
            "a": self.a,
            "b": self.b,
            "profile": self.profile,
            "length_km": self.length_km,
            "length_source": self.length_source.value,
            "route_factor": self.route_factor,
            "medium": self.medium.value,
            "parent": self.parent,
        }


@dataclass(frozen=True)
class PlanningOptions:
    """How a scenario is planned.

    Parameters
    ----------
    accumulation_time_s
        Time over which a link accumulates one finite-key block: the block holds the pulses sent
        in that time (``repetition_rate_hz * accumulation_time_s``).
    max_span_fraction
        Longest span as a fraction of the profile's reach (the length where the key vanishes);
        trusted nodes are inserted so that no span is longer.
    insert_trusted_nodes
        Whether long links are cut into spans by automatically placed trusted nodes.
    """

    accumulation_time_s: float = 600.0
    max_span_fraction: float = 0.8
    insert_trusted_nodes: bool = True

    def __post_init__(self) -> None:
        if not self.accumulation_time_s > 0:
            raise ConfigurationError(
                "planning.accumulation_time_s: expected a time > 0 in seconds",
                field="planning.accumulation_time_s",
            )
        if not 0 < self.max_span_fraction <= 1:
            raise ConfigurationError(
                "planning.max_span_fraction: expected a fraction in (0, 1] of the reach",
                field="planning.max_span_fraction",
            )


@dataclass(frozen=True)
class Scenario:
    """A complete network scenario."""

    name: str
    sites: tuple[Site, ...]
    links: tuple[FibreLink, ...]
    profiles: Mapping[str, DeviceProfile]
    options: PlanningOptions = field(default_factory=PlanningOptions)
    version: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))

    def site(self, site_id: str) -> Site:
        """The site with this id; ConfigurationError naming the known ids otherwise."""
        for site in self.sites:
            if site.id == site_id:
                return site
        raise ConfigurationError(
            f"unknown site {site_id!r}; known sites: {', '.join(s.id for s in self.sites[:12])}"
            + (" ..." if len(self.sites) > 12 else ""),
            field="site",
        )

    @property
    def sites_by_id(self) -> dict[str, Site]:
        """Sites indexed by id."""
        return {s.id: s for s in self.sites}
