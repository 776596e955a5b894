"""Key stores: where a KME keeps link keys and the keys it will deliver to SAEs.

A store holds two things. **Link keys** arrive from the QKD links the KME terminates; both ends
of a link hold the same material under the same key ID, and each key is marked *outbound* (this
end spends it when sending to the peer) or *inbound* (the peer spends it; we consume it when the
peer names it), so the two ends never spend the same key. **Deliverable keys** are the keys made
for SAEs: one row per key, the SAEs it was made for, and those that have not fetched it yet;
fetching and marking fetched are one transaction, and the row is deleted when the last one has it.

:class:`KeyStore` is the protocol; :class:`MemoryKeyStore` is the in-process twin used by unit
tests; :mod:`euroqci.kms.sqlstore` holds the durable SQLite and PostgreSQL stores. Open any of
them from a URL with :func:`open_store`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from euroqci.errors import (
    ConfigurationError,
    InsufficientKeyMaterial,
    KeyNotFound,
    KeyStoreError,
    QKDError,
    SAENotAuthorized,
)

__all__ = [
    "DeliverableKey",
    "KeyStore",
    "LinkKey",
    "MakeKeys",
    "MemoryKeyStore",
    "PoolStatus",
    "open_store",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LinkKey:
    """One key of a QKD link, held under the same ID at both ends.

    ``outbound`` is True when this end may spend the key when sending to the peer.
    """

    key_id: str
    material: bytes = field(repr=False)
    outbound: bool = True


@dataclass(frozen=True, slots=True)
class DeliverableKey:
    """A key made for SAEs: the master that asked for it and the slaves that may fetch it here.

    ``recipients`` are the SAE IDs that may fetch this key from this KME (at the master's KME that
    is nobody: the master gets its copy in the response that created the key).
    """

    key_id: str
    material: bytes = field(repr=False)
    master_sae_id: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """Link-key pool of one link at this end: counts and bytes, by direction."""

    link_id: str
    outbound_keys: int
    outbound_bytes: int
    inbound_keys: int
    inbound_bytes: int

    @property
    def total_keys(self) -> int:
        """Keys held for this link, both directions."""
        return self.outbound_keys + self.inbound_keys


MakeKeys = Callable[[list[LinkKey]], Sequence[DeliverableKey]]
"""Builds deliverable keys from link keys inside a store transaction (see take_named_link_keys)."""


@runtime_checkable
class KeyStore(Protocol):
    """What a KME needs from a store. Every method is one atomic transaction."""

    def add_link_keys(self, link_id: str, keys: Sequence[LinkKey], *, max_pool_keys: int) -> int:
        """Add link keys in order; keep at most ``max_pool_keys`` for the link; return the count
        accepted (keys over the limit and IDs already held are dropped)."""
        ...

    def take_link_keys(
        self, link_id: str, *, n_bytes: int, outbox_id: str | None = None
    ) -> list[LinkKey]:
        """Remove and return the oldest outbound keys of the link holding at least ``n_bytes``;
        raise :class:`InsufficientKeyMaterial` (and remove nothing) when the pool is short.

        With ``outbox_id``, the IDs taken are also recorded in the relay outbox in the same
        transaction, so that the peer can be told to discard its copies if the relay does not
        complete, even after a crash.
        """
        ...

    def outbox(self) -> list[tuple[str, str, list[str]]]:
        """Relay outbox entries: ``(outbox_id, link_id, link_key_ids)``."""
        ...

    def clear_outbox(self, outbox_ids: Sequence[str]) -> None:
        """Delete outbox entries (relay acknowledged, or peer told to discard)."""
        ...

    def take_named_link_keys(
        self, link_id: str, key_ids: Sequence[str], *, make_keys: MakeKeys | None = None
    ) -> list[LinkKey]:
        """Remove and return the inbound keys with these IDs, in this order; raise
        :class:`KeyNotFound` (and remove nothing) when one is missing.

        With ``make_keys``, the deliverable keys it returns from the link keys are stored in the
        same transaction. If it raises a :class:`QKDError` (a relay message that fails
        authentication), the link keys are still removed, since they were used, nothing is
        stored, and the error is raised after the commit.
        """
        ...

    def discard_link_keys(self, link_id: str, key_ids: Sequence[str]) -> int:
        """Delete these link keys if held (either direction); return how many were deleted."""
        ...

    def pool_status(self, link_id: str) -> PoolStatus:
        """Counts and bytes held for a link."""
        ...

    def put_keys(self, keys: Sequence[DeliverableKey]) -> None:
        """Store keys for their recipients; raise :class:`KeyStoreError` if an ID is held."""
        ...

    def take_keys(
        self, *, master_sae_id: str, sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """Deliver keys to ``sae_id`` and mark them delivered, in one transaction.

        Raises :class:`SAENotAuthorized` if a held key was not made for ``sae_id``, and
        :class:`KeyNotFound` if a key is not held (or was made by another master, or ``sae_id``
        already has it). Nothing is delivered when either is raised.
        """
        ...

    def count_keys(self) -> int:
        """Number of deliverable keys held (not yet fetched by every recipient)."""
        ...

    def expire_keys(self, *, older_than_s: float) -> list[str]:
        """Delete deliverable keys stored more than ``older_than_s`` seconds ago (never fetched
        by every slave: e.g. the master's KME failed before answering); return their IDs."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def check_take_request(
    rows: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]],
    *,
    master_sae_id: str,
    sae_id: str,
    key_ids: Sequence[str],
) -> None:
    """Apply the ETSI 014 rules to the rows ``key_id -> (master, named, remaining)`` found.

    Shared by every store so that they answer alike. 401 wins over 400: an SAE that was not named
    for a key it asks for learns nothing about the other keys.
    """
    if len(set(key_ids)) != len(key_ids):
        raise ConfigurationError("key_IDs: each key ID may appear once", field="key_IDs")
    for key_id in key_ids:
        row = rows.get(key_id)
        if row is not None and sae_id not in row[1]:
            raise SAENotAuthorized(f"SAE {sae_id!r} was not named for key {key_id}")
    for key_id in key_ids:
        row = rows.get(key_id)
        if row is None or row[0] != master_sae_id or sae_id not in row[2]:
            raise KeyNotFound("one or more keys specified are not found on KME")


