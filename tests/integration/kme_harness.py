"""Start real KME processes (``euroqci kme serve``) on loopback with a real PKI and SQLite."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from euroqci.kms.profile import outbound_for
from euroqci.kms.store import LinkKey, open_store
from euroqci.server.pki import init_pki

# httpx (httpcore) drops a connection that a kill -9 broke mid-request without closing its TLS
# socket; the socket's ResourceWarning then reaches pytest as an unraisable exception (about one
# run in ten). It concerns the test's client, not the KME: the kill -9 tests ignore exactly it.
IGNORE_CLIENT_SOCKET_LEAK = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning"
)

SRC = Path(__file__).resolve().parents[2] / "src"
KEYS = "/api/v1/keys"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sae_client(
    pki: Path, sae: str, *, ca: Path | None = None, timeout_s: float = 10.0
) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(ca or pki / "ca.pem"))
    context.load_cert_chain(str(pki / "sae" / f"{sae}.pem"), str(pki / "sae" / f"{sae}-key.pem"))
    return httpx.Client(verify=context, timeout=timeout_s)


@dataclass
class KMEPair:
    """KME-A (SAE-A) and KME-B (SAE-B, SAE-C) joined by link A~B, each its own process."""

    root: Path
    ports: dict[str, int]
    store_urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    def url(self, kme: str) -> str:
        return f"https://127.0.0.1:{self.ports[kme]}"

    def config(self, kme: str) -> Path:
        return self.root / f"{kme}.toml"

    def start(self, kme: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        with (self.root / f"{kme}.log").open("ab") as log:
            self.procs[kme] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "euroqci",
                    "kme",
                    "serve",
                    "--config",
                    str(self.config(kme)),
                ],
                env=env,
                stdout=log,
                stderr=log,
            )
        self.wait_ready(kme)

    def wait_ready(self, kme: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with sae_client(self.pki, "SAE-A" if kme == "KME-A" else "SAE-B", timeout_s=2) as c:
            while time.monotonic() < deadline:
                if self.procs[kme].poll() is not None:
                    raise RuntimeError((self.root / f"{kme}.log").read_text())
                try:
                    c.get(self.url(kme) + "/metrics")
                    return
                except httpx.TransportError:
                    time.sleep(0.1)
        raise RuntimeError(f"{kme} did not start")

    def kill9(self, kme: str) -> None:
        proc = self.procs.pop(kme)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def pools_in_step(pair: KMEPair, *, timeout_s: float = 10.0) -> bool:
    """Whether both ends of link A~B come to hold the same link keys (each end's outbound pool
    is the other's inbound pool), waiting for the KMEs' outbox flush."""
    deadline = time.monotonic() + timeout_s
    while True:
        pools = []
        for kme in ("KME-A", "KME-B"):
            store = open_store(pair.store_urls[kme])
            try:
                pools.append(store.pool_status("A~B"))
            finally:
                store.close()
        a, b = pools
        if (a.outbound_keys, a.inbound_keys) == (b.inbound_keys, b.outbound_keys):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def make_pair(
    root: Path, *, n_link_keys: int = 4000, store_urls: dict[str, str] | None = None
) -> KMEPair:
    """PKI, configs and SQLite stores pre-filled with the same link keys at both ends."""
    pair = KMEPair(root, {"KME-A": free_port(), "KME-B": free_port()})
    init_pki(pair.pki, kme_ids=["KME-A", "KME-B"], sae_ids=["SAE-A", "SAE-B", "SAE-C"])
    saes = {"KME-A": ["SAE-A"], "KME-B": ["SAE-B", "SAE-C"]}
    urls = {k: f"sqlite:///{root / k}.db" for k in saes} | (store_urls or {})
    pair.store_urls = urls
    pairs = [(str(uuid.uuid4()), secrets.token_bytes(32)) for _ in range(n_link_keys)]
    for kme, peer in (("KME-A", "KME-B"), ("KME-B", "KME-A")):
        remote = {s: peer for s in saes[peer]}
        remote_toml = ", ".join(f'"{s}" = "{k}"' for s, k in remote.items())
        pair.config(kme).write_text(
            f'kme_id = "{kme}"\nport = {pair.ports[kme]}\n'
            f'cert_file = "pki/kme/{kme}.pem"\nkey_file = "pki/kme/{kme}-key.pem"\n'
            f'ca_file = "pki/ca.pem"\nstore = "{urls[kme]}"\n'
            f'audit_log = "{kme}-audit.jsonl"\nsaes = {saes[kme]!r}\n'
            f"remote_saes = {{ {remote_toml} }}\nmax_key_count = 1000000\n\n"
            f'[[links]]\nlink_id = "A~B"\npeer_kme_id = "{peer}"\n'
            f'peer_url = "https://127.0.0.1:{pair.ports[peer]}"\n'.replace("'", '"'),
            encoding="utf-8",
        )
        store = open_store(urls[kme])
        keys = [
            LinkKey(k, m, outbound_for(k, local_kme_id=kme, peer_kme_id=peer)) for k, m in pairs
        ]
        store.add_link_keys("A~B", keys, max_pool_keys=10**6)
        store.close()
    return pair


def load(
    pair: KMEPair,
    n_clients: int,
    per_client: int,
    out: list[tuple[str, bytes]],
    errors: list[int],
    stop: threading.Event | None = None,
) -> None:
    lock = threading.Lock()

    def worker() -> None:
        with sae_client(pair.pki, "SAE-A", timeout_s=15) as a:
            for _ in range(per_client):
                if stop is not None and stop.is_set():
                    return
                try:
                    r = a.get(pair.url("KME-A") + f"{KEYS}/SAE-B/enc_keys?number=2&size=256")
                except httpx.TransportError:
                    with lock:
                        errors.append(0)
                    continue
                with lock:
                    if r.status_code == 200:
                        out.extend(
                            (k["key_ID"], base64.b64decode(k["key"])) for k in r.json()["keys"]
                        )
                    else:
                        errors.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def redeem_all(pair: KMEPair, got: list[tuple[str, bytes]]) -> None:
    """The slave gets every key the master got, identical, exactly once."""
    with sae_client(pair.pki, "SAE-B") as b:
        for start in range(0, len(got), 100):
            chunk = got[start : start + 100]
            body = {"key_IDs": [{"key_ID": k} for k, _ in chunk]}
            r = b.post(pair.url("KME-B") + f"{KEYS}/SAE-A/dec_keys", json=body)
            assert r.status_code == 200, r.text
            assert [(k["key_ID"], base64.b64decode(k["key"])) for k in r.json()["keys"]] == chunk
            again = b.post(pair.url("KME-B") + f"{KEYS}/SAE-A/dec_keys", json=body)
            assert again.status_code == 400
