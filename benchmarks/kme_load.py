"""KME load benchmark: 16 concurrent SAE clients over mutual TLS, SQLite with durable commits.

Run:  PYTHONPATH=src python benchmarks/kme_load.py [--seconds 10] [--clients 16]

Starts real KME processes (``euroqci kme serve``) on loopback, each with its own SQLite store
(WAL, synchronous=FULL) pre-filled with the same link keys at both ends of each link. Each client
loops: master SAE-A asks KME-A for keys (GET enc_keys), slave SAE-B fetches them from KME-B
(POST dec_keys). Reported: keys delivered to both per second, p50/p99 latency of each request,
and, in the same run, the request rate of a bare FastAPI endpoint served the same way (uvicorn,
TLS with client certificates, one process). Then the same load through a 3-hop relay
A - T1 - T2 - B.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from euroqci.kms.profile import outbound_for  # noqa: E402
from euroqci.kms.sqlstore import SQLiteKeyStore  # noqa: E402
from euroqci.kms.store import LinkKey  # noqa: E402
from euroqci.server.demo import chain_configs  # noqa: E402
from euroqci.server.pki import init_pki  # noqa: E402
from euroqci.server.settings import load_settings  # noqa: E402

BARE_APP = """
import secrets, ssl, sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/key")
def key() -> dict:
    return {"key": secrets.token_bytes(32).hex()}
d = sys.argv[1]
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
            ssl_certfile=f"{d}/kme/KME-A.pem", ssl_keyfile=f"{d}/kme/KME-A-key.pem",
            ssl_ca_certs=f"{d}/ca.pem", ssl_cert_reqs=ssl.CERT_REQUIRED, loop="asyncio",
            http="httptools" if sys.argv[3] == "httptools" else "h11")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def context(pki: Path, sae: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.load_cert_chain(str(pki / "sae" / f"{sae}.pem"), str(pki / "sae" / f"{sae}-key.pem"))
    return ctx


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def start_network(
    root: Path, *, relay: bool, n_trusted: int, n_link_keys: int
) -> list[subprocess.Popen[bytes]]:
    texts = chain_configs(base_port=free_port(), relay=relay, n_trusted=n_trusted)
    # chain_configs numbers ports from base_port; give each KME a fresh free port instead.
    ports = {kme: free_port() for kme in texts}
    kmes = list(texts)
    init_pki(root / "pki", kme_ids=kmes, sae_ids=["SAE-A", "SAE-B"])
    for kme, text in texts.items():
        lines = []
        for line in text.splitlines():
            if line.startswith("port = "):
                line = f"port = {ports[kme]}"
            if line.startswith("peer_url = "):
                peer = lines[-1].split('"')[1]
                line = f'peer_url = "https://127.0.0.1:{ports[peer]}"'
            lines.append(line)
        (root / f"{kme}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for a, b in itertools.pairwise(kmes):
        settings = load_settings(root / f"{a}.toml")
        link_id = next(link.link_id for link in settings.links if link.peer_kme_id == b)
        pairs = [(str(uuid.uuid4()), secrets.token_bytes(32)) for _ in range(n_link_keys)]
        for me, peer in ((a, b), (b, a)):
            store = SQLiteKeyStore(root / f"{me}.db")
            keys = [
                LinkKey(k, m, outbound_for(k, local_kme_id=me, peer_kme_id=peer)) for k, m in pairs
            ]
            store.add_link_keys(link_id, keys, max_pool_keys=10**7)
            store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "euroqci", "kme", "serve", "--config", str(root / f"{k}.toml")],
            env=env,
        )
        for k in kmes
    ]
    for kme in kmes:
        wait_port(ports[kme])
    procs_ports = {k: ports[k] for k in kmes}
    root.joinpath("ports").write_text(f"{procs_ports['KME-A']} {procs_ports['KME-B']}")
    return procs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


