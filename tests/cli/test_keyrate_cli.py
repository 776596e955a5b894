from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from euroqci.cli.keyrate import parse_sweep
from euroqci.cli.main import app
from euroqci.errors import ConfigurationError

runner = CliRunner()
SPEC = {
    "protocol": "bb84-decoy",
    "channel": {"length_km": 50, "attenuation_db_per_km": 0.2, "extra_loss_db": 0},
    "source": {
        "repetition_rate_hz": 1e9,
        "intensities": [0.5, 0.1, 0.0],
        "intensity_probabilities": [0.8, 0.1, 0.1],
        "basis_probability_x": 0.5,
    },
    "detector": {"efficiency": 0.1, "dark_count_probability": 6e-7, "afterpulse_probability": 0.0},
    "misalignment_error": 0.005,
    "error_correction_efficiency": 1.16,
    "decoy": "three-intensity",
    "finite_key": {
        "block_size": 1e9,
        "epsilon_sec": 1e-10,
        "epsilon_cor": 1e-15,
        "tail_bound": "hoeffding",
    },
}


def _write(tmp_path: Path, doc: object, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_json_has_the_contract_fields(tmp_path: Path) -> None:
    out = runner.invoke(app, ["keyrate", str(_write(tmp_path, SPEC)), "--json"])
    assert out.exit_code == 0, out.output
    rec = json.loads(out.stdout)
    for key in (
        "secret_key_rate_bps",
        "secret_bits_per_pulse",
        "sifted_rate_bps",
        "qber",
        "secret_bits",
        "parameters",
    ):
        assert key in rec
    assert rec["secret_key_rate_bps"] > 0
    assert rec["parameters"]["intensities"] == [0.5, 0.1, 0.0]


def test_sweep_gives_a_list_and_a_plot(tmp_path: Path) -> None:
    png = tmp_path / "rate.png"
    out = runner.invoke(
        app,
        [
            "keyrate",
            str(_write(tmp_path, SPEC)),
            "--json",
            "--sweep",
            "channel.length_km=0:100:25",
            "--plot",
            str(png),
        ],
    )
    assert out.exit_code == 0, out.output
    recs = json.loads(out.stdout)
    assert [r["sweep"]["value"] for r in recs] == [0, 25, 50, 75, 100]
    assert png.stat().st_size > 1000
    rates = [r["secret_key_rate_bps"] for r in recs]
    assert rates == sorted(rates, reverse=True)


def test_non_vector_sweep_path(tmp_path: Path) -> None:
    out = runner.invoke(
        app,
        [
            "keyrate",
            str(_write(tmp_path, SPEC)),
            "--json",
            "--sweep",
            "misalignment_error=0.01:0.03:0.01",
        ],
    )
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)) == 3


def test_toml_spec_and_table(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text('protocol = "plob"\n[channel]\nloss_db = 30.0\n')
    out = runner.invoke(app, ["keyrate", str(path)])
    assert out.exit_code == 0, out.output
    assert "secret_key_rate_bps" in out.stdout


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"channel": {"length_km": -1}}, "channel.length_km"),
        ({"detector": {"efficiency": 1.5}}, "detector.efficiency"),
        ({"protocol": "e91x"}, "protocol"),
        ({"wavelength": 1550}, "wavelength"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, patch: dict[str, object], needle: str
) -> None:
    out = runner.invoke(app, ["keyrate", str(_write(tmp_path, SPEC | patch))])
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    out = runner.invoke(app, ["keyrate", str(tmp_path / "nope.json")])
    assert out.exit_code == 2 and "cannot read" in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = runner.invoke(app, ["keyrate", str(bad)])
    assert out.exit_code == 2 and "not valid JSON" in out.stderr


def test_parse_sweep() -> None:
    path, values = parse_sweep("channel.length_km=0:10:5")
    assert path == "channel.length_km" and values.tolist() == [0, 5, 10]
    with pytest.raises(ConfigurationError):
        parse_sweep("channel.length_km=0:10")
    with pytest.raises(ConfigurationError):
        parse_sweep("channel.length_km=10:0:1")


def test_every_verb_has_help() -> None:
    import typer.main

    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    group = typer.main.get_command(app)
    ctx = group.make_context("euroqci", ["--help"], resilient_parsing=True)
    paths: list[list[str]] = []
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        paths.append([name])
        sub = group.get_command(ctx, name)  # type: ignore[attr-defined]
        if hasattr(sub, "list_commands"):
            sub_ctx = sub.make_context(name, ["--help"], resilient_parsing=True)
            paths.extend([name, s] for s in sub.list_commands(sub_ctx))
    assert {
        "keyrate",
        "distill",
        "plan",
        "route",
        "passes",
        "pass-key",
        "space-plan",
        "kme",
        "pki",
        "scenario",
    } <= {p[0] for p in paths}
    for path in paths:
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
        assert "Usage" in res.output
