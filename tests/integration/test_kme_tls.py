"""Real KMEs over real mutual TLS: identity, refusals, concurrency, crash safety, hostile input."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
import trustme
from kme_harness import (
    IGNORE_CLIENT_SOCKET_LEAK,
    KMEPair,
    load,
    make_pair,
    pools_in_step,
    redeem_all,
    sae_client,
)

pytestmark = pytest.mark.integration

KEYS = "/api/v1/keys"


def test_no_client_certificate_is_refused(kme_pair: KMEPair) -> None:
    context = ssl.create_default_context(cafile=str(kme_pair.pki / "ca.pem"))
    with httpx.Client(verify=context, timeout=5) as c, pytest.raises(httpx.TransportError):
        c.get(kme_pair.url("KME-A") + f"{KEYS}/SAE-B/status")


def test_certificate_from_another_ca_is_refused(kme_pair: KMEPair, tmp_path: Path) -> None:
    other = trustme.CA()
    cert = other.issue_cert("SAE-A")
    context = ssl.create_default_context(cafile=str(kme_pair.pki / "ca.pem"))
    cert.configure_cert(context)
    with httpx.Client(verify=context, timeout=5) as c, pytest.raises(httpx.TransportError):
        c.get(kme_pair.url("KME-A") + f"{KEYS}/SAE-B/status")


def test_identity_comes_from_the_certificate(kme_pair: KMEPair) -> None:
    with sae_client(kme_pair.pki, "SAE-A") as a, sae_client(kme_pair.pki, "SAE-C") as c:
        r = a.post(kme_pair.url("KME-A") + f"{KEYS}/SAE-B/enc_keys", json={"number": 1})
        assert r.status_code == 200, r.text
        key_id = r.json()["keys"][0]["key_ID"]
        body = {"key_IDs": [{"key_ID": key_id}]}
        # SAE-C is attached to KME-B but was not named: 401, and the key stays for SAE-B.
        assert (
            c.post(kme_pair.url("KME-B") + f"{KEYS}/SAE-A/dec_keys", json=body).status_code == 401
        )
        # A header cannot claim another identity.
        r = c.post(
            kme_pair.url("KME-B") + f"{KEYS}/SAE-A/dec_keys",
            json=body,
            headers={"X-SSL-Client-CN": "SAE-B", "X-Forwarded-Client-Cert": "CN=SAE-B"},
        )
        assert r.status_code == 401
        # An SAE certificate cannot use the KME-to-KME interface.
        r = a.post(
            kme_pair.url("KME-B") + "/kme/v1/discard", json={"link_id": "A~B", "link_key_ids": []}
        )
        assert r.status_code == 401
    with sae_client(kme_pair.pki, "SAE-B") as b:
        r = b.post(kme_pair.url("KME-B") + f"{KEYS}/SAE-A/dec_keys", json=body)
        assert r.status_code == 200


def test_sixteen_concurrent_saes_never_share_a_key(kme_pair: KMEPair) -> None:
    got: list[tuple[str, bytes]] = []
    errors: list[int] = []
    load(kme_pair, 16, 8, got, errors)
    assert errors == []
    assert len(got) == 16 * 8 * 2
    assert len({k for k, _ in got}) == len(got) == len({m for _, m in got})
    redeem_all(kme_pair, got)


@IGNORE_CLIENT_SOCKET_LEAK
@pytest.mark.slow
@pytest.mark.parametrize("victim", ["KME-B", "KME-A"])
def test_kill9_during_load_loses_and_repeats_nothing(tmp_path: Path, victim: str) -> None:
    pair = make_pair(tmp_path)
    try:
        pair.start("KME-A")
        pair.start("KME-B")
        got: list[tuple[str, bytes]] = []
        errors: list[int] = []
        stop = threading.Event()
        # The load runs until stopped, so the kill always lands in the middle of it.
        runner = threading.Thread(target=load, args=(pair, 8, 10**6, got, errors, stop))
        runner.start()
        time.sleep(1.0)
        pair.kill9(victim)
        time.sleep(0.5)
        pair.start(victim)
        time.sleep(1.0)
        stop.set()
        runner.join()
        assert got, "no key was delivered at all"
        assert errors, "the kill did not interrupt any request"
        assert set(errors) <= {0, 503}  # refused connections or 503, never 500
        assert len({k for k, _ in got}) == len(got)
        redeem_all(pair, got)
        # Link keys burnt by relays cut short are discarded at the peer too (outbox).
        assert pools_in_step(pair)
    finally:
        pair.stop()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"content": b'{"number": '}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"json": {"number": 10**100}}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"json": {"number": -5}}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"json": {"size": "256"}}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"json": {"size": 2**70}}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"content": b"[" * 100_000}),
        ("POST", f"{KEYS}/SAE-B/enc_keys", {"content": b" " * 3_000_000}),
        ("GET", f"{KEYS}/NOBODY/enc_keys", {}),
        ("GET", f"{KEYS}/NOBODY/status", {}),
        ("GET", f"{KEYS}/SAE-B/dec_keys?key_ID=00000000-0000-0000-0000-000000000000", {}),
        ("POST", f"{KEYS}/SAE-B/dec_keys", {"json": {"key_IDs": [{"key_ID": None}]}}),
    ],
)
def test_hostile_input_gets_400_or_401(
    kme_pair: KMEPair, method: str, path: str, kwargs: dict[str, object]
) -> None:
    with sae_client(kme_pair.pki, "SAE-A") as a:
        r = a.request(
            method,
            kme_pair.url("KME-A") + path,
            headers={"content-type": "application/json"},
            **kwargs,
        )  # type: ignore[arg-type]
    assert r.status_code in (400, 401), r.text


def test_relay_client_checks_the_peer_kme_in_the_handshake(kme_pair: KMEPair) -> None:
    from euroqci.errors import RelayError
    from euroqci.server.transport import HttpsRelay

    pki = kme_pair.pki

    def relay_to(peer: str) -> HttpsRelay:
        return HttpsRelay(
            {peer: kme_pair.url("KME-B")},
            ca_file=pki / "ca.pem",
            cert_file=pki / "kme" / "KME-A.pem",
            key_file=pki / "kme" / "KME-A-key.pem",
        )

    right, wrong = relay_to("KME-B"), relay_to("KME-X")
    try:
        right.discard("KME-B", "A~B", [])  # the right KME: accepted
        # The server at that URL is KME-B, not KME-X: refused in the TLS handshake, before
        # any request is sent.
        with pytest.raises(RelayError, match="unreachable"):
            wrong.discard("KME-X", "A~B", [])
    finally:
        right.close()
        wrong.close()


def test_relay_client_reopens_a_connection_the_peer_closed(tmp_path: Path) -> None:
    from euroqci.server.transport import HttpsRelay

    pair = make_pair(tmp_path)
    pki = pair.pki
    relay = HttpsRelay(
        {"KME-B": pair.url("KME-B")},
        ca_file=pki / "ca.pem",
        cert_file=pki / "kme" / "KME-A.pem",
        key_file=pki / "kme" / "KME-A-key.pem",
    )
    try:
        pair.start("KME-B")
        relay.discard("KME-B", "A~B", [])
        pair.kill9("KME-B")  # the kept-alive connection is now closed by the peer's kernel
        pair.start("KME-B")
        relay.discard("KME-B", "A~B", [])  # noticed before sending: a new connection, no error
        assert len(relay._connections) == 1  # the same connection object, reopened
    finally:
        relay.close()
        pair.stop()
