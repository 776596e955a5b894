"""CLI verbs of the space segment: ``passes``, ``pass-key`` and ``space-plan``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from euroqci.cli._common import friendly_errors, print_json
from euroqci.errors import ConfigurationError

__all__ = ["passes"]


def _parse_start(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"--start: {text!r} is not an ISO-8601 time (e.g. 2027-03-21T00:00:00Z)", field="start"
        ) from None


def _satellite(
    tle: Path | None,
    altitude_km: float | None,
    inclination_deg: float | None,
    raan_deg: float,
    phase_deg: float,
    epoch: datetime,
):  # type: ignore[no-untyped-def]
    from euroqci.space.orbits import Satellite

    if tle is not None:
        if altitude_km is not None or inclination_deg is not None:
            raise ConfigurationError("give either --tle or --orbit-altitude-km/--inclination-deg")
        return Satellite.from_tle_file(tle)
    if altitude_km is None or inclination_deg is None:
        raise ConfigurationError(
            "orbit: give --tle FILE, or --orbit-altitude-km (km) and --inclination-deg (degrees)",
            field="orbit",
        )
    return Satellite.from_circular_orbit(
        altitude_km=altitude_km,
        inclination_deg=inclination_deg,
        raan_deg=raan_deg,
        phase_deg=phase_deg,
        epoch=epoch,
    )


@friendly_errors
def passes(
    station: str = typer.Option(..., "--station", help="Built-in OGS ID or LAT,LON,ALT_M."),
    start: str = typer.Option(..., "--start", help="Start of the period, ISO-8601 (UTC)."),
    days: float = typer.Option(1.0, "--days", help="Length of the period in days."),
    tle: Annotated[Path | None, typer.Option("--tle", help="TLE file (2 or 3 lines).")] = None,
    orbit_altitude_km: float | None = typer.Option(None, "--orbit-altitude-km"),
    inclination_deg: float | None = typer.Option(None, "--inclination-deg"),
    raan_deg: float = typer.Option(0.0, "--raan-deg", help="Right ascension of the node."),
    phase_deg: float = typer.Option(0.0, "--phase-deg", help="Argument of latitude at epoch."),
    epoch: str | None = typer.Option(
        None, "--epoch", help="Epoch of the elements (default: start)."
    ),
    min_elevation_deg: float = typer.Option(10.0, "--min-elevation-deg", help="Elevation mask."),
    night_only: bool = typer.Option(
        False, "--night-only", help="Sun below --sun-max-elevation-deg."
    ),
    sun_max_elevation_deg: float = typer.Option(-12.0, "--sun-max-elevation-deg"),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Passes of a satellite over a ground station: start, end, maximum elevation, duration."""
    from euroqci.space.orbits import parse_station
    from euroqci.space.passes import find_passes

    t0 = _parse_start(start)
    if not (0 < days <= 3660):
        raise ConfigurationError("--days: expected a period in (0, 3660] days", field="days")
    sat = _satellite(
        tle,
        orbit_altitude_km,
        inclination_deg,
        raan_deg,
        phase_deg,
        _parse_start(epoch) if epoch else t0,
    )
    st = parse_station(station)
    found = find_passes(
        sat,
        st,
        start=t0,
        duration_s=days * 86400.0,
        min_elevation_deg=min_elevation_deg,
        night_only=night_only,
        sun_max_elevation_deg=sun_max_elevation_deg,
    )
    rows = [p.to_dict() for p in found]
    if json_output:
        print_json({"satellite": sat.name, "station": st.station_id, "passes": rows})
        return
    typer.echo(f"{sat.name} over {st.station_id}: {len(rows)} passes")
    typer.echo(f"{'start (UTC)':<27}{'end (UTC)':<27}{'max_elev_deg':>13}{'duration_s':>12}")
    for p in found:
        typer.echo(
            f"{p.rise:%Y-%m-%dT%H:%M:%S}Z{'':<7}{p.set:%Y-%m-%dT%H:%M:%S}Z{'':<7}"
            f"{p.max_elevation_deg:>13.2f}{p.duration_s:>12.1f}"
        )
