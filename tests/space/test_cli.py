"""The space verbs of the CLI: passes, pass-key, space-plan (in-process, typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from euroqci.cli.main import app

RUNNER = CliRunner()
ORBIT = ["--orbit-altitude-km", "500", "--inclination-deg", "97.4"]


def _run(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_passes_table_and_json() -> None:
    code, out, _ = _run("passes", *ORBIT, "--station", "OGS-IT-MATERA",
                        "--start", "2027-03-21T00:00:00Z", "--days", "1")  # fmt: skip
    assert code == 0
    assert "max_elevation_deg" in out and "OGS-IT-MATERA" in out
    args = ["--ltan-h", "0", "--start", "2027-03-21T00:00:00Z", "--days", "2", "--night-only"]
    code, out, _ = _run("passes", *ORBIT, *args, "--station", "40.6486,16.7046,537", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["passes"] and {"start", "end", "max_elevation_deg", "duration_s"} <= set(
        doc["passes"][0]
    )


def test_passes_from_a_tle_file(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sgp4.exporter import export_tle

    from euroqci.space.orbits import Satellite

    sat = Satellite.from_circular_orbit(
        altitude_km=550.0, inclination_deg=53.0, epoch=datetime(2027, 3, 21, tzinfo=UTC)
    )
    line1, line2 = export_tle(sat.satrec)
    tle = tmp_path / "sat.tle"
    tle.write_text(f"TESTSAT\n{line1}\n{line2}\n", encoding="utf-8")
    code, out, _ = _run("passes", "--tle", str(tle), "--station", "OGS-ES-TEIDE",
                        "--start", "2027-03-21T00:00:00Z", "--days", "1", "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["satellite"] == "TESTSAT"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["passes", "--station", "OGS-IT-MATERA", "--start", "2027-03-21"], "--tle FILE"),
        (["passes", *ORBIT, "--station", "atlantis", "--start", "2027-03-21"], "LAT,LON,ALT_M"),
        (["passes", *ORBIT, "--station", "OGS-IT-MATERA", "--start", "soon"], "ISO-8601"),
        (
            [
                "passes",
                "--orbit-altitude-km",
                "20",
                "--inclination-deg",
                "50",
                "--station",
                "OGS-IT-MATERA",
                "--start",
                "2027-03-21",
            ],
            "orbit.altitude_km",
        ),
        (["space-plan", "--days", "1"], "--builtin eu"),
        (["space-plan", "--builtin", "mars", "--days", "1"], "unknown scenario"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    code, _out, err = _run(*args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err


def test_pass_key_from_a_loss_curve(tmp_path: Path) -> None:
    spec = tmp_path / "curve.json"
    loss = [30.0 - 8.0 * (1 - abs(k - 100) / 100) for k in range(201)]
    spec.write_text(json.dumps({
        "loss_db_per_slot": loss, "detector_efficiency": 0.5,
        "system": {"intensities": [0.6, 0.2, 0.0], "intensity_probabilities": [0.7, 0.2, 0.1]},
    }), encoding="utf-8")  # fmt: skip
    code, out, _ = _run("pass-key", str(spec), "--json", "--slots")
    assert code == 0
    doc = json.loads(out)
    for name in ("duration_s", "min_loss_db", "detections", "sifted_bits", "qber", "secret_bits"):
        assert name in doc
    assert doc["duration_s"] == 201.0 and doc["min_loss_db"] == pytest.approx(22.0)
    assert doc["secret_bits"] > 0 and len(doc["loss_db_per_slot"]) == 201
    code, out, _ = _run("pass-key", str(spec))
    assert code == 0 and "secret_bits" in out


def test_pass_key_rejects_unknown_fields(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"orbit": {"altitude_km": 500, "inclination_deg": 97},
                                "station": "OGS-ES-TEIDE", "start": "2027-03-21",
                                "optics": {"mirror_m": 2}}), encoding="utf-8")  # fmt: skip
    code, _, err = _run("pass-key", str(spec))
    assert code == 2 and "optics: unknown field(s) mirror_m" in err


def test_space_plan_from_a_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "sc.toml"
    scenario.write_text(
        """
start = "2027-03-21T00:00:00Z"
[satellite]
altitude_km = 500
inclination_deg = 97.4
ltan_h = 0
[[stations]]
id = "OGS-ES-TEIDE"
cloud_probability = 0.2
[[stations]]
id = "OGS-GR-HELMOS"
[system]
intensities = [0.6, 0.2, 0.0]
intensity_probabilities = [0.7, 0.2, 0.1]
basis_probability_x = 0.8
[relay]
storage_bits = 1e8
""",
        encoding="utf-8",
    )
    code, out, _ = _run("space-plan", str(scenario), "--days", "2", "--trials", "20", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [s["station_id"] for s in doc["stations"]] == ["OGS-ES-TEIDE", "OGS-GR-HELMOS"]
    assert doc["stations"][0]["cloud_probability"] == 0.2
    assert doc["pairs"][0]["a"] == "OGS-ES-TEIDE" and doc["pairs"][0]["mean_bits_per_day"] >= 0


def test_documented_examples_run() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    code, out, _ = _run("pass-key", str(root / "space_loss_curve.json"), "--json")
    assert code == 0 and json.loads(out)["secret_bits"] > 0
    code, out, _ = _run("space-plan", str(root / "space_scenario.toml"), "--days", "2",
                        "--trials", "10", "--json")  # fmt: skip
    assert code == 0
    assert {s["station_id"] for s in json.loads(out)["stations"]} == {
        "OGS-ES-TEIDE", "OGS-GR-HELMOS", "GRAZ"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"loss_db_per_slot": [30, "x"], "detector_efficiency": 0.5}, "loss_db_per_slot"),
        (
            {
                "loss_db_per_slot": [30],
                "detector_efficiency": 0.5,
                "system": {"repetition_rate_hz": "fast"},
            },
            "system.repetition_rate_hz",
        ),
        (
            {"loss_db_per_slot": [30], "detector_efficiency": 0.5, "system": {"protocol": 3}},
            "system.protocol",
        ),
        (
            {
                "orbit": {"altitude_km": 500, "inclination_deg": 97},
                "station": {"latitude_deg": 40},
                "start": "2027-03-21",
            },
            "station: missing longitude_deg",
        ),
        (
            {
                "orbit": {"altitude_km": 500, "inclination_deg": 97},
                "station": "OGS-ES-TEIDE",
                "start": "2027-03-21",
                "system": {"protocol": "bbm92"},
            },
            "station_b",
        ),
    ],
)
def test_pass_key_errors_name_the_field(tmp_path: Path, spec: dict, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    code, _, err = _run("pass-key", str(path))
    assert code == 2 and err.startswith("error: ") and needle in err
