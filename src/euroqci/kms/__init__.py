"""Key management: key stores, the ETSI 014 key manager and the trusted-node relay (no HTTP)."""

from __future__ import annotations

from euroqci.kms.manager import KeyManager
from euroqci.kms.profile import Key, KMEProfile, Link, Role, Status
from euroqci.kms.relay import InProcessRelay, RelayMessage, RelayTransport
from euroqci.kms.store import (
    DeliverableKey,
    KeyStore,
    LinkKey,
    MemoryKeyStore,
    PoolStatus,
    open_store,
)
from euroqci.kms.supply import import_key_drop, read_key_file, write_key_file

__all__ = [
    "DeliverableKey",
    "InProcessRelay",
    "KMEProfile",
    "Key",
    "KeyManager",
    "KeyStore",
    "Link",
    "LinkKey",
    "MemoryKeyStore",
    "PoolStatus",
    "RelayMessage",
    "RelayTransport",
    "Role",
    "Status",
    "import_key_drop",
    "open_store",
    "read_key_file",
    "write_key_file",
]
