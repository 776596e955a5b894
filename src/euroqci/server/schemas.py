"""Wire formats: ETSI GS QKD 014 names appear here only, as pydantic aliases.

Also the KME-to-KME relay messages (our own interface, documented in docs/kme-relay.openapi.json).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from euroqci.kms.profile import Key, Status
from euroqci.kms.relay import RelayMessage

__all__ = [
    "ErrorOut",
    "KeyContainerOut",
    "KeyIDsIn",
    "KeyRequestIn",
    "MasterSAEID",
    "NumberQuery",
    "RelayDiscardIn",
    "RelayMessageIn",
    "SingleKeyIDQuery",
    "SizeQuery",
    "SlaveSAEID",
    "StatusOut",
    "relay_message_wire",
]

SlaveSAEID = Annotated[str, Path(alias="slave_SAE_ID", description="URL-encoded slave SAE ID.")]
MasterSAEID = Annotated[str, Path(alias="master_SAE_ID", description="URL-encoded master SAE ID.")]
NumberQuery = Annotated[int | None, Query(alias="number", description="Number of keys.")]
SizeQuery = Annotated[int | None, Query(alias="size", description="Key size in bits.")]
SingleKeyIDQuery = Annotated[str, Query(alias="key_ID", description="One key ID (UUID).")]


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class StatusOut(_Wire):
    """ETSI 014 Status (Table 9)."""

    source_kme_id: str = Field(alias="source_KME_ID")
    target_kme_id: str = Field(alias="target_KME_ID")
    master_sae_id: str = Field(alias="master_SAE_ID")
    slave_sae_id: str = Field(alias="slave_SAE_ID")
    key_size_bits: int = Field(alias="key_size")
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size_bits: int = Field(alias="max_key_size")
    min_key_size_bits: int = Field(alias="min_key_size")
    max_sae_id_count: int = Field(alias="max_SAE_ID_count")

    @classmethod
    def of(cls, status: Status) -> StatusOut:
        """From the library's status."""
        return cls(**{f: getattr(status, f) for f in Status.__dataclass_fields__})


class KeyRequestIn(_Wire):
    """ETSI 014 Key request (Table 10); every item optional."""

    number: StrictInt | None = None
    size_bits: StrictInt | None = Field(default=None, alias="size")
    additional_slave_sae_ids: list[StrictStr] | None = Field(
        default=None, alias="additional_slave_SAE_IDs"
    )
    extension_mandatory: list[dict[str, Any]] | None = None
    extension_optional: list[dict[str, Any]] | None = None


class _KeyIDIn(_Wire):
    key_id: StrictStr = Field(alias="key_ID")
    key_id_extension: dict[str, Any] | None = Field(default=None, alias="key_ID_extension")


class KeyIDsIn(_Wire):
    """ETSI 014 Key IDs (Table 12)."""

    key_ids: list[_KeyIDIn] = Field(alias="key_IDs")
    key_ids_extension: dict[str, Any] | None = Field(default=None, alias="key_IDs_extension")


class _KeyOut(_Wire):
    key_id: str = Field(alias="key_ID")
    key: str


class KeyContainerOut(_Wire):
    """ETSI 014 Key container (Table 11): key IDs and base64 keys."""

    keys: list[_KeyOut]

    @classmethod
    def of(cls, keys: list[Key]) -> KeyContainerOut:
        """From delivered keys (base64 per RFC 4648)."""
        return cls(
            keys=[
                _KeyOut.model_validate(
                    {"key_ID": k.key_id, "key": base64.b64encode(k.material).decode()}
                )
                for k in keys
            ]
        )


class ErrorOut(_Wire):
    """ETSI 014 Error (Table 13)."""

    message: str
    details: list[dict[str, Any]] | None = None


class RelayMessageIn(BaseModel):
    """A relay message between neighbouring KMEs (ciphertext and tag in base64)."""

    model_config = ConfigDict(extra="forbid")

    batch_id: StrictStr
    origin_kme_id: StrictStr
    destination_kme_id: StrictStr
    master_sae_id: StrictStr
    slave_sae_ids: list[StrictStr]
    key_ids: list[StrictStr] = Field(max_length=4096)
    size_bits: StrictInt = Field(ge=8)
    link_id: StrictStr
    link_key_ids: list[StrictStr] = Field(max_length=65536)
    hops: list[StrictStr] = Field(min_length=1, max_length=64)
    ciphertext_b64: StrictStr
    tag_b64: StrictStr

    def to_message(self) -> RelayMessage:
        """The library message; raises ValueError on bad base64."""
        data = self.model_dump()
        data["ciphertext"] = base64.b64decode(data.pop("ciphertext_b64"), validate=True)
        data["tag"] = base64.b64decode(data.pop("tag_b64"), validate=True)
        for name in ("slave_sae_ids", "key_ids", "link_key_ids", "hops"):
            data[name] = tuple(data[name])
        return RelayMessage(**data)

    @classmethod
    def of(cls, message: RelayMessage) -> RelayMessageIn:
        """Wire form of a library message."""
        return cls.model_validate(relay_message_wire(message))


def relay_message_wire(message: RelayMessage) -> dict[str, Any]:
    """The JSON object of :class:`RelayMessageIn` for a library message (what a KME sends)."""
    data: dict[str, Any] = {f: getattr(message, f) for f in RelayMessage.__dataclass_fields__}
    data["ciphertext_b64"] = base64.b64encode(data.pop("ciphertext")).decode()
    data["tag_b64"] = base64.b64encode(data.pop("tag")).decode()
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


class RelayDiscardIn(BaseModel):
    """Link keys the sending KME burnt without success; the receiver deletes its copies."""

    model_config = ConfigDict(extra="forbid")

    link_id: StrictStr
    link_key_ids: list[StrictStr] = Field(max_length=65536)
