"""``euroqci pki`` and ``euroqci kme``: outputs, one-line errors with exit code 2."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from euroqci.cli.main import app
from euroqci.server.demo import write_demo

runner = CliRunner()


def test_pki_init(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pki", "init", str(tmp_path / "pki"), "--kme", "KME-A", "--sae", "SAE-A", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    key = Path(out["saes"]["SAE-A"]["key"])
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert Path(out["ca"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        ["pki", "init", str(tmp_path)],
        ["pki", "init", str(tmp_path), "--sae", "bad id!"],
        ["pki", "init", str(tmp_path), "--sae", "X", "--kme", "X"],
        ["kme", "serve", "--config", str(tmp_path / "none.toml")],
        ["kme", "status", "--config", str(tmp_path / "none.toml")],
        ["kme", "demo", "--dir", str(tmp_path / "d"), "--base-port", "80"],
        ["kme", "supply", "--link-id", "A~B", "--drop", str(tmp_path)],
        ["kme", "supply", "--link-id", "A~B", "--drop", str(tmp_path), "--drop", str(tmp_path),
         "--key-size-bits", "12"],
    ]  # fmt: skip
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)


def test_supply_then_status(tmp_path: Path) -> None:
    layout = write_demo(tmp_path, base_port=20000)
    drops = [tmp_path / "drop-a", tmp_path / "drop-b"]
    for d in drops:
        d.mkdir()
    args = ["kme", "supply", "--link-id", "A~B", "--keys", "10", "--json"]
    result = runner.invoke(app, [*args, "--drop", str(drops[0]), "--drop", str(drops[1])])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["keys"] == 10
    files = [sorted(d.glob("*.json")) for d in drops]
    assert len(files[0]) == 1 and files[0][0].read_text() == files[1][0].read_text()

    from euroqci.kms import KeyManager, import_key_drop, open_store
    from euroqci.server.settings import load_settings

    settings = load_settings(layout.configs[0])
    store = open_store(settings.store)
    assert import_key_drop(KeyManager(store, profile=settings.profile()), drops[0]) == {"A~B": 10}
    store.close()
    result = runner.invoke(app, ["kme", "status", "--config", str(layout.configs[0]), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    link = status["links"][0]
    assert status["kme_id"] == "KME-A" and link["outbound_keys"] + link["inbound_keys"] == 10
