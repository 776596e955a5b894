"""Documents of the space segment: a pass-key SPEC (JSON) and a space scenario (TOML).

Both are plain dictionaries (``cli._common.load_document`` reads the files). Every field is
checked here and errors name the dotted field; the formats are documented in docs/space.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from euroqci.errors import ConfigurationError
from euroqci.space._skyfield import ensure_utc
from euroqci.space.channel import pass_channel
from euroqci.space.double_downlink import DoubleDownlinkKey, double_downlink, double_downlink_key
from euroqci.space.link_budget import LINK_PRESETS, OpticalLink
from euroqci.space.orbits import (
    GroundStation,
    Satellite,
    builtin_stations,
    parse_station,
    raan_for_local_time_deg,
)
from euroqci.space.pass_key import (
    DownlinkProtocol,
    PassKey,
    QKDSystem,
    build_dataclass,
    key_from_loss_curve,
    pass_key,
)
from euroqci.space.passes import DEFAULT_MIN_ELEVATION_DEG, find_passes
from euroqci.space.planning import DEFAULT_STORAGE_BITS, SpacePlan, plan_space_segment
from euroqci.units import DAY_S

__all__ = [
    "BUILTIN_SCENARIOS",
    "SpaceScenario",
    "builtin_scenario",
    "optics_from_spec",
    "parse_time",
    "pass_key_from_spec",
    "plan_from_scenario",
    "satellite_from_spec",
    "scenario_from_document",
    "station_from_spec",
]

BUILTIN_SCENARIOS = ("eu",)
_MASK = DEFAULT_MIN_ELEVATION_DEG
#: The built-in satellite: a 500 km Sun-synchronous orbit (inclination 97.4 deg) with its
#: ascending node at local midnight, so that half its passes fall in the night (Micius, also
#: Sun-synchronous at about 500 km, passed its stations around local midnight).
_BUILTIN_ORBIT = {"altitude_km": 500.0, "inclination_deg": 97.4, "ltan_h": 0.0}


def parse_time(text: Any, *, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text (``Z`` accepted)."""
    if isinstance(text, datetime):
        return ensure_utc(text, name=field)
    if not isinstance(text, str):
        raise ConfigurationError(f"{field}: expected an ISO-8601 time (UTC)", field=field)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"{field}: {text!r} is not an ISO-8601 time (e.g. 2027-03-21T00:00:00Z)", field=field
        ) from None
    return ensure_utc(moment, name=field)


def _number(data: Mapping[str, Any], key: str, default: float | None, *, field: str) -> float:
    value = data.get(key, default)
    if value is None:
        raise ConfigurationError(f"{field}.{key}: required", field=f"{field}.{key}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{field}.{key}: expected a number", field=f"{field}.{key}")
    return float(value)


def satellite_from_spec(data: Any, *, epoch: datetime) -> Satellite:
    """A satellite from ``{"tle": [line1, line2]}``, ``{"tle_file": path}`` or circular elements
    ``{"altitude_km", "inclination_deg", "raan_deg", "phase_deg", "epoch"}``."""
    if not isinstance(data, Mapping):
        raise ConfigurationError("orbit: expected a table of orbit fields", field="orbit")
    if "tle" in data:
        tle = data["tle"]
        if not (isinstance(tle, list) and len(tle) == 2 and all(isinstance(x, str) for x in tle)):
            raise ConfigurationError("orbit.tle: expected [line1, line2]", field="orbit.tle")
        return Satellite.from_tle(tle[0], tle[1], name=str(data.get("name", "")))
    if "tle_file" in data:
        return Satellite.from_tle_file(Path(str(data["tle_file"])))
    known = {"altitude_km", "inclination_deg", "raan_deg", "ltan_h", "phase_deg", "epoch", "name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(
            f"orbit: unknown field(s) {', '.join(unknown)}; expected tle, tle_file or "
            f"{', '.join(sorted(known))}",
            field=f"orbit.{unknown[0]}",
        )
    at = parse_time(data["epoch"], field="orbit.epoch") if "epoch" in data else epoch
    if "ltan_h" in data:
        if "raan_deg" in data:
            raise ConfigurationError(
                "orbit: give raan_deg or ltan_h, not both", field="orbit.ltan_h"
            )
        raan = raan_for_local_time_deg(
            epoch=at, ltan_h=_number(data, "ltan_h", None, field="orbit")
        )
    else:
        raan = _number(data, "raan_deg", 0.0, field="orbit")
    return Satellite.from_circular_orbit(
        altitude_km=_number(data, "altitude_km", None, field="orbit"),
        inclination_deg=_number(data, "inclination_deg", None, field="orbit"),
        raan_deg=raan,
        phase_deg=_number(data, "phase_deg", 0.0, field="orbit"),
        epoch=at,
        name=str(data.get("name", "")),
    )


