"""Routes: ETSI GS QKD 014 (SAE -> KME) and the KME-to-KME relay. Each is a thin translator:
wire schema in, one library call, wire schema out. Errors go through :mod:`.errors`.

The key routes are ``async``: FastAPI parses and validates on the event loop, the key manager
call (durable commits, relays) runs on the app's :class:`~euroqci.server.workers.WorkerPool`,
and the key container is written straight to JSON bytes (the response model still documents
it in the OpenAPI) instead of being validated again on its way out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from euroqci.errors import ConfigurationError
from euroqci.kms.manager import KeyManager
from euroqci.kms.profile import Key
from euroqci.server.schemas import (
    ErrorOut,
    KeyContainerOut,
    KeyIDsIn,
    KeyRequestIn,
    MasterSAEID,
    NumberQuery,
    RelayDiscardIn,
    RelayMessageIn,
    SingleKeyIDQuery,
    SizeQuery,
    SlaveSAEID,
    StatusOut,
)
from euroqci.server.tls import peer_identity
from euroqci.server.transport import DISCARD_PATH, RELAY_PATH
from euroqci.server.workers import WorkerPool

__all__ = ["etsi_router", "kme_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request format"},
    401: {"model": ErrorOut, "description": "Unauthorized"},
    503: {"model": ErrorOut, "description": "Error on server side"},
}
_KEYS = "/api/v1/keys"

etsi_router = APIRouter(responses=_ERRORS)
kme_router = APIRouter(responses=_ERRORS, tags=["kme-relay"])


T = TypeVar("T")


def _kme(request: Request) -> KeyManager:
    manager: KeyManager = request.app.state.manager
    return manager


def _sae(request: Request) -> str:
    return peer_identity(request, attribute=request.app.state.identity_attribute)


def _peer_kme(request: Request) -> str:
    return peer_identity(request, unit=request.app.state.kme_peer_unit)


async def _blocking(request: Request, call: Callable[[], T]) -> T:
    """Run a key manager call on the app's worker threads."""
    workers: WorkerPool = request.app.state.workers
    return await workers.run(call)


def _keys_response(keys: list[Key]) -> Response:
    """ETSI 014 Key container (Table 11) as JSON: key IDs and base64 keys (RFC 4648)."""
    body = {
        "keys": [{"key_ID": k.key_id, "key": base64.b64encode(k.material).decode()} for k in keys]
    }
    return Response(orjson.dumps(body), media_type="application/json")


@etsi_router.get(f"{_KEYS}/{{slave_SAE_ID}}/status", tags=["status"], operation_id="getStatus")
def get_status(request: Request, slave_sae_id: SlaveSAEID) -> StatusOut:
    """Get status (ETSI 014 clause 5.2)."""
    return StatusOut.of(_kme(request).status(slave_sae_id, master_sae_id=_sae(request)))


@etsi_router.post(
    f"{_KEYS}/{{slave_SAE_ID}}/enc_keys",
    tags=["keys"],
    operation_id="getKey",
    response_model=KeyContainerOut,
)
async def get_key(
    request: Request,
    slave_sae_id: SlaveSAEID,
    body: Annotated[KeyRequestIn | None, Body()] = None,
) -> Response:
    """Get key (clause 5.3), called by the master SAE."""
    body = body or KeyRequestIn()
    master, manager = _sae(request), _kme(request)
    keys = await _blocking(
        request,
        lambda: manager.get_enc_keys(
            slave_sae_id,
            master_sae_id=master,
            number=body.number,
            size_bits=body.size_bits,
            additional_slave_sae_ids=body.additional_slave_sae_ids or (),
            extension_mandatory=body.extension_mandatory or (),
        ),
    )
    return _keys_response(keys)


@etsi_router.get(
    f"{_KEYS}/{{slave_SAE_ID}}/enc_keys",
    tags=["keys"],
    operation_id="getKeySimple",
    response_model=KeyContainerOut,
)
async def get_key_simple(
    request: Request, slave_sae_id: SlaveSAEID, number: NumberQuery = None, size: SizeQuery = None
) -> Response:
    """Get key, simple GET form (clause 6.2)."""
    master, manager = _sae(request), _kme(request)
    keys = await _blocking(
        request,
        lambda: manager.get_enc_keys(
            slave_sae_id, master_sae_id=master, number=number, size_bits=size
        ),
    )
    return _keys_response(keys)


@etsi_router.post(
    f"{_KEYS}/{{master_SAE_ID}}/dec_keys",
    tags=["keys"],
    operation_id="getKeyWithKeyIds",
    response_model=KeyContainerOut,
)
async def get_key_with_key_ids(
    request: Request, master_sae_id: MasterSAEID, body: KeyIDsIn
) -> Response:
    """Get key with key IDs (clause 5.4), called by a slave SAE."""
    ids = [item.key_id for item in body.key_ids]
    slave, manager = _sae(request), _kme(request)
    keys = await _blocking(
        request, lambda: manager.get_dec_keys(master_sae_id, ids, slave_sae_id=slave)
    )
    return _keys_response(keys)


@etsi_router.get(
    f"{_KEYS}/{{master_SAE_ID}}/dec_keys",
    tags=["keys"],
    operation_id="getKeyWithKeyIdsSimple",
    response_model=KeyContainerOut,
)
async def get_key_with_key_id_simple(
    request: Request, master_sae_id: MasterSAEID, key_id: SingleKeyIDQuery
) -> Response:
    """Get key with key IDs, simple GET form (clause 6.4)."""
    slave, manager = _sae(request), _kme(request)
    keys = await _blocking(
        request, lambda: manager.get_dec_keys(master_sae_id, [key_id], slave_sae_id=slave)
    )
    return _keys_response(keys)


@kme_router.post(RELAY_PATH, operation_id="relayKeys")
async def relay_keys(request: Request, body: RelayMessageIn) -> dict[str, str]:
    """Take keys one-time-padded with link keys from a neighbouring KME; store or send on."""
    peer, manager = _peer_kme(request), _kme(request)
    try:
        message = body.to_message()
    except (ValueError, binascii.Error):
        raise ConfigurationError("ciphertext_b64/tag_b64: not base64") from None
    await _blocking(request, lambda: manager.receive_relay(message, from_kme_id=peer))
    return {"message": "accepted"}


@kme_router.post(DISCARD_PATH, operation_id="discardLinkKeys")
def discard_link_keys(request: Request, body: RelayDiscardIn) -> dict[str, int]:
    """Delete link keys that the neighbour burnt in a relay that failed."""
    n = _kme(request).discard_link_keys(
        body.link_id, body.link_key_ids, from_kme_id=_peer_kme(request)
    )
    return {"discarded": n}
