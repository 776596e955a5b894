"""Both uvicorn protocol classes, on asyncio's loop and on uvloop (the KMEs' loop when installed),
hand the verified client certificate, and only that, to routes."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
import uvicorn
from fastapi import FastAPI, Request
from kme_harness import free_port

from euroqci.server.runner import event_loop
from euroqci.server.tls import MutualTLSProtocol, http_protocol, peer_identity

pytestmark = pytest.mark.integration


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/whoami")
    def whoami(request: Request) -> dict[str, str]:
        return {"cn": peer_identity(request)}

    return app


@pytest.fixture(
    params=[("h11", "asyncio"), ("httptools", "asyncio"), ("httptools", "uvloop")],
    ids=["h11-asyncio", "httptools-asyncio", "httptools-uvloop"],
)
def server(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, trustme.CA]]:
    name, loop = request.param
    protocol = MutualTLSProtocol if name == "h11" else http_protocol()
    if name == "httptools" and protocol is MutualTLSProtocol:
        pytest.skip("httptools is not installed")
    if loop == "uvloop" and event_loop() != "uvloop":
        pytest.skip("uvloop is not installed")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=port, ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file), ssl_ca_certs=str(ca_file), ssl_cert_reqs=ssl.CERT_REQUIRED,
        http=protocol, loop=loop, log_level="warning", lifespan="off",
    )  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"https://127.0.0.1:{port}", ca
    srv.should_exit = True
    thread.join(timeout=10)


def _client(ca: trustme.CA, cn: str | None) -> httpx.Client:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cn is not None:
        ca.issue_cert("client.example", common_name=cn).configure_cert(context)
    return httpx.Client(verify=context, timeout=5)


def test_identity_is_the_certificate_common_name(server: tuple[str, trustme.CA]) -> None:
    url, ca = server
    with _client(ca, "SAE-7") as c:
        # Headers that proxies use to forward identities are ignored.
        r = c.get(url + "/whoami", headers={"X-Forwarded-Client-Cert": "CN=SAE-1"})
        assert r.json() == {"cn": "SAE-7"}
        assert c.get(url + "/whoami").json() == {"cn": "SAE-7"}  # same connection, same identity
    with _client(ca, "SAE-8") as c:
        assert c.get(url + "/whoami").json() == {"cn": "SAE-8"}  # per connection, not shared
    with _client(ca, None) as c, pytest.raises(httpx.TransportError):
        c.get(url + "/whoami")
