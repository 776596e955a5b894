"""The terrestrial segment on the CLI: ``plan``, ``route`` and ``scenario validate``."""

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
) -> None:
    """Plan a network: key rate per span, capacity per site pair, unreachable sites, failures."""
    from euroqci.network.executor import parse_executor
    from euroqci.network.planning import plan_network

    chosen = parse_executor(executor)
    loaded = _load(scenario, builtin, accumulation_time_s)
    result = plan_network(
        loaded,
        executor=chosen,
        failures=failures,
        double_failures=double_failures,
        shares=shares,
    )
    if out is not None:
        from euroqci.reports.network import write_plan_report

        write_plan_report(result, out)
    if as_json:
        print_json(result.to_dict())
        return
    _print_plan_summary(result, out)


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
    for what, site_id in (("FROM", args[-2]), ("TO", args[-1])):
        if not site_id.startswith("TN-"):  # inserted trusted nodes exist only after planning
            check_site(loaded.sites_by_id, site_id, what=what)
    rates = LinkRateModel(loaded.profiles, accumulation_time_s=loaded.options.accumulation_time_s)
    topology = build_topology(loaded, rates)
    result = route_between(topology, args[-2], args[-1], shares=shares)
    if as_json:
        print_json(result.to_dict())
        return
    if not result.path:
        typer.echo(f"{result.source} -> {result.target}: no fibre route (capacity 0 bit/s)")
        return
    typer.echo(f"route:            {' -> '.join(result.path)}")
    typer.echo(f"length:           {result.length_km:.1f} km, {len(result.path) - 1} spans")
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
