"""The key manager: ETSI GS QKD 014 semantics in-process, over any :class:`KeyStore`.

A master SAE asks its KME for keys for a slave SAE (``get_enc_keys``); the KME makes the keys,
relays them to the KME of each slave (:mod:`euroqci.kms.relay`), and returns them to the master,
who thereby holds them once. Each slave then fetches them by key ID from its own KME
(``get_dec_keys``), once; the key is deleted when every named slave has it. An SAE that was not
named gets :class:`SAENotAuthorized` (ETSI 401).

Keys are drawn from the operating system's CSPRNG (:mod:`secrets`) at the master's KME; they
leave it only one-time-padded with QKD link keys. Slaves on the same KME as the master get their
copy from this KME's store directly.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import orjson

from euroqci.errors import (
    ConfigurationError,
    RelayError,
    SAENotAuthorized,
    UnsupportedExtension,
)
from euroqci.kms.batching import RelayBatcher
from euroqci.kms.profile import Key, KMEProfile, Link, Role, Status, outbound_for
from euroqci.kms.relay import (
    AUTH_KEY_BYTES,
    RelayMessage,
    RelayTransport,
    open_message,
    seal_message,
)
from euroqci.kms.store import DeliverableKey, KeyStore, LinkKey, PoolStatus

__all__ = ["KeyManager"]

logger = logging.getLogger(__name__)


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        raise ConfigurationError(f"key_ID: {text!r} is not a UUID", field="key_ID") from None


class KeyManager:
    """A KME's key logic over a store: ETSI 014 get key, get key with key IDs, status; relay.

    Parameters
    ----------
    store
        Where link keys and deliverable keys are kept.
    profile
        Identity, attached SAEs, links, routes and limits of this KME.
    relay
        How relay messages reach neighbouring KMEs (needed only with links).
    audit
        Logger of deliveries (key IDs, SAE IDs, times; never key bytes).

    Examples
    --------
    >>> from euroqci.kms.store import MemoryKeyStore
    >>> kme = KeyManager(MemoryKeyStore())
    >>> keys = kme.get_enc_keys("SAE-B", master_sae_id="SAE-A", number=2, size_bits=256)
    >>> [len(k.material) for k in keys]
    [32, 32]
    >>> got = kme.get_dec_keys("SAE-A", [k.key_id for k in keys], slave_sae_id="SAE-B")
    >>> [g.material for g in got] == [k.material for k in keys]
    True
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        profile: KMEProfile | None = None,
        relay: RelayTransport | None = None,
        audit: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.profile = profile or KMEProfile()
        self.relay = relay
        self.audit = audit or logging.getLogger("euroqci.audit")
        self._stats_lock = threading.Lock()
        self._outbox_lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._acknowledged: list[str] = []
        self._batcher = RelayBatcher()
        self.stats: dict[str, int] = dict.fromkeys(
            [
                "keys_delivered_master",
                "keys_delivered_slave",
                "keys_relayed",
                "relay_messages",
                "link_keys_added",
                "link_keys_consumed",
                "link_keys_discarded",
                "relay_failures",
                "keys_expired",
            ],
            0,
        )

    def __repr__(self) -> str:
        return f"KeyManager(kme_id={self.profile.kme_id!r}, store={self.store!r})"

    # -- ETSI 014 -------------------------------------------------------------------------------
    def status(self, slave_sae_id: str, *, master_sae_id: str) -> Status:
        """ETSI 014 Get status: what ``master_sae_id`` may ask for ``slave_sae_id`` now."""
        self._check_local(master_sae_id)
        slave_kme = self._kme_of(slave_sae_id, field_name="slave_SAE_ID")
        p = self.profile
        if slave_kme == p.kme_id:
            stored = p.max_key_count
        else:
            pool = self.store.pool_status(p.next_hop(slave_kme).link_id)
            usable = max(pool.outbound_bytes - AUTH_KEY_BYTES, 0)
            stored = min(usable // (p.default_key_size_bits // 8), p.max_key_count)
        return Status(
            source_kme_id=p.kme_id,
            target_kme_id=slave_kme,
            master_sae_id=master_sae_id,
            slave_sae_id=slave_sae_id,
            key_size_bits=p.default_key_size_bits,
            stored_key_count=stored,
            max_key_count=p.max_key_count,
            max_key_per_request=p.max_keys_per_request,
            max_key_size_bits=p.max_key_size_bits,
            min_key_size_bits=p.min_key_size_bits,
            max_sae_id_count=p.max_sae_id_count,
        )

    def get_enc_keys(
        self,
        slave_sae_id: str,
        *,
        master_sae_id: str,
        number: int | None = None,
        size_bits: int | None = None,
        additional_slave_sae_ids: Sequence[str] = (),
        extension_mandatory: Sequence[Mapping[str, Any]] = (),
    ) -> list[Key]:
        """ETSI 014 Get key: new keys for the master, made available to each named slave.

        Raises
        ------
        ConfigurationError
            Bad number or size (the message is the ETSI one where the GS gives one).
        UnsupportedExtension
            Any ``extension_mandatory`` item (none is supported).
        SAENotAuthorized
            ``master_sae_id`` is not attached to this KME.
        InsufficientKeyMaterial, RelayError
            The keys could not reach a slave's KME now; nothing was delivered.
        """
        self._check_local(master_sae_id)
        if extension_mandatory:
            names = tuple(str(n) for item in extension_mandatory for n in item)
            raise UnsupportedExtension(
                "not all extension_mandatory parameters are supported", names=names
            )
        number, size_bits = self._check_request(number, size_bits)
        slaves = self._check_slaves(slave_sae_id, additional_slave_sae_ids, master_sae_id)
        key_ids = [str(uuid.uuid4()) for _ in range(number)]
        materials = [secrets.token_bytes(size_bits // 8) for _ in range(number)]
        by_kme: dict[str, list[str]] = {}
        for sae in slaves:
            by_kme.setdefault(self._kme_of(sae, field_name="slave_SAE_ID"), []).append(sae)
        # Remote slaves first: if a relay fails, no local copy is left behind.
        for kme_id, saes in by_kme.items():
            if kme_id != self.profile.kme_id:
                self._relay_to(kme_id, materials, key_ids, master_sae_id, saes, size_bits)
        local = by_kme.get(self.profile.kme_id)
        if local:
            self.store.put_keys(
                [
                    DeliverableKey(k, m, master_sae_id, tuple(local))
                    for k, m in zip(key_ids, materials, strict=True)
                ]
            )
        self._count("keys_delivered_master", number)
        self._audit(
            "enc_keys", sae_id=master_sae_id, role=Role.MASTER, key_ids=key_ids, slaves=slaves
        )
        return [Key(k, m) for k, m in zip(key_ids, materials, strict=True)]

    def get_dec_keys(
        self, master_sae_id: str, key_ids: Sequence[str], *, slave_sae_id: str
    ) -> list[Key]:
        """ETSI 014 Get key with key IDs: the slave's copy of keys made for it, once.

        Raises
        ------
        SAENotAuthorized
            ``slave_sae_id`` is not attached here or was not named for one of the keys (401).
        KeyNotFound
            A key is not held here for this master and slave (400).
        """
        self._check_local(slave_sae_id)
        if not key_ids:
            raise ConfigurationError("key_IDs: give at least one key ID", field="key_IDs")
        if len(key_ids) > self.profile.max_keys_per_request:
            raise ConfigurationError(
                f"key_IDs: at most {self.profile.max_keys_per_request} per request",
                field="key_IDs",
            )
        ids = [_uuid(k) for k in key_ids]
        taken = self.store.take_keys(master_sae_id=master_sae_id, sae_id=slave_sae_id, key_ids=ids)
        self._count("keys_delivered_slave", len(taken))
        self._audit(
            "dec_keys", sae_id=slave_sae_id, role=Role.SLAVE, key_ids=ids, master=master_sae_id
        )
        return [Key(k, m) for k, m in taken]

    # -- link keys ------------------------------------------------------------------------------
    def add_link_keys(self, link_id: str, keys: Sequence[tuple[str, bytes]]) -> int:
        """Key supply: add ``(key_id, material)`` pairs of a link, as both ends received them.

        Returns the number accepted; the pool keeps at most ``max_key_count`` keys.
        """
        link = self.profile.link(link_id)
        me = self.profile.kme_id
        records = [
            LinkKey(k, m, outbound_for(k, local_kme_id=me, peer_kme_id=link.peer_kme_id))
            for k, m in keys
        ]
        accepted = self.store.add_link_keys(
            link_id, records, max_pool_keys=self.profile.max_key_count
        )
        self._count("link_keys_added", accepted)
        return accepted

    def expire_keys(self) -> int:
        """Delete keys older than ``max_key_age_s`` that a slave never fetched; audit their IDs."""
        expired = self.store.expire_keys(older_than_s=self.profile.max_key_age_s)
        if expired:
            self._count("keys_expired", len(expired))
            self._audit("expired", sae_id="", role=Role.SLAVE, key_ids=expired)
        return len(expired)

    def pool_status(self, link_id: str) -> PoolStatus:
        """Link keys held for a link."""
        self.profile.link(link_id)
        return self.store.pool_status(link_id)

    def discard_link_keys(self, link_id: str, key_ids: Sequence[str], *, from_kme_id: str) -> int:
        """Delete link keys that the peer burnt (a relay that failed after encryption)."""
        self._check_peer(link_id, from_kme_id)
        deleted = self.store.discard_link_keys(link_id, key_ids)
        self._count("link_keys_discarded", deleted)
        return deleted

    # -- relay ----------------------------------------------------------------------------------
    def receive_relay(self, message: RelayMessage, *, from_kme_id: str) -> None:
        """Take a relay message from a neighbour: store the keys here or send them on."""
        self._check_peer(message.link_id, from_kme_id)
        if self.profile.kme_id in message.hops:
            raise RelayError(f"relay loop: keys came back to {self.profile.kme_id}")
        if message.destination_kme_id == self.profile.kme_id:
            self._store_relayed(message)
            return
        link_keys = self.store.take_named_link_keys(message.link_id, message.link_key_ids)
        self._count("link_keys_consumed", len(link_keys))
        materials = open_message(message, link_keys)
        self._send(
            message.destination_kme_id, materials, list(message.key_ids), message.master_sae_id,
            list(message.slave_sae_ids), message.size_bits, message.batch_id, hops=message.hops,
        )  # fmt: skip

    def _store_relayed(self, message: RelayMessage) -> None:
        """At the destination: consume the link keys and store the keys in one transaction."""
        for sae in message.slave_sae_ids:
            self._check_local(sae)
        recipients = tuple(message.slave_sae_ids)

        def make_keys(link_keys: list[LinkKey]) -> list[DeliverableKey]:
            materials = open_message(message, link_keys)
            return [
                DeliverableKey(k, m, message.master_sae_id, recipients)
                for k, m in zip(message.key_ids, materials, strict=True)
            ]

        try:
            self.store.take_named_link_keys(
                message.link_id, message.link_key_ids, make_keys=make_keys
            )
        except RelayError:
            self._count("link_keys_consumed", len(message.link_key_ids))
            raise
        self._count("link_keys_consumed", len(message.link_key_ids))
        self._audit(
            "relay_in", sae_id=message.master_sae_id, role=Role.MASTER,
            key_ids=list(message.key_ids), slaves=list(recipients),
        )  # fmt: skip

    def _relay_to(
        self,
        kme_id: str,
        materials: Sequence[bytes],
        key_ids: Sequence[str],
        master_sae_id: str,
        slaves: Sequence[str],
        size_bits: int,
    ) -> None:
        """Relay keys from their origin; concurrent relays of the same shape share a message."""

        def send(batch_materials: list[bytes], batch_key_ids: list[str]) -> None:
            self._send(kme_id, batch_materials, batch_key_ids, master_sae_id, slaves, size_bits,
                       str(uuid.uuid4()))  # fmt: skip

        shape = (kme_id, master_sae_id, tuple(slaves), size_bits)
        self._batcher.submit(shape, materials, key_ids, send)

    def _send(
        self,
        destination_kme_id: str,
        materials: Sequence[bytes],
        key_ids: Sequence[str],
        master_sae_id: str,
        slaves: Sequence[str],
        size_bits: int,
        batch_id: str,
        hops: Sequence[str] = (),
    ) -> None:
        if self.relay is None:
            raise RelayError(f"{self.profile.kme_id} has no relay transport to other KMEs")
        link = self.profile.next_hop(destination_kme_id)
        n_bytes = len(materials) * size_bits // 8 + AUTH_KEY_BYTES
        # The outbox entry is written with the consumption: if this relay does not complete,
        # even across a crash, the peer is told to discard its copies (flush_outbox).
        outbox_id = str(uuid.uuid4())
        with self._outbox_lock:
            self._in_flight.add(outbox_id)
        try:
            link_keys = self.store.take_link_keys(
                link.link_id, n_bytes=n_bytes, outbox_id=outbox_id
            )
            self._count("link_keys_consumed", len(link_keys))
            message = seal_message(
                materials, link_keys, batch_id=batch_id,
                origin_kme_id=hops[0] if hops else self.profile.kme_id,
                destination_kme_id=destination_kme_id, master_sae_id=master_sae_id,
                slave_sae_ids=slaves, key_ids=key_ids, size_bits=size_bits,
                link_id=link.link_id, hops=(*hops, self.profile.kme_id),
            )  # fmt: skip
            try:
                self.relay.send(link.peer_kme_id, message)
            except Exception as exc:
                self._relay_failed(exc, link, message, outbox_id)
            with self._outbox_lock:
                self._acknowledged.append(outbox_id)
        finally:
            with self._outbox_lock:
                self._in_flight.discard(outbox_id)
        self._count("keys_relayed", len(key_ids))
        self._count("relay_messages", 1)

    def _relay_failed(
        self, exc: Exception, link: Link, message: RelayMessage, outbox_id: str
    ) -> NoReturn:
        self._count("relay_failures", 1)
        logger.warning(
            "relay %s to %s failed: %s", message.batch_id, link.peer_kme_id, type(exc).__name__
        )
        try:
            if self.relay is not None:
                self.relay.discard(link.peer_kme_id, link.link_id, message.link_key_ids)
        except Exception:  # the peer may be down: the outbox entry stays, flush_outbox retries
            logger.warning("discard of link keys at %s failed; will retry", link.peer_kme_id)
        else:
            with self._outbox_lock:
                self._acknowledged.append(outbox_id)
        if isinstance(exc, RelayError):
            raise exc
        raise RelayError(
            f"relay to {link.peer_kme_id} failed ({type(exc).__name__}); nothing delivered"
        ) from None

    def flush_outbox(self) -> int:
        """Housekeeping: forget acknowledged relays, and ask peers to discard the link keys of
        relays that did not complete (also those cut short by a crash). Returns the number of
        discards sent."""
        # Read the outbox before looking at what is in flight: an entry is committed only after
        # its ID joined _in_flight, so an entry read here that is no longer in flight has
        # finished (acknowledged, or failed). Read the other way round, a relay starting in
        # between would look abandoned and its link keys would be discarded under it.
        entries = self.store.outbox()
        with self._outbox_lock:
            acknowledged, self._acknowledged = self._acknowledged, []
            in_flight = set(self._in_flight)
        if acknowledged:
            self.store.clear_outbox(acknowledged)
        done = set(acknowledged)
        sent = []
        for outbox_id, link_id, key_ids in entries:
            if outbox_id in in_flight or outbox_id in done or self.relay is None:
                continue
            link = self.profile.link(link_id)
            try:
                self.relay.discard(link.peer_kme_id, link_id, key_ids)
            except Exception:
                logger.info("discard at %s still failing; will retry", link.peer_kme_id)
                continue
            sent.append(outbox_id)
        if sent:
            self.store.clear_outbox(sent)
        return len(sent)

    # -- checks and bookkeeping -----------------------------------------------------------------
    def _check_local(self, sae_id: str) -> None:
        local = self.profile.local_sae_ids
        if (local is not None and sae_id not in local) or sae_id in self.profile.remote_saes:
            raise SAENotAuthorized(f"SAE {sae_id!r} is not attached to {self.profile.kme_id}")

    def _check_peer(self, link_id: str, from_kme_id: str) -> None:
        if self.profile.link(link_id).peer_kme_id != from_kme_id:
            raise SAENotAuthorized(f"KME {from_kme_id!r} is not the peer on link {link_id!r}")

    def _kme_of(self, sae_id: str, *, field_name: str) -> str:
        kme = self.profile.kme_of(sae_id)
        if kme is None:
            raise ConfigurationError(
                f"{field_name}: SAE {sae_id!r} is not known to {self.profile.kme_id}",
                field=field_name,
            )
        return kme

    def _check_request(self, number: int | None, size_bits: int | None) -> tuple[int, int]:
        p = self.profile
        number = 1 if number is None else number
        size_bits = p.default_key_size_bits if size_bits is None else size_bits
        if type(number) is not int or not 1 <= number <= p.max_keys_per_request:
            raise ConfigurationError(
                f"number: give 1 to {p.max_keys_per_request} keys per request", field="number"
            )
        if type(size_bits) is not int:
            raise ConfigurationError("size: give the key size in bits, an integer", field="size")
        if size_bits % 8:
            raise ConfigurationError("size shall be a multiple of 8", field="size")
        if not p.min_key_size_bits <= size_bits <= p.max_key_size_bits:
            raise ConfigurationError(
                f"size: give {p.min_key_size_bits} to {p.max_key_size_bits} bits", field="size"
            )
        return number, size_bits

    def _check_slaves(
        self, slave_sae_id: str, additional: Sequence[str], master_sae_id: str
    ) -> list[str]:
        if len(additional) > self.profile.max_sae_id_count:
            raise ConfigurationError(
                f"additional_slave_SAE_IDs: at most {self.profile.max_sae_id_count}",
                field="additional_slave_SAE_IDs",
            )
        slaves = [slave_sae_id, *additional]
        if len(set(slaves)) != len(slaves):
            raise ConfigurationError(
                "additional_slave_SAE_IDs: each SAE may be named once",
                field="additional_slave_SAE_IDs",
            )
        for sae in slaves:
            self._kme_of(sae, field_name="slave_SAE_ID")
        return slaves

    def _count(self, name: str, n: int) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def _audit(
        self, event: str, *, sae_id: str, role: Role, key_ids: Sequence[str], **extra: Any
    ) -> None:
        record = {
            "time_s": round(time.time(), 6),
            "kme_id": self.profile.kme_id,
            "event": event,
            "sae_id": sae_id,
            "role": role.value,
            "key_ids": list(key_ids),
            **extra,
        }
        if self.audit.isEnabledFor(logging.INFO):
            # orjson: the audit line is written for every request; json.dumps cost 3x more.
            self.audit.info(orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode())
