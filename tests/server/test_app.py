"""The ETSI 014 app in-process (httpx ASGITransport, MemoryKeyStore).

The client certificate normally comes from the TLS handshake (server/tls.py); here a small ASGI
wrapper puts a certificate-shaped dict into the connection state, as the protocol would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from euroqci.kms import InProcessRelay, MemoryKeyStore
from euroqci.server.app import create_app, relay_openapi
from euroqci.server.settings import load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _cert(cn: str, unit: str = "SAE") -> dict[str, Any]:
    return {"subject": ((("organizationalUnitName", unit),), (("commonName", cn),))}


def _as(app: Any, cn: str | None, unit: str = "SAE") -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["state"] = {
                **scope.get("state", {}),
                "peer_cert": _cert(cn, unit) if cn else None,
            }
        await app(scope, receive, send)

    return wrapped


def _settings(
    kme_id: str, saes: list[str], remote: dict[str, str], links: list[dict[str, str]], **extra: Any
) -> Any:
    return load_settings(
        None,
        kme_id=kme_id,
        cert_file="x",
        key_file="x",
        ca_file="x",
        store="memory:",
        dev=True,
        saes=saes,
        remote_saes=remote,
        links=links,
        **extra,
    )


@pytest.fixture
def pair() -> Iterator[dict[str, Any]]:
    """KME-A (SAE-A) and KME-B (SAE-B, SAE-C) joined by link A~B, relayed in-process."""
    relay = InProcessRelay()
    link = {"link_id": "A~B", "peer_url": "https://127.0.0.1:1"}
    app_a = create_app(
        _settings(
            "KME-A",
            ["SAE-A"],
            {"SAE-B": "KME-B", "SAE-C": "KME-B"},
            [{**link, "peer_kme_id": "KME-B"}],
        ),
        MemoryKeyStore(),
        relay=relay,
    )
    app_b = create_app(
        _settings(
            "KME-B", ["SAE-B", "SAE-C"], {"SAE-A": "KME-A"}, [{**link, "peer_kme_id": "KME-A"}]
        ),
        MemoryKeyStore(),
        relay=relay,
    )
    from euroqci.kms.supply import supply_link

    ma, mb = app_a.state.manager, app_b.state.manager
    relay.attach(ma)
    relay.attach(mb)
    supply_link((ma, mb), "A~B", n_keys=400)

    yield {"a": app_a, "b": app_b}


async def _call(
    app: Any, cn: str | None, method: str, url: str, unit: str = "SAE", **kwargs: Any
) -> httpx.Response:
    transport = httpx.ASGITransport(app=_as(app, cn, unit))
    async with httpx.AsyncClient(transport=transport, base_url="https://kme") as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.anyio
async def test_get_key_then_key_with_ids(pair: dict[str, Any]) -> None:
    r = await _call(
        pair["a"], "SAE-A", "POST", "/api/v1/keys/SAE-B/enc_keys", json={"number": 2, "size": 512}
    )
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert [len(base64.b64decode(k["key"])) for k in keys] == [64, 64]
    body = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
    r2 = await _call(pair["b"], "SAE-B", "POST", "/api/v1/keys/SAE-A/dec_keys", json=body)
    assert r2.status_code == 200 and r2.json()["keys"] == keys
    r3 = await _call(pair["b"], "SAE-B", "POST", "/api/v1/keys/SAE-A/dec_keys", json=body)
    assert r3.status_code == 400
    assert r3.json() == {"message": "one or more keys specified are not found on KME"}


@pytest.mark.anyio
async def test_get_forms_and_status(pair: dict[str, Any]) -> None:
    r = await _call(pair["a"], "SAE-A", "GET", "/api/v1/keys/SAE-B/enc_keys?number=1&size=256")
    key = r.json()["keys"][0]
    r2 = await _call(
        pair["b"], "SAE-B", "GET", f"/api/v1/keys/SAE-A/dec_keys?key_ID={key['key_ID']}"
    )
    assert r2.json()["keys"] == [key]
    s = (await _call(pair["a"], "SAE-A", "GET", "/api/v1/keys/SAE-B/status")).json()
    assert set(s) == {
        "source_KME_ID",
        "target_KME_ID",
        "master_SAE_ID",
        "slave_SAE_ID",
        "key_size",
        "stored_key_count",
        "max_key_count",
        "max_key_per_request",
        "max_key_size",
        "min_key_size",
        "max_SAE_ID_count",
    }
    assert (s["source_KME_ID"], s["target_KME_ID"], s["master_SAE_ID"]) == (
        "KME-A",
        "KME-B",
        "SAE-A",
    )
    r3 = await _call(pair["a"], "SAE-A", "POST", "/api/v1/keys/SAE-B/enc_keys")  # empty body
    assert r3.status_code == 200 and len(r3.json()["keys"]) == 1


@pytest.mark.anyio
async def test_unnamed_sae_gets_401(pair: dict[str, Any]) -> None:
    r = await _call(pair["a"], "SAE-A", "GET", "/api/v1/keys/SAE-B/enc_keys")
    key_id = r.json()["keys"][0]["key_ID"]
    r2 = await _call(pair["b"], "SAE-C", "GET", f"/api/v1/keys/SAE-A/dec_keys?key_ID={key_id}")
    assert r2.status_code == 401
    assert (await _call(pair["a"], None, "GET", "/api/v1/keys/SAE-B/status")).status_code == 401
    assert (await _call(pair["a"], "SAE-B", "GET", "/api/v1/keys/SAE-B/status")).status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"size": 100}, "size shall be a multiple of 8"),
        ({"number": -1}, None),
        ({"number": 10**40}, None),
        ({"number": "3"}, "bad request format"),
        ({"number": 1.5}, "bad request format"),
        ({"size": None, "number": []}, "bad request format"),
        ({"additional_slave_SAE_IDs": "SAE-C"}, "bad request format"),
        ({"additional_slave_SAE_IDs": ["NOBODY"]}, None),
        (
            {"extension_mandatory": [{"abc_route_type": "direct"}]},
            "not all extension_mandatory parameters are supported",
        ),
        ([1, 2], "bad request format"),
    ],
)
async def test_bad_get_key_requests_are_400(
    pair: dict[str, Any], body: Any, message: str | None
) -> None:
    r = await _call(pair["a"], "SAE-A", "POST", "/api/v1/keys/SAE-B/enc_keys", json=body)
    assert r.status_code == 400, r.text
    if message:
        assert r.json()["message"] == message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "/api/v1/keys/SAE-B/enc_keys", {"content": b"{not json"}),
        ("POST", "/api/v1/keys/SAE-B/enc_keys", {"content": b"x" * 2_000_000}),
        ("GET", "/api/v1/keys/SAE-B/enc_keys?number=abc", {}),
        ("GET", "/api/v1/keys/SAE-B/enc_keys?size=-8", {}),
        ("GET", "/api/v1/keys/UNKNOWN/enc_keys", {}),
        ("GET", "/api/v1/keys/UNKNOWN/status", {}),
        ("GET", "/api/v1/keys/SAE-B/dec_keys?key_ID=not-a-uuid", {}),
        ("GET", "/api/v1/keys/SAE-B/dec_keys", {}),
        ("POST", "/api/v1/keys/SAE-B/dec_keys", {"json": {"key_IDs": "x"}}),
        ("POST", "/api/v1/keys/SAE-B/dec_keys", {"json": {"key_IDs": []}}),
        ("POST", "/api/v1/keys/SAE-B/dec_keys", {"json": {"key_IDs": [{"key_ID": 5}]}}),
    ],
)
async def test_hostile_input_never_500(
    pair: dict[str, Any], method: str, url: str, kwargs: dict[str, Any]
) -> None:
    headers = {"content-type": "application/json"}
    r = await _call(pair["a"], "SAE-A", method, url, headers=headers, **kwargs)
    assert r.status_code in (400, 401), r.text
    assert "message" in r.json()


@pytest.mark.anyio
async def test_relay_endpoint_needs_a_kme_certificate(pair: dict[str, Any]) -> None:
    body = {"link_id": "A~B", "link_key_ids": ["x"]}
    r = await _call(pair["b"], "KME-A", "POST", "/kme/v1/discard", json=body, unit="SAE")
    assert r.status_code == 401
    r = await _call(pair["b"], "KME-C", "POST", "/kme/v1/discard", json=body, unit="KME")
    assert r.status_code == 401
    r = await _call(pair["b"], "KME-A", "POST", "/kme/v1/discard", json=body, unit="KME")
    assert r.status_code == 200 and r.json() == {"discarded": 0}


@pytest.mark.anyio
async def test_metrics_and_openapi(pair: dict[str, Any]) -> None:
    await _call(pair["a"], "SAE-A", "GET", "/api/v1/keys/SAE-B/enc_keys?number=3")
    text = (await _call(pair["a"], "SAE-A", "GET", "/metrics")).text
    assert 'euroqci_kme_keys_delivered_total{role="master"} 3.0' in text
    assert "euroqci_kme_keys_relayed_total 3.0" in text
    doc = (await _call(pair["a"], "SAE-A", "GET", "/openapi.json")).json()
    paths = doc["paths"]
    assert set(paths["/api/v1/keys/{slave_SAE_ID}/enc_keys"]) == {"get", "post"}
    assert set(paths["/api/v1/keys/{master_SAE_ID}/dec_keys"]) == {"get", "post"}
    for path in paths.values():
        for op in path.values():
            assert set(op["responses"]) <= {"200", "400", "401", "503"}


def test_relay_openapi_document_is_current() -> None:
    committed = json.loads((DOCS / "kme-relay.openapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(relay_openapi()))


def test_settings_refuse_insecure_defaults() -> None:
    from euroqci.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="memory"):
        load_settings(None, kme_id="K", cert_file="x", key_file="x", ca_file="x", store="memory:")
    with pytest.raises(ConfigurationError, match="cert_file"):
        load_settings(None, kme_id="K", cert_file="/nope", key_file="x", ca_file="x")
    with pytest.raises(ConfigurationError, match="routes"):
        load_settings(
            None,
            kme_id="K",
            cert_file="x",
            key_file="x",
            ca_file="x",
            dev=True,
            routes={"KME-B": "nolink"},
        )


@pytest.mark.anyio
async def test_housekeeping_imports_key_drops_and_expires(tmp_path: Path) -> None:
    import asyncio
    import secrets
    import time
    import uuid

    from euroqci.kms.store import DeliverableKey
    from euroqci.kms.supply import write_key_file

    drop = tmp_path / "drop"
    drop.mkdir()
    settings = _settings(
        "KME-A",
        ["SAE-A"],
        {"SAE-B": "KME-B"},
        [{"link_id": "A~B", "peer_kme_id": "KME-B", "peer_url": "https://127.0.0.1:1"}],
        key_drop_dir=str(drop),
        key_drop_interval_s=0.05,
        max_key_age_s=0.01,
        housekeeping_interval_s=0.05,
    )
    store = MemoryKeyStore()
    store.put_keys([DeliverableKey(str(uuid.uuid4()), b"k" * 32, "SAE-B", ("SAE-A",))])
    app = create_app(settings, store, relay=InProcessRelay())
    pairs = [(str(uuid.uuid4()), secrets.token_bytes(32)) for _ in range(5)]
    async with app.router.lifespan_context(app):
        write_key_file(drop / "batch.json", "A~B", pairs)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            store.pool_status("A~B").total_keys < 5 or store.count_keys()
        ):
            await asyncio.sleep(0.02)
    assert store.pool_status("A~B").total_keys == 5
    assert store.count_keys() == 0 and app.state.manager.stats["keys_expired"] == 1
    assert not (drop / "batch.json").exists()
