"""`euroqci plan|route --with-space` and `space-plan` on a network scenario (typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from euroqci.cli.main import app

RUNNER = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
TENERIFE = str(EXAMPLES / "tenerife.toml")
SPACE = ["--with-space", "--space-days", "2"]


def _run(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_plan_with_space_json(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    code, stdout, _ = _run("plan", TENERIFE, *SPACE, "--no-failures", "--json", "--out", str(out))
    assert code == 0
    doc = json.loads(stdout)
    satellite = [x for x in doc["links"] if x["kind"] == "satellite"]
    assert {x["a"] for x in satellite} == {"OGS-ES-TEIDE", "GS-ES-YEBES"}
    assert all(x["secret_key_rate_bps"] > 0 for x in satellite)
    node = doc["satellite"]["node"]
    pair = next(p for p in doc["pairs"] if {p["a"], p["b"]} == {"CAP-ES", "OR-ESCN-SCT"})
    assert pair["capacity_bps"] == pytest.approx(min(x["secret_key_rate_bps"] for x in satellite))
    assert node in pair["trusted_nodes"]
    assert doc["unreachable"] == []
    bursts = json.loads((out / "satellite.json").read_text(encoding="utf-8"))
    assert all(link["bursts"] for link in bursts["links"])
    assert "satellite" in (out / "links.csv").read_text(encoding="utf-8")


def test_route_and_space_plan_on_a_network_scenario() -> None:
    code, stdout, _ = _run("route", TENERIFE, "OR-ESCN-SCT", "CAP-PT", *SPACE, "--json")
    assert code == 0
    route = json.loads(stdout)
    assert route["capacity_bps"] > 0
    assert any(n.startswith("SAT-") for n in route["trusted_nodes"])
    code, stdout, _ = _run("route", TENERIFE, "OR-ESCN-SCT", "CAP-PT")
    assert code == 0 and "no fibre route" in stdout
    code, stdout, _ = _run("space-plan", TENERIFE, "--days", "2", "--trials", "5", "--json")
    assert code == 0
    plan = json.loads(stdout)
    assert [s["station_id"] for s in plan["stations"]] == ["OGS-ES-TEIDE", "GS-ES-YEBES"]
    assert len(plan["pairs"]) == 1


def test_with_space_bad_input_is_one_line_exit_2() -> None:
    code, _, err = _run("plan", TENERIFE, "--with-space", "--space-days", "0")
    assert code == 2 and "space-days" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run("plan", str(EXAMPLES / "benelux.toml"), "--with-space")
    assert code == 2 and "ground_station" in err
    code, _, err = _run("space-plan", str(EXAMPLES / "benelux.toml"), "--days", "1")
    assert code == 2 and "ground_station" in err


@pytest.mark.slow
def test_builtin_eu_with_space() -> None:
    code, stdout, _ = _run("plan", "--builtin", "eu", *SPACE, "--no-failures", "--json")
    assert code == 0
    doc = json.loads(stdout)
    unreachable = {u["id"] for u in doc["unreachable"]}
    assert "OR-ESCN-SCT" not in unreachable and "OR-ESCN-LPA" in unreachable
    assert {u["id"] for u in doc["satellite"]["unserved"]} == unreachable
    assert len([x for x in doc["links"] if x["kind"] == "satellite"]) == 9
    pair = next(p for p in doc["pairs"] if {p["a"], p["b"]} == {"CAP-DE", "OR-ESCN-SCT"})
    assert pair["capacity_bps"] > 0 and doc["satellite"]["node"] in pair["trusted_nodes"]
