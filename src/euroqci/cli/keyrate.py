"""``euroqci keyrate``: rate a QKD link from a SPEC, optionally swept, as a table, JSON or plot."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import typer

from euroqci.cli._common import friendly_errors, load_document, print_json
from euroqci.errors import ConfigurationError

__all__ = ["keyrate", "parse_sweep"]

#: Paths whose sweep is evaluated in one vectorised call.
VECTOR_PATHS = {"channel.length_km", "channel.loss_db"}
MAX_SWEEP_POINTS = 1_000_000


def parse_sweep(text: str) -> tuple[str, np.ndarray]:
    """``"channel.length_km=0:200:10"`` -> (path, values), STOP included when on the grid."""
    if "=" not in text:
        raise ConfigurationError("--sweep: expected DOTTED.PATH=START:STOP:STEP", field="--sweep")
    path, _, rng = text.partition("=")
    parts = rng.split(":")
    try:
        start, stop, step = (float(x) for x in parts)
    except ValueError:
        raise ConfigurationError(
            "--sweep: expected three numbers START:STOP:STEP, e.g. channel.length_km=0:200:10",
            field="--sweep",
        ) from None
    if not (step > 0 and stop >= start):
        raise ConfigurationError("--sweep: expected STEP > 0 and STOP >= START", field="--sweep")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    if n > MAX_SWEEP_POINTS:
        raise ConfigurationError(
            f"--sweep: {n} points; at most {MAX_SWEEP_POINTS}", field="--sweep"
        )
    return path.strip(), start + step * np.arange(n)


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = doc
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigurationError(
                f"--sweep: {path}: '{key}' is not an object in the SPEC", field="--sweep"
            )
        node = child
    node[keys[-1]] = value


def _evaluate(doc: dict[str, Any], sweep: str | None) -> tuple[list[dict[str, Any]], Any]:
    from euroqci.protocols.evaluate import evaluate_link
    from euroqci.protocols.link_spec import parse_link_spec

    if sweep is None:
        result = evaluate_link(parse_link_spec(doc))
        return result.to_records(), None
    path, values = parse_sweep(sweep)
    if path in VECTOR_PATHS:
        swept = copy.deepcopy(doc)
        _set_path(swept, path, values)
        records = evaluate_link(parse_link_spec(swept)).to_records()
    else:
        records = []
        for v in values:
            swept = copy.deepcopy(doc)
            _set_path(swept, path, float(v))
            records.extend(evaluate_link(parse_link_spec(swept)).to_records())
    for rec, v in zip(records, values, strict=True):
        rec["sweep"] = {"path": path, "value": float(v)}
    return records, (path, values)


def _fmt(value: Any, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def _table(records: list[dict[str, Any]], swept: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if swept is None:
        rec = records[0]
        table = Table(title="EuroQCI key rate", show_header=False)
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in rec.items():
            if key in ("parameters", "protocol"):
                continue
            table.add_row(key, _fmt(value) if isinstance(value, float) else str(value))
        for key, value in rec["parameters"].items():
            table.add_row(f"parameters.{key}", str(value))
        console.print(table)
        return
    table = Table(title="EuroQCI key rate")
    for name in (
        swept[0],
        "loss dB",
        "key bit/s",
        "bits/pulse",
        "sifted bit/s",
        "QBER",
        "PLOB bit/s",
    ):
        table.add_column(name, justify="right")
    for rec in records:
        table.add_row(
            f"{rec['sweep']['value']:g}",
            _fmt(rec["loss_db"], ".2f"),
            _fmt(rec["secret_key_rate_bps"]),
            _fmt(rec["secret_bits_per_pulse"]),
            _fmt(rec["sifted_rate_bps"]),
            _fmt(rec["qber"], ".4f"),
            _fmt(rec["plob_bound_bps"]),
        )
    console.print(table)


@friendly_errors
def keyrate(
    spec: Path = typer.Argument(..., help="Link SPEC, JSON or TOML (see docs/keyrate.md)."),
    sweep: str | None = typer.Option(
        None,
        "--sweep",
        help="Sweep one field: DOTTED.PATH=START:STOP:STEP, e.g. "
        "channel.length_km=0:200:5 (STOP included).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (a list for --sweep)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a PNG of the swept rate with the PLOB bound."
    ),
) -> None:
    """Secret key rate of a QKD link: decoy BB84 (asymptotic or finite key), BBM92, TF-QKD, PLOB."""
    doc = load_document(spec)
    if plot is not None and sweep is None:
        raise ConfigurationError("--plot: needs --sweep to draw a curve", field="--plot")
    records, swept = _evaluate(doc, sweep)
    if plot is not None:
        from euroqci.reports.keyrate_plot import plot_sweep

        plot_sweep(records, path=swept[0], out=plot, title=spec.name)
    if as_json:
        print_json(records if sweep is not None else records[0])
    else:
        _table(records, swept)
