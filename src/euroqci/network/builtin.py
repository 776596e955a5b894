"""Built-in scenarios: ``eu``, the 27 EU capitals and the outermost regions.

Built from the public facts shipped in ``euroqci/network/data`` (see its README for sources and
attribution): capitals from ``eu_sites.csv`` and one fibre link per cross-border pair of
``eu_borders.csv`` (land borders, submarine cables, fixed links), capital to capital, with the
great-circle distance times the backbone route factor 1.5. Planned cables are left out unless
asked for. No fibre reaches the outermost regions in these data: planning flags them for the
space segment.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

from euroqci.errors import ConfigurationError
from euroqci.network.geo import great_circle_km
from euroqci.network.scenario import (
    DEFAULT_ROUTE_FACTOR,
    DeviceProfile,
    FibreLink,
    LengthSource,
    LinkMedium,
    PlanningOptions,
    Scenario,
    Site,
    SiteKind,
)

__all__ = ["BACKBONE_PROFILE_SPEC", "BUILTIN_SCENARIOS", "builtin_scenario", "read_data_csv"]

#: The device profile of every built-in link: decoy-state BB84 at 1 GHz with the detector and
#: fibre figures of the key-rate engine's reference SPEC (0.2 dB/km: SMF-28 datasheet value).
BACKBONE_PROFILE_SPEC: dict[str, Any] = {
    "protocol": "bb84-decoy",
    "channel": {"attenuation_db_per_km": 0.2},
    "source": {"repetition_rate_hz": 1e9},
    "detector": {"efficiency": 0.25, "dark_count_probability": 1e-7},
    "misalignment_error": 0.01,
    "finite_key": {"block_size": 1e8},
}

BUILTIN_SCENARIOS = ("eu",)
_MEDIUM = {
    "land_border": LinkMedium.TERRESTRIAL,
    "fixed_link": LinkMedium.TERRESTRIAL,
    "submarine_cable": LinkMedium.SUBMARINE,
}


def read_data_csv(name: str) -> list[dict[str, str]]:
    """Rows of a CSV file shipped in ``euroqci/network/data``."""
    text = resources.files("euroqci.network").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def builtin_scenario(
    name: str = "eu",
    *,
    include_planned: bool = False,
    options: PlanningOptions | None = None,
) -> Scenario:
    """A built-in scenario by name (``eu``).

    Parameters
    ----------
    name
        The scenario: ``eu``.
    include_planned
        Also lay fibre on cables that public sources list as planned.
    options
        Planning options (accumulation time, span margin); defaults otherwise.

    >>> eu = builtin_scenario("eu")
    >>> len([s for s in eu.sites if s.kind.value == "capital" and not s.outermost_region])
    27
    """
    if name not in BUILTIN_SCENARIOS:
        raise ConfigurationError(
            f"builtin: unknown scenario {name!r}; built-in scenarios: "
            + ", ".join(BUILTIN_SCENARIOS),
            field="builtin",
        )
    sites = [_site(row) for row in read_data_csv("eu_sites.csv")]
    capital = {s.country: s for s in sites if not s.outermost_region}
    links = []
    for row in read_data_csv("eu_borders.csv"):
        if row["status"] != "existing" and not include_planned:
            continue
        a, b = capital[row["a_iso2"]], capital[row["b_iso2"]]
        gc_km = great_circle_km(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
        links.append(
            FibreLink(
                id=f"{row['a_iso2']}-{row['b_iso2']}",
                a=a.id,
                b=b.id,
                profile="backbone",
                length_km=round(DEFAULT_ROUTE_FACTOR * gc_km, 3),
                length_source=LengthSource.GREAT_CIRCLE,
                route_factor=DEFAULT_ROUTE_FACTOR,
                medium=_MEDIUM[row["link_type"]],
            )
        )
    return Scenario(
        name="eu",
        description=(
            "EU-27 capitals and outermost regions with cross-border fibre "
            "(land borders, submarine cables, fixed links)"
        ),
        sites=tuple(sites),
        links=tuple(links),
        profiles={"backbone": DeviceProfile(name="backbone", spec=BACKBONE_PROFILE_SPEC)},
        options=options or PlanningOptions(),
    )


def _site(row: dict[str, str]) -> Site:
    outermost = row["site_type"] == "outermost_region_capital"
    return Site(
        id=row["site_id"],
        name=row["name"],
        country=row["country_iso2"],
        lat_deg=float(row["lat"]),
        lon_deg=float(row["lon"]),
        kind=SiteKind.CAPITAL,
        outermost_region=outermost,
        notes=row["notes"],
    )
