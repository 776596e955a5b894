"""Hop-by-hop key relay through trusted nodes: one-time pad with link keys, authenticated.

A key for an SAE behind another KME travels along a route of QKD links. At each hop the sending
KME takes fresh outbound link keys of that link (used once, then deleted), XORs the keys with
them (one-time pad) and appends an HMAC-SHA256 tag whose key is derived with HKDF-SHA256 from
32 further bytes of the same link key material. The receiving KME consumes the link keys named
in the message, checks the tag (``hmac.compare_digest``) and decrypts. A trusted node then sends
the keys on over its next link in the same way; the destination stores them for the slave SAEs.

Link key material is consumed before any ciphertext leaves a KME, and is never used again: on a
failure the sender asks the receiver to discard its copies too (best effort), so nothing made
with it is ever delivered and both pools stay in step.

How messages move between KMEs is a :class:`RelayTransport`: :class:`InProcessRelay` joins
managers in one process; the server provides one over HTTPS with mutual TLS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from euroqci.errors import RelayError
from euroqci.kms.store import LinkKey

if TYPE_CHECKING:
    from euroqci.kms.manager import KeyManager

__all__ = [
    "AUTH_KEY_BYTES",
    "InProcessRelay",
    "RelayMessage",
    "RelayTransport",
    "open_message",
    "seal_message",
]

logger = logging.getLogger(__name__)

# Bytes of link key material spent on the authentication key of each message.
AUTH_KEY_BYTES = 32
_HKDF_INFO = b"euroqci relay v1 auth "


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """Keys on their way to ``destination_kme_id``, encrypted for one link.

    ``ciphertext`` is the concatenated keys XOR the link key material named by ``link_key_ids``
    (in order); ``tag`` is HMAC-SHA256 over :meth:`header_bytes` and the ciphertext. ``hops``
    lists the KMEs the keys have passed, origin first.
    """

    batch_id: str
    origin_kme_id: str
    destination_kme_id: str
    master_sae_id: str
    slave_sae_ids: tuple[str, ...]
    key_ids: tuple[str, ...]
    size_bits: int
    link_id: str
    link_key_ids: tuple[str, ...]
    hops: tuple[str, ...]
    ciphertext: bytes = field(repr=False)
    tag: bytes = field(repr=False)

    def header_bytes(self) -> bytes:
        """Canonical bytes of every field but ciphertext and tag: what the tag covers."""
        # Fields read directly: dataclasses.asdict deep-copied the ciphertext and every ID list,
        # a tenth of a trusted node's Python time. Same bytes (json writes tuples as lists).
        header = {name: getattr(self, name) for name in _HEADER_FIELDS}
        return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()

    def key_bytes(self) -> int:
        """Length of the concatenated keys."""
        return len(self.key_ids) * self.size_bits // 8


_HEADER_FIELDS = tuple(
    f.name for f in dataclasses.fields(RelayMessage) if f.name not in {"ciphertext", "tag"}
)


class RelayTransport(Protocol):
    """How a KME hands a message to a neighbouring KME."""

    def send(self, peer_kme_id: str, message: RelayMessage) -> None:
        """Deliver ``message`` to the peer and return when the peer has stored or forwarded it;
        raise :class:`RelayError` (or another KeyStoreError) otherwise."""
        ...

    def discard(self, peer_kme_id: str, link_id: str, link_key_ids: Sequence[str]) -> None:
        """Ask the peer to delete its copies of these link keys (best effort)."""
        ...


def _auth_key(material: bytes, batch_id: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO + batch_id.encode()
    )
    return hkdf.derive(material)


def _pad(link_keys: Sequence[LinkKey], n_bytes: int) -> tuple[bytes, bytes]:
    """Split the link key material into the one-time pad and the authentication key input.

    Whole link keys are consumed; bytes past ``n_bytes + AUTH_KEY_BYTES`` are dropped unused.
    """
    material = b"".join(k.material for k in link_keys)
    if len(material) < n_bytes + AUTH_KEY_BYTES:
        raise RelayError("link key material is shorter than the message needs")
    return material[:n_bytes], material[n_bytes : n_bytes + AUTH_KEY_BYTES]


def _xor(a: bytes, b: bytes) -> bytes:
    # int.from_bytes XOR is the fastest pure-Python XOR of two byte strings of equal length.
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def seal_message(
    keys: Sequence[bytes],
    link_keys: Sequence[LinkKey],
    *,
    batch_id: str,
    origin_kme_id: str,
    destination_kme_id: str,
    master_sae_id: str,
    slave_sae_ids: Sequence[str],
    key_ids: Sequence[str],
    size_bits: int,
    link_id: str,
    hops: Sequence[str],
) -> RelayMessage:
    """Encrypt ``keys`` with ``link_keys`` (one-time pad) and authenticate the message."""
    plain = b"".join(keys)
    pad, auth_input = _pad(link_keys, len(plain))
    unsigned = RelayMessage(
        batch_id=batch_id,
        origin_kme_id=origin_kme_id,
        destination_kme_id=destination_kme_id,
        master_sae_id=master_sae_id,
        slave_sae_ids=tuple(slave_sae_ids),
        key_ids=tuple(key_ids),
        size_bits=size_bits,
        link_id=link_id,
        link_key_ids=tuple(k.key_id for k in link_keys),
        hops=tuple(hops),
        ciphertext=_xor(plain, pad),
        tag=b"",
    )
    tag = hmac.new(
        _auth_key(auth_input, batch_id),
        unsigned.header_bytes() + unsigned.ciphertext,
        hashlib.sha256,
    ).digest()
    return dataclasses.replace(unsigned, tag=tag)


def open_message(message: RelayMessage, link_keys: Sequence[LinkKey]) -> list[bytes]:
    """Check the tag of ``message`` and decrypt its keys with ``link_keys``.

    Raises
    ------
    RelayError
        When the tag does not match (the message was altered or the link keys differ).
    """
    n_bytes = message.key_bytes()
    if len(message.ciphertext) != n_bytes or message.size_bits % 8:
        raise RelayError("relay message: ciphertext length does not match the keys it announces")
    pad, auth_input = _pad(link_keys, n_bytes)
    expected = hmac.new(
        _auth_key(auth_input, message.batch_id),
        message.header_bytes() + message.ciphertext,
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(expected, message.tag):
        raise RelayError("relay message: authentication failed; link keys discarded")
    plain = _xor(message.ciphertext, pad)
    size = message.size_bits // 8
    return [plain[i : i + size] for i in range(0, n_bytes, size)]


class InProcessRelay:
    """A :class:`RelayTransport` joining key managers that live in the same process.

    Register each manager with :meth:`attach`; ``send`` calls the peer's ``receive_relay``.
    """

    def __init__(self) -> None:
        self._managers: dict[str, KeyManager] = {}
        self._lock = threading.Lock()
        self._sender = threading.local()

    def attach(self, manager: KeyManager) -> None:
        """Make ``manager`` reachable under its KME ID."""
        with self._lock:
            self._managers[manager.profile.kme_id] = manager

    def _peer(self, peer_kme_id: str) -> KeyManager:
        with self._lock:
            peer = self._managers.get(peer_kme_id)
        if peer is None:
            raise RelayError(f"KME {peer_kme_id!r} is not reachable")
        return peer

    def send(self, peer_kme_id: str, message: RelayMessage) -> None:
        self._peer(peer_kme_id).receive_relay(message, from_kme_id=message.hops[-1])

    def discard(self, peer_kme_id: str, link_id: str, link_key_ids: Sequence[str]) -> None:
        peer = self._peer(peer_kme_id)
        link = peer.profile.link(link_id)
        peer.discard_link_keys(link_id, link_key_ids, from_kme_id=link.peer_kme_id)
