"""The network report: tables, the offline map of Europe, the HTML page."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from euroqci.network.planning import NetworkPlan, plan_network
from euroqci.network.rates import KeyRateEngine
from euroqci.network.scenario_file import load_scenario
from euroqci.reports.europe_map import draw_network_map, europe_outlines
from euroqci.reports.network import plan_tables, write_plan_report

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "benelux.toml"


def _stand_in(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-test stand-in for the key-rate engine: falls 0.2 dB/km, vanishes near 250 km."""
    key_basis = 1e7 * 10 ** (-0.02 * np.asarray(spec["channel"]["length_km"], dtype=float))
    return np.clip(0.3 * key_basis - 20.0, 0.0, None), key_basis


@pytest.fixture(scope="module")
def plan() -> NetworkPlan:
    scenario = load_scenario(EXAMPLE)
    return plan_network(scenario, engine=KeyRateEngine(evaluate=_stand_in), double_failures=True)


def test_outlines_cover_europe() -> None:
    outlines = europe_outlines()
    names = {c["name"] for c in outlines["countries"]}
    assert {"France", "Germany", "Portugal", "Finland", "Cyprus", "Malta", "Ireland"} <= names
    assert "Natural Earth" in outlines["source"]
    for country in outlines["countries"]:
        if country["name"] == "Belgium":
            ring = np.asarray(country["rings"][0])
            assert 2.5 < ring[:, 0].min() and ring[:, 0].max() < 6.5
            assert 49.4 < ring[:, 1].min() and ring[:, 1].max() < 51.6


def test_tables_hold_every_span_and_pair(plan: NetworkPlan) -> None:
    tables = plan_tables(plan)
    header, rows = tables["links"]
    assert header[:3] == ["id", "a", "b"] and "secret_key_rate_bps" in header
    assert len(rows) == len(plan.topology.spans)
    assert len(tables["pairs"][1]) == len(plan.pairs)
    assert len(tables["double_failures"][1]) == len(plan.double_failures or ())


def test_report_files(plan: NetworkPlan, tmp_path: Path) -> None:
    index = write_plan_report(plan, tmp_path)
    html = index.read_text(encoding="utf-8")
    assert "<img src='map.png'" in html and "benelux" in html
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert {"sites", "links", "pairs", "unreachable"} <= set(doc)
    with (tmp_path / "links.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["secret_key_rate_bps"]) > 0
    for name in ("sites", "pairs", "unreachable", "single_failures", "double_failures"):
        assert (tmp_path / f"{name}.csv").exists()


def test_map_as_svg(plan: NetworkPlan, tmp_path: Path) -> None:
    path = draw_network_map(plan, tmp_path / "map.svg")
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
