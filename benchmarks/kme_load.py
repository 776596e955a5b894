"""KME load benchmark: 16 concurrent SAE clients over mutual TLS, SQLite with durable commits.

Run:  PYTHONPATH=src python benchmarks/kme_load.py [--seconds 8] [--clients 16]
          [--numbers 1,4,16] [--rate 1000] [--no-relay] [--no-bare]

Starts real KME processes (``euroqci kme serve``) on loopback, each with its own SQLite store
(WAL, synchronous=FULL) pre-filled with the same link keys at both ends of each link. Each client
loops: master SAE-A asks KME-A for ``number`` keys (GET enc_keys), slave SAE-B fetches them from
KME-B (POST dec_keys) and must get exactly the same keys. A key counts as delivered once both
have it. Cases, all in one run:

- a bare FastAPI endpoint served the same way (uvicorn, httptools, uvloop, TLS with client
  certificates, one process), as the reference for the ratio;
- KME-A - KME-B direct, closed loop (each client asks again as soon as it is answered: the
  throughput at saturation, and the latency at saturation) for each ``--numbers``;
- the same, open loop at ``--rate`` keys/s offered (each client on a fixed schedule; latency
  from the scheduled start): the latency at that throughput;
- a 3-hop relay A - T1 - T2 - B, closed loop.

The load generator is one uvloop process with one keep-alive mutual-TLS connection per client
and KME (see :class:`Http1Connection`); it reports the CPU it used next to the servers' own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
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
from typing import Any

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
from euroqci.server.runner import event_loop
app = FastAPI()
@app.get("/key")
def key() -> dict:
    return {"key": secrets.token_bytes(32).hex()}
d = sys.argv[1]
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
            ssl_certfile=f"{d}/kme/KME-A.pem", ssl_keyfile=f"{d}/kme/KME-A-key.pem",
            ssl_ca_certs=f"{d}/ca.pem", ssl_cert_reqs=ssl.CERT_REQUIRED, loop=event_loop(),
            http="httptools")
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


class Http1Connection:
    """A minimal HTTP/1.1 keep-alive client on one asyncio TLS stream.

    Written by hand on purpose: the load generator shares the two cores with the servers it
    measures, and httpx spends several times the CPU of the request itself per call (its
    connection pool, header models and URL parsing), so with httpx the numbers measured the
    client. This sends one request at a time on a persistent connection, reads the status line
    and headers in one ``readuntil`` and the body by Content-Length (uvicorn answers every
    route here with a Content-Length; anything else is refused, not guessed).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, ctx: ssl.SSLContext, server_name: str) -> Http1Connection:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname=server_name
        )
        return cls(reader, writer)

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        if length is None:
            raise RuntimeError("response without Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (as the servers use it), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(coro: Any) -> Any:
    loop = new_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def kme_load(
    root: Path, *, clients: int, seconds: float, number: int, rate_keys_per_s: float | None = None
) -> dict[str, float]:
    """Master and slave fetch keys in a loop: as fast as answers come (closed loop), or, with
    ``rate_keys_per_s``, each client on a fixed schedule so that together they ask for that
    many keys per second (open loop). Latency is then counted from the scheduled start, so a
    server that falls behind shows it in the percentiles instead of slowing the clients down
    (no coordinated omission)."""
    port_a, port_b = (int(x) for x in root.joinpath("ports").read_text().split())
    pki = root / "pki"
    ctx_a, ctx_b = context(pki, "SAE-A"), context(pki, "SAE-B")
    enc_lat: list[float] = []
    dec_lat: list[float] = []
    delivered = 0
    errors = 0
    enc_target = f"/api/v1/keys/SAE-B/enc_keys?number={number}&size=256"
    dec_target = "/api/v1/keys/SAE-A/dec_keys"
    # Each client is one master SAE connection to KME-A and one slave SAE connection to KME-B,
    # both kept alive; the TLS handshakes happen before the clock starts.
    conns = await asyncio.gather(
        *(
            asyncio.gather(
                Http1Connection.open(port_a, ctx_a, "KME-A"),
                Http1Connection.open(port_b, ctx_b, "KME-B"),
            )
            for _ in range(clients)
        )
    )
    for a, _ in conns:
        status, _ = await a.request("GET", "/api/v1/keys/SAE-B/status")
        assert status == 200, status
    end = time.perf_counter() + seconds

    interval_s = clients * number / rate_keys_per_s if rate_keys_per_s else 0.0

    async def client(a: Http1Connection, b: Http1Connection, index: int) -> None:
        nonlocal delivered, errors
        scheduled = time.perf_counter() + interval_s * index / clients
        while time.perf_counter() < end:
            if interval_s:
                wait_s = scheduled - time.perf_counter()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                t0 = scheduled
                scheduled += interval_s
            else:
                t0 = time.perf_counter()
            status, body = await a.request("GET", enc_target)
            t1 = time.perf_counter()
            if status != 200:
                errors += 1
                continue
            keys = json.loads(body)["keys"]
            ids = [{"key_ID": k["key_ID"]} for k in keys]
            status, body2 = await b.request(
                "POST", dec_target, json.dumps({"key_IDs": ids}).encode()
            )
            t2 = time.perf_counter()
            # Exactness: the slave gets exactly the master's keys, or the pair counts as an error.
            if status != 200 or json.loads(body2)["keys"] != keys:
                errors += 1
                continue
            enc_lat.append(t1 - t0)
            dec_lat.append(t2 - t1)
            delivered += len(ids)

    start = time.perf_counter()
    await asyncio.gather(*(client(a, b, i) for i, (a, b) in enumerate(conns)))
    elapsed = time.perf_counter() - start
    _, metrics_body = await conns[0][0].request("GET", "/metrics")
    for a, b in conns:
        await a.close()
        await b.close()
    relayed = messages = 0.0
    for line in metrics_body.decode().splitlines():
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
        "p99_ms": 1e3 * percentile(enc_lat + dec_lat, 0.99),
        "errors": errors,
    }


