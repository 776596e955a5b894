"""The OpenAPI a KME serves matches the ETSI GS QKD 014 V1.1.1 transcription (tests/vectors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from euroqci.kms import MemoryKeyStore
from euroqci.server.app import create_app
from euroqci.server.settings import load_settings

yaml = pytest.importorskip("yaml")

ETSI = Path(__file__).resolve().parents[1] / "vectors" / "etsi014-openapi.yaml"


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    settings = load_settings(
        None, kme_id="K", cert_file="x", key_file="x", ca_file="x", store="memory:", dev=True
    )
    return create_app(settings, MemoryKeyStore()).openapi()


@pytest.fixture(scope="module")
def etsi() -> dict[str, Any]:
    return yaml.safe_load(ETSI.read_text(encoding="utf-8"))


def _schema(doc: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in ref_or_schema:
        ref_or_schema = next(s for s in ref_or_schema["anyOf"] if "$ref" in s)
    if "$ref" in ref_or_schema:
        name = ref_or_schema["$ref"].rsplit("/", 1)[1]
        return doc["components"]["schemas"][name]
    return ref_or_schema


def test_same_operations(served: dict[str, Any], etsi: dict[str, Any]) -> None:
    for path, item in etsi["paths"].items():
        assert path in served["paths"], path
        for method, op in item.items():
            mine = served["paths"][path][method]
            assert mine["operationId"] == op["operationId"]
            assert set(mine["responses"]) == {"200", "400", "401", "503"}
            want = {p.get("name") for p in op.get("parameters", []) if "name" in p} | {
                etsi["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                for p in op.get("parameters", [])
                if "$ref" in p
            }
            assert {p["name"] for p in mine.get("parameters", [])} == want, (path, method)


@pytest.mark.parametrize(
    ("path", "method", "where", "etsi_schema"),
    [
        ("/api/v1/keys/{slave_SAE_ID}/status", "get", "response", "Status"),
        ("/api/v1/keys/{slave_SAE_ID}/enc_keys", "post", "request", "KeyRequest"),
        ("/api/v1/keys/{slave_SAE_ID}/enc_keys", "post", "response", "KeyContainer"),
        ("/api/v1/keys/{master_SAE_ID}/dec_keys", "post", "request", "KeyIDs"),
        ("/api/v1/keys/{master_SAE_ID}/dec_keys", "get", "response", "KeyContainer"),
    ],
)
def test_same_wire_names(
    served: dict[str, Any], etsi: dict[str, Any], path: str, method: str, where: str,
    etsi_schema: str,
) -> None:  # fmt: skip
    op = served["paths"][path][method]
    if where == "request":
        ref = op["requestBody"]["content"]["application/json"]["schema"]
    else:
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]
    mine = _schema(served, ref)
    theirs = etsi["components"]["schemas"][etsi_schema]
    required = set(theirs.get("required", []))
    # Every required ETSI item is there and required; optional extension items may be left out.
    assert required <= set(mine["properties"])
    assert required <= set(mine.get("required", []))
    assert set(mine["properties"]) <= set(theirs["properties"])
