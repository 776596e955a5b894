"""``euroqci distill``: JSON fields, abort under attack, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from euroqci.cli.main import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "distill-link.json"


@pytest.mark.slow
def test_distill_json_has_the_contract_fields(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["distill", str(EXAMPLE), "--pulses", "1e7", "--json", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    fields = (
        "qber", "sifted_bits", "reconciliation_leak_bits", "reconciliation_efficiency", "frames",
        "frames_failed", "verification_passed", "secret_bits", "keys_equal",
        "authentication_key_used_bits", "aborted", "abort_reason", "throughput",
    )  # fmt: skip
    for field in fields:
        assert field in out
    assert out["keys_equal"] is True and out["aborted"] is False
    assert (tmp_path / "alice.key").read_bytes() == (tmp_path / "bob.key").read_bytes()
    for name in ("alice.key", "bob.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


def test_distill_aborts_under_intercept_resend() -> None:
    res = runner.invoke(
        app, ["distill", str(EXAMPLE), "--pulses", "2e6", "--eavesdrop", "0.6", "--json"]
    )
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["aborted"] is True and out["abort_reason"] == "qber too high"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pulses", "-5"], "--pulses"),
        (["--pulses", "1e5", "--method", "turbo"], "--method"),
        (["--pulses", "1e5", "--channel", "carrier-pigeon"], "--channel"),
        (["--pulses", "1e5", "--eavesdrop", "1.5"], "--eavesdrop"),
        (["--pulses", "1e5", "--channel", "tcp", "--rtt-ms", "-1"], "--rtt-ms"),
        (["--pulses", "1e5", "--rtt-ms", "2"], "--rtt-ms"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    res = runner.invoke(app, ["distill", str(EXAMPLE), *args])
    assert res.exit_code == 2
    assert needle in res.output and "Traceback" not in res.output