class MemoryKeyStore:
    """A :class:`KeyStore` in memory, for tests and in-process use; thread-safe, not durable.

    Examples
    --------
    >>> store = MemoryKeyStore()
    >>> store.add_link_keys("A~B", [LinkKey("k1", bytes(32))], max_pool_keys=10)
    1
    >>> store.pool_status("A~B").outbound_bytes
    32
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, OrderedDict[str, LinkKey]] = {}
        # key_id -> (master, material, named, remaining)
        self._keys: dict[str, tuple[str, bytes, tuple[str, ...], tuple[str, ...]]] = {}
        self._created_s: dict[str, float] = {}
        self._outbox: dict[str, tuple[str, list[str]]] = {}

    def __repr__(self) -> str:
        return f"MemoryKeyStore(links={len(self._links)}, keys={len(self._keys)})"

    def add_link_keys(self, link_id: str, keys: Sequence[LinkKey], *, max_pool_keys: int) -> int:
        with self._lock:
            pool = self._links.setdefault(link_id, OrderedDict())
            accepted = 0
            for key in keys:
                if len(pool) >= max_pool_keys:
                    break
                if key.key_id in pool:
                    continue
                pool[key.key_id] = key
                accepted += 1
            return accepted

    def take_link_keys(
        self, link_id: str, *, n_bytes: int, outbox_id: str | None = None
    ) -> list[LinkKey]:
        with self._lock:
            pool = self._links.get(link_id, OrderedDict())
            chosen: list[LinkKey] = []
            total = 0
            for key in pool.values():
                if total >= n_bytes:
                    break
                if key.outbound:
                    chosen.append(key)
                    total += len(key.material)
            if total < n_bytes:
                raise InsufficientKeyMaterial(
                    f"link {link_id}: {total} bytes of outbound link key held, {n_bytes} needed"
                )
            for key in chosen:
                del pool[key.key_id]
            if outbox_id is not None:
                self._outbox[outbox_id] = (link_id, [k.key_id for k in chosen])
            return chosen

    def outbox(self) -> list[tuple[str, str, list[str]]]:
        with self._lock:
            return [(o, link, list(ids)) for o, (link, ids) in self._outbox.items()]

    def clear_outbox(self, outbox_ids: Sequence[str]) -> None:
        with self._lock:
            for o in outbox_ids:
                self._outbox.pop(o, None)

    def take_named_link_keys(
        self, link_id: str, key_ids: Sequence[str], *, make_keys: MakeKeys | None = None
    ) -> list[LinkKey]:
        failure = None
        with self._lock:
            pool = self._links.get(link_id, OrderedDict())
            if len(set(key_ids)) != len(key_ids) or any(
                k not in pool or pool[k].outbound for k in key_ids
            ):
                raise KeyNotFound(f"link {link_id}: a named inbound link key is not held")
            taken = [pool[k] for k in key_ids]
            keys: Sequence[DeliverableKey] = ()
            if make_keys is not None:
                try:
                    keys = make_keys(taken)
                except QKDError as exc:
                    failure = exc
                if any(k.key_id in self._keys for k in keys):
                    raise KeyStoreError("a key with this key ID is already held")
            for k in key_ids:
                del pool[k]
            self._put(keys)
        if failure is not None:
            raise failure
        return taken

    def discard_link_keys(self, link_id: str, key_ids: Sequence[str]) -> int:
        with self._lock:
            pool = self._links.get(link_id, OrderedDict())
            return sum(pool.pop(k, None) is not None for k in key_ids)

    def pool_status(self, link_id: str) -> PoolStatus:
        with self._lock:
            pool = list(self._links.get(link_id, OrderedDict()).values())
        out = [len(k.material) for k in pool if k.outbound]
        inb = [len(k.material) for k in pool if not k.outbound]
        return PoolStatus(link_id, len(out), sum(out), len(inb), sum(inb))

    def put_keys(self, keys: Sequence[DeliverableKey]) -> None:
        with self._lock:
            if any(k.key_id in self._keys for k in keys):
                raise KeyStoreError("a key with this key ID is already held")
            self._put(keys)

    def _put(self, keys: Sequence[DeliverableKey]) -> None:
        now = time.time()
        for k in keys:
            self._keys[k.key_id] = (k.master_sae_id, k.material, k.recipients, k.recipients)
            self._created_s[k.key_id] = now

    def take_keys(
        self, *, master_sae_id: str, sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        with self._lock:
            rows = {k: (r[0], r[2], r[3]) for k in key_ids if (r := self._keys.get(k))}
            check_take_request(rows, master_sae_id=master_sae_id, sae_id=sae_id, key_ids=key_ids)
            out = []
            for key_id in key_ids:
                master, material, named, remaining = self._keys[key_id]
                left = tuple(s for s in remaining if s != sae_id)
                if left:
                    self._keys[key_id] = (master, material, named, left)
                else:
                    del self._keys[key_id], self._created_s[key_id]
                out.append((key_id, material))
            return out

    def count_keys(self) -> int:
        with self._lock:
            return len(self._keys)

    def expire_keys(self, *, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        with self._lock:
            old = [k for k, t in self._created_s.items() if t < cutoff]
            for k in old:
                del self._keys[k], self._created_s[k]
            return old

    def close(self) -> None:
        """Nothing to release."""


def open_store(url: str) -> KeyStore:
    """Open a store from a URL: ``memory:``, ``sqlite:///path/to/file.db`` or ``postgresql://...``.

    Raises
    ------
    ConfigurationError
        For any other scheme.
    """
    if url == "memory:":
        return MemoryKeyStore()
    if url.startswith("sqlite:///"):
        from euroqci.kms.sqlstore import SQLiteKeyStore

        return SQLiteKeyStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from euroqci.kms.sqlstore import PostgresKeyStore

        return PostgresKeyStore(url)
    raise ConfigurationError(
        f"store: unknown URL {url!r}; use memory:, sqlite:///PATH or postgresql://...",
        field="store",
    )


def link_keys_from_pairs(pairs: Iterable[tuple[str, bytes]], *, outbound: bool) -> list[LinkKey]:
    """Build link keys from ``(key_id, material)`` pairs."""
    return [LinkKey(k, m, outbound) for k, m in pairs]
