"""Who a KME is and what it hands out: its profile (identity, SAEs, links, routes, ETSI 014
limits), the keys and status it returns, and which end of a link spends which link key."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from euroqci.errors import ConfigurationError, RelayError

__all__ = ["KMEProfile", "Key", "Link", "Role", "Status", "outbound_for"]


class Role(enum.Enum):
    """The role of an SAE in ETSI GS QKD 014: the master asks first, slaves fetch by key ID."""

    MASTER = "master"
    SLAVE = "slave"


@dataclass(frozen=True, slots=True)
class Link:
    """A QKD link from this KME to a neighbouring KME."""

    link_id: str
    peer_kme_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KMEProfile:
    """Who this KME is, whom it serves, how it reaches other KMEs, and its ETSI 014 limits.

    ``local_sae_ids`` are the SAEs attached to this KME (``None``: any SAE not in
    ``remote_saes``, for in-process use). ``remote_saes`` maps an SAE ID to its KME ID.
    ``routes`` maps a distant KME ID to the link of the next hop (direct peers need no entry).
    ``max_key_count`` bounds each link-key pool (keys, both directions). Keys not fetched by
    every slave within ``max_key_age_s`` are deleted by :meth:`KeyManager.expire_keys`.
    """

    kme_id: str = "KME"
    local_sae_ids: frozenset[str] | None = None
    remote_saes: Mapping[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    routes: Mapping[str, str] = field(default_factory=dict)
    default_key_size_bits: int = 256
    min_key_size_bits: int = 64
    max_key_size_bits: int = 4096
    max_keys_per_request: int = 128
    max_key_count: int = 100_000
    max_sae_id_count: int = 8
    max_key_age_s: float = 86_400.0

    def link(self, link_id: str) -> Link:
        """The link with this ID; :class:`ConfigurationError` if there is none."""
        for link in self.links:
            if link.link_id == link_id:
                return link
        raise ConfigurationError(f"link_id: no link {link_id!r} at {self.kme_id}", field="link_id")

    def next_hop(self, destination_kme_id: str) -> Link:
        """The link on which keys for ``destination_kme_id`` leave this KME."""
        for link in self.links:
            if link.peer_kme_id == destination_kme_id:
                return link
        if destination_kme_id in self.routes:
            return self.link(self.routes[destination_kme_id])
        raise RelayError(f"no route from {self.kme_id} to KME {destination_kme_id!r}")

    def kme_of(self, sae_id: str) -> str | None:
        """The KME ID of an SAE, or ``None`` when the SAE is unknown."""
        if sae_id in self.remote_saes:
            return self.remote_saes[sae_id]
        if self.local_sae_ids is None or sae_id in self.local_sae_ids:
            return self.kme_id
        return None


@dataclass(frozen=True, slots=True)
class Key:
    """A key delivered to an SAE. ``material`` never appears in ``repr``."""

    key_id: str
    material: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Status:
    """ETSI 014 Status (Table 9), with units in the names."""

    source_kme_id: str
    target_kme_id: str
    master_sae_id: str
    slave_sae_id: str
    key_size_bits: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size_bits: int
    min_key_size_bits: int
    max_sae_id_count: int


def outbound_for(key_id: str, *, local_kme_id: str, peer_kme_id: str) -> bool:
    """Whether this end of a link spends the link key ``key_id`` (the other end computes the
    opposite): the lower KME ID owns keys whose ID hashes even, the higher the others.

    >>> outbound_for("k1", local_kme_id="A", peer_kme_id="B") != outbound_for(
    ...     "k1", local_kme_id="B", peer_kme_id="A")
    True
    """
    even = hashlib.sha256(key_id.encode()).digest()[0] % 2 == 0
    return even == (local_kme_id < peer_kme_id)