def station_from_spec(data: Any) -> GroundStation:
    """A station from a built-in ID, ``"LAT,LON,ALT_M"`` or a table of GroundStation fields;
    a table with ``id`` takes the built-in station and overrides its other fields."""
    if isinstance(data, str):
        return parse_station(data)
    if not isinstance(data, Mapping):
        raise ConfigurationError("station: expected an ID or a table", field="station")
    data = dict(data)
    if "id" in data:
        base = parse_station(str(data.pop("id")))
        fields = {
            "station_id": base.station_id,
            "latitude_deg": base.latitude_deg,
            "longitude_deg": base.longitude_deg,
            "altitude_m": base.altitude_m,
            "name": base.name,
            "country_iso2": base.country_iso2,
        }
        data = fields | data
    data.setdefault("station_id", f"{data.get('latitude_deg')},{data.get('longitude_deg')}")
    return build_dataclass(GroundStation, data, section="station")  # type: ignore[no-any-return]


def optics_from_spec(data: Any) -> OpticalLink:
    """OpticalLink fields, optionally on top of ``preset`` (a name of ``LINK_PRESETS``)."""
    data = dict(data or {})
    preset = data.pop("preset", None)
    if preset is None:
        return build_dataclass(OpticalLink, data, section="optics")  # type: ignore[no-any-return]
    if preset not in LINK_PRESETS:
        raise ConfigurationError(
            f"optics.preset: unknown {preset!r}; expected one of {', '.join(LINK_PRESETS)}",
            field="optics.preset",
        )
    base = LINK_PRESETS[preset]
    merged = {f.name: getattr(base, f.name) for f in fields(OpticalLink)} | data
    return build_dataclass(OpticalLink, merged, section="optics")  # type: ignore[no-any-return]


def _optics_system(spec: Mapping[str, Any]) -> tuple[OpticalLink, QKDSystem]:
    link = optics_from_spec(spec.get("optics"))
    system = build_dataclass(QKDSystem, spec.get("system"), section="system")
    return link, system


_PASS_FIELDS = {"orbit", "station", "station_b", "start", "days", "pass", "min_elevation_deg",
                "night_only", "slot_s", "daytime", "optics", "system",
                "optimise_window"}  # fmt: skip
_CURVE_FIELDS = {"loss_db_per_slot", "slot_s", "detector_efficiency", "background_count_rate_hz",
                 "system", "optimise_window"}  # fmt: skip


def pass_key_from_spec(spec: Mapping[str, Any]) -> PassKey | DoubleDownlinkKey:
    """Key of one pass described by a SPEC (orbit + station + optics + system, or a loss curve).

    See docs/space.md for the fields. ``pass`` is ``"best"`` (highest culmination, default) or
    the 0-based index of the pass in the period. With ``station_b`` and ``system.protocol =
    "bbm92"`` the pass is a double downlink (common view of both stations; ``best`` is the
    longest window).
    """
    if "loss_db_per_slot" in spec:
        _only(spec, _CURVE_FIELDS)
        system = build_dataclass(QKDSystem, spec.get("system"), section="system")
        return key_from_loss_curve(
            spec["loss_db_per_slot"],
            slot_s=_number(spec, "slot_s", 1.0, field="spec"),
            detector_efficiency=_number(spec, "detector_efficiency", None, field="spec"),
            system=system,
            background_count_rate_hz=_number(spec, "background_count_rate_hz", 0.0, field="spec"),
            optimise_window=bool(spec.get("optimise_window", True)),
        )
    _only(spec, _PASS_FIELDS)
    for required in ("orbit", "station", "start"):
        if required not in spec:
            raise ConfigurationError(
                f"{required}: required (or give loss_db_per_slot for a loss curve)", field=required
            )
    start = parse_time(spec["start"], field="start")
    satellite = satellite_from_spec(spec["orbit"], epoch=start)
    station = station_from_spec(spec["station"])
    days = _number(spec, "days", 1.0, field="spec")
    if not 0 < days <= 366:
        raise ConfigurationError("days: expected a period in (0, 366] days", field="days")
    if "station_b" in spec:
        return _double_downlink_from_spec(spec, satellite, station, start, days)
    passes = find_passes(
        satellite,
        station,
        start=start,
        duration_s=days * DAY_S,
        min_elevation_deg=_number(spec, "min_elevation_deg", _MASK, field="spec"),
        night_only=bool(spec.get("night_only", False)),
    )
    if not passes:
        raise ConfigurationError(
            "pass: no pass above the elevation mask in the period", field="pass"
        )
    chosen = _choose(spec, passes, key=lambda p: p.max_elevation_deg)
    link, system = _optics_system(spec)
    daytime = spec.get("daytime")
    channel = pass_channel(
        satellite, station, chosen, link, slot_s=_number(spec, "slot_s", 1.0, field="spec"),
        daytime=None if daytime is None else bool(daytime),
    )  # fmt: skip
    return pass_key(channel, system, optimise_window=bool(spec.get("optimise_window", True)))


def _choose(spec: Mapping[str, Any], items: list[Any], key: Any) -> Any:
    choice = spec.get("pass", "best")
    if choice == "best":
        return max(items, key=key)
    if isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < len(items):
        return items[choice]
    raise ConfigurationError(
        f"pass: expected 'best' or an index in [0, {len(items) - 1}]", field="pass"
    )