async def bare_load(pki: Path, port: int, *, clients: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    ctx = context(pki, "SAE-A")
    conns = await asyncio.gather(
        *(Http1Connection.open(port, ctx, "KME-A") for _ in range(clients))
    )
    for c in conns:
        await c.request("GET", "/key")
    end = time.perf_counter() + seconds

    async def client(c: Http1Connection) -> None:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            status, body = await c.request("GET", "/key")
            if status != 200 or len(json.loads(body)["key"]) != 64:
                raise RuntimeError(f"bare endpoint answered {status}")
            lat.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
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


def cpu_s(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by these processes (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(procs: list[subprocess.Popen[bytes]], coro: Any) -> dict[str, Any]:
    """Run one case; add the CPU seconds per wall second of the servers and of this client."""
    pids = [p.pid for p in procs]
    server0 = [cpu_s([pid]) for pid in pids]
    client0, wall0 = time.process_time(), time.perf_counter()
    result: dict[str, Any] = run(coro)
    wall = time.perf_counter() - wall0
    each = [cpu_s([pid]) - s0 for pid, s0 in zip(pids, server0, strict=True)]
    result["server_cores"] = sum(each) / wall
    result["each_cores"] = "+".join(f"{c / wall:.2f}" for c in each)
    result["client_cores"] = (time.process_time() - client0) / wall
    return result


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=15)


def line(label: str, r: dict[str, Any], batching: float, bare_rps: float | None) -> str:
    ratio = f" (ratio to bare {r['requests_per_s'] / bare_rps:.2f})" if bare_rps else ""
    return (
        f"{label}: {r['keys_per_s']:.0f} keys/s delivered to master and slave, "
        f"{r['requests_per_s']:.0f} SAE requests/s{ratio}; "
        f"enc_keys p50 {r['enc_p50_ms']:.1f} ms p99 {r['enc_p99_ms']:.1f} ms; "
        f"dec_keys p50 {r['dec_p50_ms']:.1f} ms p99 {r['dec_p99_ms']:.1f} ms; "
        f"all requests p99 {r['p99_ms']:.1f} ms; "
        f"{batching:.1f} keys per relay message; errors {r['errors']}; CPU cores used: "
        f"KMEs {r['server_cores']:.2f} ({r['each_cores']}), client {r['client_cores']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--link-keys", type=int, default=600_000)
    parser.add_argument(
        "--numbers", default="1,4,16", help="keys per request to measure, comma-separated"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="keys/s offered in the open-loop cases (0: closed loop only)",
    )
    parser.add_argument("--no-relay", action="store_true", help="skip the 3-hop relay cases")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare FastAPI case")
    args = parser.parse_args()
    numbers = [int(n) for n in args.numbers.split(",")]
    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.clients} clients, {args.seconds:g} s per case; load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        "# command: PYTHONPATH=src python benchmarks/kme_load.py "
        f"--seconds {args.seconds:g} --clients {args.clients} --numbers {args.numbers} "
        f"--rate {args.rate:g}"
        + (" --no-relay" if args.no_relay else "")
        + (" --no-bare" if args.no_bare else "")
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "direct"
        root.mkdir()
        procs = start_network(root, relay=False, n_trusted=0, n_link_keys=args.link_keys)
        bare_rps = None
        try:
            if not args.no_bare:
                bare_port = free_port()
                bare = subprocess.Popen(
                    [sys.executable, "-c", BARE_APP, str(root / "pki"), str(bare_port)],
                    env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                )
                try:
                    wait_port(bare_port)
                    b = measured(
                        [bare],
                        bare_load(
                            root / "pki", bare_port, clients=args.clients, seconds=args.seconds
                        ),
                    )
                finally:
                    stop([bare])
                bare_rps = b["requests_per_s"]
                print(
                    f"bare FastAPI over mutual TLS: {b['requests_per_s']:.0f} requests/s, "
                    f"p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms; CPU cores used: server "
                    f"{b['server_cores']:.2f}, client {b['client_cores']:.2f}"
                )
            seen = (0.0, 0.0)
            for number in numbers:
                r = measured(
                    procs, kme_load(root, clients=args.clients, seconds=args.seconds, number=number)
                )
                batching, seen = keys_per_message(r, seen)
                print(line(f"KME A-B direct, number={number}", r, batching, bare_rps))
            for number in numbers if args.rate else ():
                r = measured(
                    procs,
                    kme_load(
                        root,
                        clients=args.clients,
                        seconds=args.seconds,
                        number=number,
                        rate_keys_per_s=args.rate,
                    ),
                )
                batching, seen = keys_per_message(r, seen)
                label = f"KME A-B direct, number={number}, {args.rate:g} keys/s offered"
                print(line(label, r, batching, None))
        finally:
            stop(procs)
        if args.no_relay:
            return
        root = Path(tmp) / "relay"
        root.mkdir()
        procs = start_network(root, relay=True, n_trusted=2, n_link_keys=args.link_keys)
        try:
            seen = (0.0, 0.0)
            for number in numbers:
                r = measured(
                    procs, kme_load(root, clients=args.clients, seconds=args.seconds, number=number)
                )
                batching, seen = keys_per_message(r, seen)
                print(line(f"KME 3-hop relay A-T1-T2-B, number={number}", r, batching, None))
        finally:
            stop(procs)
        print(f"# load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
