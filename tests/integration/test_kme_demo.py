"""``euroqci kme demo --relay``: the JSON line, a key through the trusted node, a clean stop."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kme_harness import SRC

from euroqci.server.transport import client_ssl_context

pytestmark = pytest.mark.integration


def _free_run(n: int) -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + n >= 65535:
            continue
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no free ports")


def test_demo_with_relay(tmp_path: Path) -> None:
    import httpx

    base = _free_run(3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "euroqci", "kme", "demo", "--dir", str(tmp_path),
         "--base-port", str(base), "--relay"],
        env={**os.environ, "PYTHONPATH": str(SRC)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert [k["id"] for k in info["kmes"]] == ["KME-A", "KME-T", "KME-B"]
        urls = {k["id"]: k["url"] for k in info["kmes"]}
        saes = {s["id"]: s for s in info["saes"]}
        ca = Path(info["ca"])

        def client(sae: str) -> httpx.Client:
            s = saes[sae]
            ctx = client_ssl_context(ca_file=ca, cert_file=Path(s["cert"]), key_file=Path(s["key"]))
            return httpx.Client(verify=ctx, timeout=10)

        with client("SAE-A") as a, client("SAE-B") as b:
            deadline = time.monotonic() + 10
            while True:  # the link supply fills the pools within a fraction of a second
                r = a.get(urls["KME-A"] + "/api/v1/keys/SAE-B/enc_keys?number=2&size=256")
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.status_code == 200, r.text
            keys = r.json()["keys"]
            body = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
            r2 = b.post(urls["KME-B"] + "/api/v1/keys/SAE-A/dec_keys", json=body)
            assert r2.status_code == 200 and r2.json()["keys"] == keys
            assert len(base64.b64decode(keys[0]["key"])) == 32
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        assert code == 0, f"the demo exited with {code} on SIGTERM"