def _double_downlink_from_spec(
    spec: Mapping[str, Any],
    satellite: Satellite,
    station: GroundStation,
    start: datetime,
    days: float,
) -> DoubleDownlinkKey:
    link, system = _optics_system(spec)
    if system.protocol is not DownlinkProtocol.BBM92:
        raise ConfigurationError(
            'system.protocol: a double downlink (station_b) needs "bbm92"',
            field="system.protocol",
        )
    windows = double_downlink(
        satellite,
        station,
        station_from_spec(spec["station_b"]),
        link,
        start=start,
        duration_s=days * DAY_S,
        min_elevation_deg=_number(spec, "min_elevation_deg", _MASK, field="spec"),
        night_only=bool(spec.get("night_only", True)),
        slot_s=_number(spec, "slot_s", 1.0, field="spec"),
    )
    if not windows:
        raise ConfigurationError(
            "station_b: the two stations never see the satellite together in the period",
            field="station_b",
        )
    chosen = _choose(spec, windows, key=lambda w: w.n_slots)
    return double_downlink_key(
        chosen, system, optimise_window=bool(spec.get("optimise_window", True))
    )


def _only(spec: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigurationError(
            f"spec: unknown field(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(sorted(allowed))}",
            field=unknown[0],
        )


@dataclass(frozen=True)
class SpaceScenario:
    """Satellite, stations, optics, system and relay settings of a space-segment study."""

    satellite: Satellite
    stations: list[GroundStation]
    start: datetime
    link: OpticalLink
    system: QKDSystem
    pairs: list[tuple[str, str]] | None
    storage_bits: float
    min_elevation_deg: float


_SCENARIO_FIELDS = {"start", "satellite", "stations", "optics", "system", "relay",
                    "min_elevation_deg", "name", "description"}  # fmt: skip


def scenario_from_document(
    doc: Mapping[str, Any], *, start: datetime | None = None
) -> SpaceScenario:
    """A space scenario from a TOML document (see docs/space.md); ``start`` overrides the file's."""
    _only(doc, _SCENARIO_FIELDS)
    begin = start or parse_time(doc.get("start", "2027-01-01T00:00:00Z"), field="start")
    stations_doc = doc.get("stations")
    if not isinstance(stations_doc, list) or not stations_doc:
        raise ConfigurationError("stations: expected a list of stations ([[stations]])",
                                 field="stations")  # fmt: skip
    relay = doc.get("relay", {}) or {}
    if not isinstance(relay, Mapping):
        raise ConfigurationError("relay: expected a table", field="relay")
    pairs = relay.get("pairs")
    if pairs is not None:
        ok = isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs)
        if not ok:
            raise ConfigurationError("relay.pairs: expected [[A, B], ...]", field="relay.pairs")
        pairs = [(str(a), str(b)) for a, b in pairs]
    link, system = _optics_system(doc)
    return SpaceScenario(
        satellite=satellite_from_spec(doc.get("satellite", _BUILTIN_ORBIT), epoch=begin),
        stations=[station_from_spec(s) for s in stations_doc],
        start=begin,
        link=link,
        system=system,
        pairs=pairs,
        storage_bits=_number(relay, "storage_bits", DEFAULT_STORAGE_BITS, field="relay"),
        min_elevation_deg=_number(doc, "min_elevation_deg", _MASK, field="spec"),
    )


def builtin_scenario(name: str, *, start: datetime) -> SpaceScenario:
    """The built-in scenario ``eu``: every station of the OGS list, one 500 km SSO satellite.

    The link is the ``micius-2017-qkd`` preset, the only one calibrated on flight data; the
    source and detectors are the QKDSystem defaults.
    """
    if name not in BUILTIN_SCENARIOS:
        raise ConfigurationError(
            f"--builtin: unknown scenario {name!r}; expected one of {', '.join(BUILTIN_SCENARIOS)}",
            field="builtin",
        )
    return SpaceScenario(
        satellite=satellite_from_spec(_BUILTIN_ORBIT | {"name": "EU-QKD-SSO-500"}, epoch=start),
        stations=list(builtin_stations().values()),
        start=start,
        link=LINK_PRESETS["micius-2017-qkd"],
        system=QKDSystem(),
        pairs=None,
        storage_bits=DEFAULT_STORAGE_BITS,
        min_elevation_deg=DEFAULT_MIN_ELEVATION_DEG,
    )


def plan_from_scenario(
    scenario: SpaceScenario, *, days: float, rng: np.random.Generator, trials: int = 200
) -> SpacePlan:
    """Run :func:`euroqci.space.planning.plan_space_segment` on a scenario."""
    return plan_space_segment(
        scenario.satellite,
        scenario.stations,
        start=scenario.start,
        days=days,
        rng=rng,
        link=scenario.link,
        system=scenario.system,
        pairs=scenario.pairs,
        storage_bits=scenario.storage_bits,
        min_elevation_deg=scenario.min_elevation_deg,
        trials=trials,
    )
