"""The terrestrial segment on the CLI: ``plan``, ``route`` and ``scenario validate``.

``--with-space`` adds the space segment: ground stations become sites and a satellite joins
them as a trusted node, through time-varying links planned at their average rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from euroqci.cli._common import exit_with, friendly_errors, print_json
from euroqci.errors import ConfigurationError

__all__ = ["plan", "route", "scenario_app"]

scenario_app = typer.Typer(
    name="scenario", help="Network scenario files.", no_args_is_help=True, add_completion=False
)


def _load(scenario: Path | None, builtin: str | None, accumulation_time_s: float | None) -> Any:
    from dataclasses import replace

    from euroqci.network.builtin import builtin_scenario
    from euroqci.network.scenario_file import load_scenario

    if (scenario is None) == (builtin is None):
        raise ConfigurationError(
            "SCENARIO: give a scenario file or --builtin eu (one of the two)", field="SCENARIO"
        )
    loaded = load_scenario(scenario) if scenario is not None else builtin_scenario(str(builtin))
    if accumulation_time_s is not None:
        options = replace(loaded.options, accumulation_time_s=accumulation_time_s)
        loaded = replace(loaded, options=options)
    return loaded


#: Defaults of the satellite links: the period and start of ``euroqci space-plan --builtin eu``.
_SPACE_START = "2027-01-01T00:00:00Z"
_SPACE_DAYS = 30.0
_SPACE_SEED = 20261126


def _with_ground_stations(loaded: Any, builtin: str | None) -> tuple[Any, list[dict[str, Any]]]:
    """The built-in scenario gains the built-in ground stations; a file keeps its own."""
    from euroqci.space.network_links import add_ground_stations

    if builtin is None:
        return loaded, []
    return add_ground_stations(loaded)


def _satellite(scenario: Any, *, days: float, start: str, seed: int) -> Any:
    """Satellite links of the scenario's ground stations (the satellite of space-plan --builtin)."""
    import numpy as np

    from euroqci.space.network_links import satellite_links
    from euroqci.space.spec import builtin_scenario as space_builtin
    from euroqci.space.spec import parse_time

    if not (0 < days <= 3660):
        raise ConfigurationError(
            "--space-days: expected a period in (0, 3660] days", field="space_days"
        )
    sp = space_builtin("eu", start=parse_time(start, field="--space-start"))
    return satellite_links(
        scenario, sp.satellite, start=sp.start, days=days, rng=np.random.default_rng(seed),
        link=sp.link, system=sp.system, min_elevation_deg=sp.min_elevation_deg,
        storage_bits=sp.storage_bits,
    )  # fmt: skip


_WITH_SPACE = typer.Option(
    False, "--with-space", help="Add ground stations and the satellite (trusted relay)."
)
_SPACE_DAYS_OPTION = typer.Option(
    _SPACE_DAYS, "--space-days", help="Days of passes behind the satellite links' average rate."
)
_SPACE_START_OPTION = typer.Option(_SPACE_START, "--space-start", help="Start (ISO-8601, UTC).")


