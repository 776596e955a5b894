"""The CLI verbs end to end, with the project's key-rate engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from euroqci.cli.main import app

runner = CliRunner()


def test_scenario_validate_good_file(benelux_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "validate", str(benelux_path)])
    assert result.exit_code == 0, result.output
    assert "valid scenario 'benelux'" in result.output
    result = runner.invoke(app, ["scenario", "validate", str(benelux_path), "--json"])
    assert json.loads(result.output)["n_sites"] == 6


def test_scenario_validate_bad_file_is_one_line_exit_2(tmp_path: Path, benelux_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        benelux_path.read_text(encoding="utf-8").replace('b = "TN-ARLON"', 'b = "TN-ARLOM"'),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {bad}:")
    assert "links[1].b: unknown site 'TN-ARLOM'; did you mean 'TN-ARLON'?" in lines[0]


@pytest.mark.slow
def test_plan_json_and_report(benelux_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["plan", str(benelux_path), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"sites", "links", "pairs", "unreachable"} <= set(doc)
    assert all(link["secret_key_rate_bps"] > 0 for link in doc["links"])
    assert all(p["capacity_bps"] > 0 for p in doc["pairs"])
    assert (out / "index.html").exists() and (out / "map.png").exists()


def test_route_json(benelux_path: Path) -> None:
    result = runner.invoke(app, ["route", str(benelux_path), "CAP-FR", "CAP-LU", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["route"][0] == "CAP-FR" and doc["route"][-1] == "CAP-LU"
    assert doc["capacity_bps"] >= doc["widest_route_bps"] > 0


def test_bad_input_is_exit_2(benelux_path: Path) -> None:
    cases = [
        ["route", str(benelux_path), "CAP-FR"],
        ["route", "--builtin", "eu", "CAP-FR", "CAP-ZZ"],
        ["plan", "--builtin", "mars"],
        ["plan", str(benelux_path), "--builtin", "eu"],
        ["plan", "--builtin", "eu", "--executor", "spark"],
        ["plan", "--builtin", "eu", "--accumulation-time-s", "-5"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, args


def test_export_the_builtin_and_read_it_back(tmp_path: Path) -> None:
    from euroqci.network.builtin import builtin_scenario
    from euroqci.network.scenario_file import load_scenario

    out = tmp_path / "eu.toml"
    result = runner.invoke(app, ["scenario", "export", "--builtin", "eu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_scenario(out) == builtin_scenario("eu")
    result = runner.invoke(app, ["scenario", "validate", str(out)])
    assert "37 sites, 46 links" in result.output