async def kme_load(root: Path, *, clients: int, seconds: float, number: int) -> dict[str, float]:
    port_a, port_b = (int(x) for x in root.joinpath("ports").read_text().split())
    pki = root / "pki"
    enc_lat: list[float] = []
    dec_lat: list[float] = []
    delivered = 0
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with (
        httpx.AsyncClient(verify=context(pki, "SAE-A"), limits=limits, timeout=30) as a,
        httpx.AsyncClient(verify=context(pki, "SAE-B"), limits=limits, timeout=30) as b,
    ):
        # Warm-up: open the TLS connections.
        await asyncio.gather(
            *(a.get(f"https://127.0.0.1:{port_a}/api/v1/keys/SAE-B/status") for _ in range(clients))
        )
        end = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal delivered, errors
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                r = await a.get(
                    f"https://127.0.0.1:{port_a}/api/v1/keys/SAE-B/enc_keys?number={number}&size=256"
                )
                t1 = time.perf_counter()
                if r.status_code != 200:
                    errors += 1
                    continue
                ids = [{"key_ID": k["key_ID"]} for k in r.json()["keys"]]
                r2 = await b.post(
                    f"https://127.0.0.1:{port_b}/api/v1/keys/SAE-A/dec_keys", json={"key_IDs": ids}
                )
                t2 = time.perf_counter()
                if r2.status_code != 200 or r2.json()["keys"] != r.json()["keys"]:
                    errors += 1
                    continue
                enc_lat.append(t1 - t0)
                dec_lat.append(t2 - t1)
                delivered += len(ids)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
        metrics = (await a.get(f"https://127.0.0.1:{port_a}/metrics")).text
    relayed = messages = 0.0
    for line in metrics.splitlines():
        if line.startswith("euroqci_kme_keys_relayed_total "):
            relayed = float(line.split()[1])
        if line.startswith("euroqci_kme_relay_messages_total "):
            messages = float(line.split()[1])
    return {
        "relayed_keys": relayed,
        "relay_messages": messages,
        "keys_per_s": delivered / elapsed,
        "requests_per_s": 2 * len(enc_lat) / elapsed,
        "enc_p50_ms": 1e3 * percentile(enc_lat, 0.50),
        "enc_p99_ms": 1e3 * percentile(enc_lat, 0.99),
        "dec_p50_ms": 1e3 * percentile(dec_lat, 0.50),
        "dec_p99_ms": 1e3 * percentile(dec_lat, 0.99),
        "errors": errors,
    }


async def bare_load(pki: Path, port: int, *, clients: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(verify=context(pki, "SAE-A"), limits=limits, timeout=30) as c:
        await asyncio.gather(*(c.get(f"https://127.0.0.1:{port}/key") for _ in range(clients)))
        end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                r = await c.get(f"https://127.0.0.1:{port}/key")
                r.raise_for_status()
                lat.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {
        "requests_per_s": len(lat) / elapsed,
        "p50_ms": 1e3 * percentile(lat, 0.5),
        "p99_ms": 1e3 * percentile(lat, 0.99),
    }


def keys_per_message(
    r: dict[str, float], seen: tuple[float, float]
) -> tuple[float, tuple[float, float]]:
    """Keys per relay message at KME-A during one case (its counters are cumulative)."""
    keys, messages = r["relayed_keys"] - seen[0], r["relay_messages"] - seen[1]
    return keys / max(messages, 1.0), (r["relayed_keys"], r["relay_messages"])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--link-keys", type=int, default=200_000)
    args = parser.parse_args()
    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.clients} clients, {args.seconds:.0f} s per case"
    )
    print(
        "# command: PYTHONPATH=src python benchmarks/kme_load.py "
        f"--seconds {args.seconds:g} --clients {args.clients}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "direct"
        root.mkdir()
        procs = start_network(root, relay=False, n_trusted=0, n_link_keys=args.link_keys)
        try:
            from euroqci.server.tls import http_protocol

            protocol = "httptools" if "HttpTools" in http_protocol().__name__ else "h11"
            bare_port = free_port()
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(root / "pki"), str(bare_port), protocol]
            )
            try:
                wait_port(bare_port)
                b = asyncio.run(
                    bare_load(root / "pki", bare_port, clients=args.clients, seconds=args.seconds)
                )
            finally:
                stop([bare])
            print(
                f"bare FastAPI over mutual TLS ({protocol}): {b['requests_per_s']:.0f} requests/s, "
                f"p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms"
            )
            seen = (0.0, 0.0)
            for number in (1, 16):
                r = asyncio.run(
                    kme_load(root, clients=args.clients, seconds=args.seconds, number=number)
                )
                batching, seen = keys_per_message(r, seen)
                print(
                    f"KME A-B direct, number={number}: {r['keys_per_s']:.0f} keys/s delivered "
                    f"to master and slave, {r['requests_per_s']:.0f} requests/s "
                    f"(ratio to bare {r['requests_per_s'] / b['requests_per_s']:.2f}); "
                    f"enc_keys p50 {r['enc_p50_ms']:.1f} ms p99 {r['enc_p99_ms']:.1f} ms; "
                    f"dec_keys p50 {r['dec_p50_ms']:.1f} ms p99 {r['dec_p99_ms']:.1f} ms; "
                    f"{batching:.1f} keys per relay message; errors {r['errors']}"
                )
        finally:
            stop(procs)
        root = Path(tmp) / "relay"
        root.mkdir()
        procs = start_network(root, relay=True, n_trusted=2, n_link_keys=args.link_keys)
        try:
            seen = (0.0, 0.0)
            for number in (1, 16):
                r = asyncio.run(
                    kme_load(root, clients=args.clients, seconds=args.seconds, number=number)
                )
                batching, seen = keys_per_message(r, seen)
                print(
                    f"KME 3-hop relay A-T1-T2-B, number={number}: {r['keys_per_s']:.0f} keys/s, "
                    f"enc_keys p50 {r['enc_p50_ms']:.1f} ms p99 {r['enc_p99_ms']:.1f} ms; "
                    f"dec_keys p99 {r['dec_p99_ms']:.1f} ms; {batching:.1f} keys per relay "
                    f"message; errors {r['errors']}"
                )
        finally:
            stop(procs)


if __name__ == "__main__":
    main()