@scenario_app.command("validate")
@friendly_errors
def validate(
    file: Path = typer.Argument(..., help="Scenario TOML file."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Check a scenario file; errors name the line and the field."""
    from euroqci.network.scenario_file import load_scenario

    scenario = load_scenario(file)
    summary = {
        "valid": True,
        "name": scenario.name,
        "version": scenario.version,
        "n_sites": len(scenario.sites),
        "n_links": len(scenario.links),
        "profiles": list(scenario.profiles),
    }
    if as_json:
        print_json(summary)
    else:
        typer.echo(
            f"{file}: valid scenario {scenario.name!r} (format version {scenario.version}): "
            f"{len(scenario.sites)} sites, {len(scenario.links)} links, "
            f"{len(scenario.profiles)} device profiles"
        )


@scenario_app.command("export")
@friendly_errors
def export(
    builtin: str = typer.Option(..., "--builtin", help="Built-in scenario to write: eu."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
) -> None:
    """Write a built-in scenario as a scenario file, to edit and plan."""
    from euroqci.network.builtin import builtin_scenario
    from euroqci.network.scenario_file import dump_scenario

    text = dump_scenario(builtin_scenario(builtin))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@friendly_errors
def plan(
    scenario: Path | None = typer.Argument(None, help="Scenario TOML file (or --builtin)."),
    builtin: str | None = typer.Option(None, "--builtin", help="Built-in scenario: eu."),
    out: Path | None = typer.Option(None, "--out", help="Write JSON, CSV, map and HTML here."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    executor: str = typer.Option(
        "local", "--executor", help="local, dask (local cluster) or dask://HOST:PORT."
    ),
    failures: bool = typer.Option(
        True, "--failures/--no-failures", help="Single node/link failure table."
    ),
    double_failures: bool = typer.Option(
        False, "--double-failures", help="Also sweep every pair of failures."
    ),
    accumulation_time_s: float | None = typer.Option(
        None, "--accumulation-time-s", help="Finite-key block accumulation time in seconds."
    ),
    shares: int | None = typer.Option(
        None, "--shares", min=1, help="Also rate XOR key splitting into this many shares."
    ),
    with_space: bool = _WITH_SPACE,
    space_days: float = _SPACE_DAYS_OPTION,
    space_start: str = _SPACE_START_OPTION,
) -> None:
    """Plan a network: key rate per span, capacity per site pair, unreachable sites, failures."""
    import time

    from euroqci.network.executor import parse_executor
    from euroqci.network.planning import plan_network

    chosen = parse_executor(executor)
    loaded = _load(scenario, builtin, accumulation_time_s)
    sat, t0 = None, time.perf_counter()
    unserved: list[dict[str, Any]] = []
    if with_space:
        loaded, unserved = _with_ground_stations(loaded, builtin)
        sat = _satellite(loaded, days=space_days, start=space_start, seed=_SPACE_SEED)
    space_s = time.perf_counter() - t0
    result = plan_network(
        loaded,
        executor=chosen,
        failures=failures,
        double_failures=double_failures,
        shares=shares,
        extra_sites=[sat.node] if sat else [],
        extra_links=sat.extra_links() if sat else [],
    )
    doc = result.to_dict()
    if sat is not None:
        doc["satellite"] = sat.to_dict() | {"unserved": unserved}
        doc["timings_s"] = {"satellite_links": space_s} | doc["timings_s"]
    if out is not None:
        from euroqci.reports.network import write_plan_report

        write_plan_report(result, out)
        if sat is not None:  # the bursts (every pass) go to the report only: they are long
            import json

            (out / "satellite.json").write_text(
                json.dumps(sat.to_dict(bursts=True) | {"unserved": unserved}, indent=1) + "\n",
                encoding="utf-8",
            )
    if as_json:
        print_json(doc)
        return
    _print_plan_summary(result, out)
    if sat is not None:
        _print_satellite(doc["satellite"])


def _print_satellite(section: dict[str, Any]) -> None:
    typer.echo(
        f"satellite {section['satellite']} (trusted node {section['node']}), "
        f"{section['days']:g} days of night passes from {section['start'][:10]}:"
    )
    for link in section["links"]:
        typer.echo(
            f"  {link['a']:<20}{link['n_bursts']:>4} passes with key, cloud probability "
            f"{link['cloud_probability']:.2f}: {link['secret_key_rate_bps']:.4g} bit/s average"
        )
    for u in section["unserved"]:
        typer.echo(f"  {u['id']}: {u['reason']}")


def _print_plan_summary(result: Any, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = result.topology
    console = Console()
    reachable = [p for p in result.pairs if p.capacity_bps > 0]
    console.print(
        f"[bold]{t.scenario.name}[/]: {len(t.sites)} sites "
        f"({len(t.inserted_trusted_nodes)} trusted nodes inserted), {len(t.spans)} spans, "
        f"{len(reachable)} of {len(result.pairs)} site pairs connected"
    )
    table = Table(title="Weakest connected pairs (capacity, bit/s)")
    for column in ("from", "to", "capacity_bps", "widest_route_bps", "trusted nodes"):
        table.add_column(column)
    for p in sorted(reachable, key=lambda p: p.capacity_bps)[:10]:
        table.add_row(
            p.a,
            p.b,
            f"{p.capacity_bps:.4g}",
            f"{p.widest_route_bps:.4g}",
            str(len(p.trusted_nodes)),
        )
    console.print(table)
    if result.unreachable:
        names = ", ".join(u["id"] for u in result.unreachable)
        console.print(f"unreachable by fibre (flagged for the space segment): {names}")
    if result.single_failures:
        worst = max(result.single_failures, key=lambda f: f.total_lost_bps)
        console.print(
            f"worst single failure: {worst.failed[0]} "
            f"({worst.n_pairs_affected} pairs lose {worst.total_lost_bps:.4g} bit/s in total)"
        )
    if out is not None:
        console.print(f"report written to {out / 'index.html'}")


@friendly_errors
def route(
    args: list[str] = typer.Argument(..., help="[SCENARIO] FROM TO (no SCENARIO with --builtin)."),
    builtin: str | None = typer.Option(None, "--builtin", help="Built-in scenario: eu."),
    as_json: bool = typer.Option(False, "--json", help="Print the route as JSON."),
    shares: int = typer.Option(2, "--shares", min=1, help="XOR shares for multi-path splitting."),
    with_space: bool = _WITH_SPACE,
    space_days: float = _SPACE_DAYS_OPTION,
    space_start: str = _SPACE_START_OPTION,
) -> None:
    """Route between two sites: widest route, capacity, trusted nodes, disjoint paths."""
    from euroqci.network.planning import check_site, route_between
    from euroqci.network.rates import LinkRateModel
    from euroqci.network.topology import build_topology

    expected = 2 if builtin else 3
    if len(args) != expected:
        usage = "FROM TO" if builtin else "SCENARIO FROM TO"
        raise exit_with(f"route: expected {usage}, got {len(args)} argument(s)")
    scenario_path = None if builtin else Path(args[0])
    loaded = _load(scenario_path, builtin, None)
    if with_space:
        loaded, _ = _with_ground_stations(loaded, builtin)
    for what, site_id in (("FROM", args[-2]), ("TO", args[-1])):
        if not site_id.startswith("TN-"):  # inserted trusted nodes exist only after planning
            check_site(loaded.sites_by_id, site_id, what=what)
    rates = LinkRateModel(loaded.profiles, accumulation_time_s=loaded.options.accumulation_time_s)
    sat = (
        _satellite(loaded, days=space_days, start=space_start, seed=_SPACE_SEED)
        if with_space
        else None
    )
    topology = build_topology(
        loaded,
        rates,
        extra_sites=[sat.node] if sat else [],
        extra_links=sat.extra_links() if sat else [],
    )
    result = route_between(topology, args[-2], args[-1], shares=shares)
    if as_json:
        print_json(result.to_dict())
        return
    if not result.path:
        what = "no route" if with_space else "no fibre route"
        typer.echo(f"{result.source} -> {result.target}: {what} (capacity 0 bit/s)")
        return
    typer.echo(f"route:            {' -> '.join(result.path)}")
    typer.echo(f"length:           {result.length_km:.1f} km of fibre, {len(result.path) - 1} hops")
    typer.echo(f"widest route:     {result.widest_route_bps:.6g} bit/s")
    typer.echo(f"capacity:         {result.capacity_bps:.6g} bit/s (max-flow over all routes)")
    typer.echo(f"trusted nodes:    {len(result.trusted_nodes)} see the relayed key")
    typer.echo(f"disjoint paths:   {result.max_disjoint_paths} node-disjoint paths exist")
    if result.disjoint_paths:
        typer.echo(
            f"key splitting:    {result.shares} XOR shares over node-disjoint paths, "
            f"{result.split_capacity_bps:.6g} bit/s; no single trusted node sees the key"
        )
        for path in result.disjoint_paths:
            typer.echo(f"  share path:     {' -> '.join(path)}")
    else:
        typer.echo(f"key splitting:    impossible with {result.shares} shares (too few paths)")
