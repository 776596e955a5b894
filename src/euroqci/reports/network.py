"""The report of a network plan: JSON, CSV tables, the map and an HTML page that gathers them.

``write_plan_report(plan, out_dir)`` writes::

    plan.json             the same document as `euroqci plan --json`
    sites.csv             declared and inserted sites
    links.csv             every span: length_km, loss_db, secret_key_rate_bps
    pairs.csv             capacity and widest route for every site pair
    unreachable.csv       sites no fibre reaches (flagged for the space segment)
    single_failures.csv   capacity lost per pair for each node or link failure (when computed)
    double_failures.csv   summary per pair of failures (when computed)
    map.png               the map of Europe
    index.html            the report
"""

from __future__ import annotations

import csv
import html
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from euroqci.network.planning import NetworkPlan

__all__ = ["plan_tables", "write_csv", "write_plan_report"]

logger = logging.getLogger(__name__)


def plan_tables(plan: NetworkPlan) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The CSV tables of a plan: name -> (header, rows)."""
    t = plan.topology
    tables: dict[str, tuple[list[str], list[list[Any]]]] = {}
    site_cols = ["id", "name", "country", "lat_deg", "lon_deg", "kind", "outermost_region"]
    tables["sites"] = (site_cols, [[s.to_dict()[c] for c in site_cols] for s in t.sites])
    link_cols = [
        "id",
        "a",
        "b",
        "kind",
        "profile",
        "medium",
        "length_km",
        "loss_db",
        "secret_key_rate_bps",
        "parent",
    ]
    links = [s.to_dict() for s in t.spans] + [x.to_dict() for x in t.extra_links]
    tables["links"] = (link_cols, [[d.get(c, "") for c in link_cols] for d in links])
    pair_cols = ["a", "b", "capacity_bps", "widest_route_bps", "split_capacity_bps", "hops"]
    pair_cols.append("trusted_nodes")
    tables["pairs"] = (
        pair_cols,
        [
            [
                p.a,
                p.b,
                p.capacity_bps,
                p.widest_route_bps,
                "" if p.split_capacity_bps is None else p.split_capacity_bps,
                max(0, len(p.route) - 1),
                " ".join(p.trusted_nodes),
            ]
            for p in plan.pairs
        ],
    )
    un_cols = ["id", "name", "country", "reason", "outermost_region", "space_segment"]
    tables["unreachable"] = (un_cols, [[u[c] for c in un_cols] for u in plan.unreachable])
    if plan.single_failures is not None:
        tables["single_failures"] = (
            ["failed", "a", "b", "capacity_bps", "capacity_after_bps", "lost_bps"],
            [
                [f.failed[0], a, b, before, after, before - after]
                for f in plan.single_failures
                for a, b, before, after in f.losses
            ],
        )
    if plan.double_failures is not None:
        tables["double_failures"] = (
            [
                "failed_1",
                "failed_2",
                "total_lost_bps",
                "n_pairs_affected",
                "n_pairs_disconnected",
                "worst_pair",
                "worst_lost_bps",
            ],
            [
                [
                    *f.failed,
                    f.total_lost_bps,
                    f.n_pairs_affected,
                    f.n_pairs_disconnected,
                    " / ".join(f.worst_pair or ()),
                    f.worst_lost_bps,
                ]
                for f in plan.double_failures
            ],
        )
    return tables


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write one CSV table (UTF-8, header first)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_plan_report(plan: NetworkPlan, out_dir: Path) -> Path:
    """Write the JSON, CSV tables, map and HTML of ``plan`` to ``out_dir``; returns index.html."""
    from euroqci.reports.europe_map import draw_network_map

    out_dir.mkdir(parents=True, exist_ok=True)
    document = plan.to_dict()
    (out_dir / "plan.json").write_text(
        json.dumps(document, indent=1, allow_nan=False, default=str) + "\n", encoding="utf-8"
    )
    tables = plan_tables(plan)
    for name, (header, rows) in tables.items():
        write_csv(out_dir / f"{name}.csv", header, rows)
    draw_network_map(plan, out_dir / "map.png")
    index = out_dir / "index.html"
    index.write_text(_html(plan, tables), encoding="utf-8")
    logger.info("network report written to %s", out_dir)
    return index


def _html(plan: NetworkPlan, tables: dict[str, tuple[list[str], list[list[Any]]]]) -> str:
    t = plan.topology
    connected = [p for p in plan.pairs if p.capacity_bps > 0]
    weakest = sorted(connected, key=lambda p: p.capacity_bps)[:15]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>EuroQCI plan: {html.escape(t.scenario.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:.85em;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#eee}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>EuroQCI terrestrial plan: {html.escape(t.scenario.name)}</h1>",
        f"<p>{html.escape(t.scenario.description)}</p>",
        "<ul>",
        f"<li>{len(t.sites)} sites, of which {len(t.inserted_trusted_nodes)} trusted nodes "
        "inserted along long links</li>",
        f"<li>{len(t.spans)} fibre spans</li>",
        f"<li>{len(connected)} of {len(plan.pairs)} site pairs connected by fibre</li>",
        f"<li>finite-key block accumulated over {t.scenario.options.accumulation_time_s:g} s; "
        f"spans at most {t.scenario.options.max_span_fraction:g} of the devices' reach</li>",
        "</ul>",
        "<h2>Map</h2><img src='map.png' alt='map of the network'>",
        "<h2>Weakest connected pairs</h2>",
        _table(
            ["a", "b", "capacity (bit/s)", "widest route (bit/s)", "trusted nodes"],
            [
                [
                    p.a,
                    p.b,
                    f"{p.capacity_bps:.4g}",
                    f"{p.widest_route_bps:.4g}",
                    len(p.trusted_nodes),
                ]
                for p in weakest
            ],
        ),
        "<h2>Sites no fibre reaches (space segment)</h2>",
        _table(*tables["unreachable"]),
    ]
    if plan.single_failures:
        worst = sorted(plan.single_failures, key=lambda f: -f.total_lost_bps)[:15]
        parts += [
            "<h2>Single failures with the largest loss</h2>",
            _table(
                [
                    "failed",
                    "pairs affected",
                    "pairs disconnected",
                    "total lost (bit/s)",
                    "worst pair",
                ],
                [
                    [
                        f.failed[0],
                        f.n_pairs_affected,
                        f.n_pairs_disconnected,
                        f"{f.total_lost_bps:.4g}",
                        " / ".join(f.worst_pair or ()),
                    ]
                    for f in worst
                ],
            ),
        ]
    if plan.double_failures:
        worst = sorted(plan.double_failures, key=lambda f: -f.n_pairs_disconnected)[:15]
        parts += [
            f"<h2>Double failures ({len(plan.double_failures)} swept), most pairs cut</h2>",
            _table(
                ["failed", "pairs disconnected", "total lost (bit/s)"],
                [
                    [" + ".join(f.failed), f.n_pairs_disconnected, f"{f.total_lost_bps:.4g}"]
                    for f in worst
                ],
            ),
        ]
    files = [*sorted(f"{name}.csv" for name in tables), "plan.json"]
    links = " ".join(f"<a href='{html.escape(f)}'>{html.escape(f)}</a>" for f in files)
    parts += [f"<h2>Data</h2><p>{links}</p>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
