"""Routes: ETSI GS QKD 014 (SAE -> KME) and the KME-to-KME relay. Each is a thin translator:
wire schema in, one library call, wire schema out. Errors go through :mod:`.errors`."""

from __future__ import annotations

import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from euroqci.errors import ConfigurationError
from euroqci.kms.manager import KeyManager
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

__all__ = ["etsi_router", "kme_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request format"},
    401: {"model": ErrorOut, "description": "Unauthorized"},
    503: {"model": ErrorOut, "description": "Error on server side"},
}
_KEYS = "/api/v1/keys"

etsi_router = APIRouter(responses=_ERRORS)
kme_router = APIRouter(responses=_ERRORS, tags=["kme-relay"])


def _kme(request: Request) -> KeyManager:
    manager: KeyManager = request.app.state.manager
    return manager


def _sae(request: Request) -> str:
    return peer_identity(request, attribute=request.app.state.identity_attribute)


def _peer_kme(request: Request) -> str:
    return peer_identity(request, unit=request.app.state.kme_peer_unit)


@etsi_router.get(f"{_KEYS}/{{slave_SAE_ID}}/status", tags=["status"], operation_id="getStatus")
def get_status(request: Request, slave_sae_id: SlaveSAEID) -> StatusOut:
    """Get status (ETSI 014 clause 5.2)."""
    return StatusOut.of(_kme(request).status(slave_sae_id, master_sae_id=_sae(request)))


@etsi_router.post(f"{_KEYS}/{{slave_SAE_ID}}/enc_keys", tags=["keys"], operation_id="getKey")
def get_key(
    request: Request,
    slave_sae_id: SlaveSAEID,
    body: Annotated[KeyRequestIn | None, Body()] = None,
) -> KeyContainerOut:
    """Get key (clause 5.3), called by the master SAE."""
    body = body or KeyRequestIn()
    keys = _kme(request).get_enc_keys(
        slave_sae_id,
        master_sae_id=_sae(request),
        number=body.number,
        size_bits=body.size_bits,
        additional_slave_sae_ids=body.additional_slave_sae_ids or (),
        extension_mandatory=body.extension_mandatory or (),
    )
    return KeyContainerOut.of(keys)


@etsi_router.get(f"{_KEYS}/{{slave_SAE_ID}}/enc_keys", tags=["keys"], operation_id="getKeySimple")
def get_key_simple(
    request: Request, slave_sae_id: SlaveSAEID, number: NumberQuery = None, size: SizeQuery = None
) -> KeyContainerOut:
    """Get key, simple GET form (clause 6.2)."""
    keys = _kme(request).get_enc_keys(
        slave_sae_id, master_sae_id=_sae(request), number=number, size_bits=size
    )
    return KeyContainerOut.of(keys)


@etsi_router.post(
    f"{_KEYS}/{{master_SAE_ID}}/dec_keys", tags=["keys"], operation_id="getKeyWithKeyIds"
)
def get_key_with_key_ids(
    request: Request, master_sae_id: MasterSAEID, body: KeyIDsIn
) -> KeyContainerOut:
    """Get key with key IDs (clause 5.4), called by a slave SAE."""
    ids = [item.key_id for item in body.key_ids]
    keys = _kme(request).get_dec_keys(master_sae_id, ids, slave_sae_id=_sae(request))
    return KeyContainerOut.of(keys)


@etsi_router.get(
    f"{_KEYS}/{{master_SAE_ID}}/dec_keys", tags=["keys"], operation_id="getKeyWithKeyIdsSimple"
)
def get_key_with_key_id_simple(
    request: Request, master_sae_id: MasterSAEID, key_id: SingleKeyIDQuery
) -> KeyContainerOut:
    """Get key with key IDs, simple GET form (clause 6.4)."""
    keys = _kme(request).get_dec_keys(master_sae_id, [key_id], slave_sae_id=_sae(request))
    return KeyContainerOut.of(keys)


@kme_router.post(RELAY_PATH, operation_id="relayKeys")
def relay_keys(request: Request, body: RelayMessageIn) -> dict[str, str]:
    """Take keys one-time-padded with link keys from a neighbouring KME; store or send on."""
    peer = _peer_kme(request)
    try:
        message = body.to_message()
    except (ValueError, binascii.Error):
        raise ConfigurationError("ciphertext_b64/tag_b64: not base64") from None
    _kme(request).receive_relay(message, from_kme_id=peer)
    return {"message": "accepted"}


@kme_router.post(DISCARD_PATH, operation_id="discardLinkKeys")
def discard_link_keys(request: Request, body: RelayDiscardIn) -> dict[str, int]:
    """Delete link keys that the neighbour burnt in a relay that failed."""
    n = _kme(request).discard_link_keys(
        body.link_id, body.link_key_ids, from_kme_id=_peer_kme(request)
    )
    return {"discarded": n}
