"""CLI verbs of the space segment: ``passes``, ``pass-key`` and ``space-plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from euroqci.cli._common import friendly_errors, load_document, print_json
from euroqci.errors import ConfigurationError
from euroqci.units import DAY_S

__all__ = ["pass_key", "passes", "space_plan"]


@friendly_errors
def passes(
    station: str = typer.Option(..., "--station", help="Built-in OGS ID or LAT,LON,ALT_M."),
    start: str = typer.Option(..., "--start", help="Start of the period, ISO-8601 (UTC)."),
    days: float = typer.Option(1.0, "--days", help="Length of the period in days."),
    tle: Annotated[Path | None, typer.Option("--tle", help="TLE file (2 or 3 lines).")] = None,
    orbit_altitude_km: float | None = typer.Option(None, "--orbit-altitude-km"),
    inclination_deg: float | None = typer.Option(None, "--inclination-deg"),
    raan_deg: float | None = typer.Option(None, "--raan-deg", help="Node right ascension."),
    ltan_h: float | None = typer.Option(None, "--ltan-h", help="Local time of the node (h)."),
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
    from euroqci.space.passes import find_passes
    from euroqci.space.spec import parse_time, satellite_from_spec, station_from_spec

    t0 = parse_time(start, field="start")
    if not (0 < days <= 3660):
        raise ConfigurationError("--days: expected a period in (0, 3660] days", field="days")
    orbit: dict[str, Any]
    if tle is not None:
        if orbit_altitude_km is not None or inclination_deg is not None:
            raise ConfigurationError("give either --tle or --orbit-altitude-km/--inclination-deg")
        orbit = {"tle_file": str(tle)}
    elif orbit_altitude_km is None or inclination_deg is None:
        raise ConfigurationError(
            "orbit: give --tle FILE, or --orbit-altitude-km (km) and --inclination-deg (degrees)",
            field="orbit",
        )
    else:
        orbit = {
            "altitude_km": orbit_altitude_km,
            "inclination_deg": inclination_deg,
            "phase_deg": phase_deg,
        }
        if raan_deg is not None:
            orbit["raan_deg"] = raan_deg
        if ltan_h is not None:
            orbit["ltan_h"] = ltan_h
        if epoch:
            orbit["epoch"] = epoch
    sat = satellite_from_spec(orbit, epoch=t0)
    st = station_from_spec(station)
    found = find_passes(
        sat,
        st,
        start=t0,
        duration_s=days * DAY_S,
        min_elevation_deg=min_elevation_deg,
        night_only=night_only,
        sun_max_elevation_deg=sun_max_elevation_deg,
    )
    if json_output:
        rows = [p.to_dict() for p in found]
        print_json({"satellite": sat.name, "station": st.station_id, "passes": rows})
        return
    typer.echo(f"{sat.name} over {st.station_id}: {len(found)} passes")
    typer.echo(f"{'start (UTC)':<24}{'end (UTC)':<24}{'max_elevation_deg':>18}{'duration_s':>12}")
    for p in found:
        typer.echo(
            f"{p.rise:%Y-%m-%dT%H:%M:%SZ}    {p.set:%Y-%m-%dT%H:%M:%SZ}    "
            f"{p.max_elevation_deg:>18.2f}{p.duration_s:>12.1f}"
        )


@friendly_errors
def pass_key(
    spec_path: Path = typer.Argument(..., metavar="SPEC.json", help="Pass SPEC (JSON or TOML)."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
    slots: bool = typer.Option(False, "--slots", help="Also print the loss of every slot."),
) -> None:
    """Secret key of one satellite pass (orbit + station + optics + protocol, or a loss curve)."""
    from euroqci.space.spec import pass_key_from_spec

    result = pass_key_from_spec(load_document(spec_path))
    doc = result.to_dict(slots=slots)
    if json_output:
        print_json(doc)
        return
    for name in ("station_id", "station_a", "station_b", "start", "duration_s", "window_s",
                 "window_min_elevation_deg", "min_loss_db", "min_two_arm_loss_db", "detections",
                 "sifted_bits", "qber", "secret_bits"):  # fmt: skip
        value = doc.get(name)
        if value is None or value == "":
            continue
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        typer.echo(f"{name:<26}{text}")
    if slots and "loss_db_per_slot" in doc:
        typer.echo(
            "loss_db_per_slot          " + " ".join(f"{x:.2f}" for x in doc["loss_db_per_slot"])
        )


@friendly_errors
def space_plan(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SCENARIO.toml]",
            help="Space scenario, or network scenario with ground_station sites (TOML).",
        ),
    ] = None,
    builtin: str | None = typer.Option(None, "--builtin", help="Built-in scenario: eu."),
    days: float = typer.Option(30.0, "--days", help="Length of the period in days."),
    start: str | None = typer.Option(None, "--start", help="Start (ISO-8601, UTC)."),
    seed: int = typer.Option(20261126, "--seed", help="Seed of the Monte Carlo weather."),
    trials: int = typer.Option(200, "--trials", help="Monte Carlo weather draws."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Key per ground station and per station pair (satellite as trusted relay) over a period."""
    import numpy as np

    from euroqci.space.spec import (
        builtin_scenario,
        parse_time,
        plan_from_scenario,
        scenario_from_document,
    )

    if (scenario is None) == (builtin is None):
        raise ConfigurationError("space-plan: give either SCENARIO.toml or --builtin eu")
    if not (0 < days <= 3660):
        raise ConfigurationError("--days: expected a period in (0, 3660] days", field="days")
    if not 1 <= trials <= 100_000:
        raise ConfigurationError("--trials: expected 1-100000 draws", field="trials")
    t0 = parse_time(start, field="start") if start else None
    if builtin is not None:
        sc = builtin_scenario(
            builtin, start=t0 or parse_time("2027-01-01T00:00:00Z", field="start")
        )
    else:
        assert scenario is not None
        doc = load_document(scenario, what="SCENARIO")
        if "sites" in doc and "stations" not in doc:  # a network scenario: its ground stations
            from euroqci.network.scenario_file import load_scenario
            from euroqci.space.network_links import space_scenario_from_network

            sc = space_scenario_from_network(
                load_scenario(scenario),
                start=t0 or parse_time("2027-01-01T00:00:00Z", field="start"),
            )
        else:
            sc = scenario_from_document(doc, start=t0)
    plan = plan_from_scenario(sc, days=days, rng=np.random.default_rng(seed), trials=trials)
    doc = plan.to_dict()
    if json_output:
        print_json(doc)
        return
    typer.echo(f"{plan.satellite}: {days:g} days from {plan.start:%Y-%m-%d}, night passes only")
    if doc["stations"]:
        typer.echo(f"{'station':<20}{'passes':>7}{'cloud':>7}{'clear_bits/day':>16}"
                   f"{'mean_bits/day':>16}{'bits/year':>13}{'avg_bps':>10}")  # fmt: skip
    for s in doc["stations"]:
        typer.echo(
            f"{s['station_id']:<20}{s['n_passes']:>7}{s['cloud_probability']:>7.2f}"
            f"{s['clear_sky_bits_per_day']:>16.4g}{s['mean_bits_per_day']:>16.4g}"
            f"{s['mean_bits_per_year']:>13.4g}{s['average_key_rate_bps']:>10.4g}"
        )
    if plan.pair_mode == "double-downlink":
        typer.echo("entanglement (BBM92) key per pair, common view, one finite-key block:")
    else:
        typer.echo(f"relayed key per pair (storage {plan.storage_bits:.3g} bits):")
    for p in doc["pairs"]:
        typer.echo(f"  {p['a']:<20}{p['b']:<20}{p['mean_bits_per_day']:>14.4g} bits/day")
