"""The satellite as a trusted relay: key between two ground stations from their pass keys.

The satellite shares key ``K_A`` with station A after a pass over A and ``K_B`` with B after a
pass over B; it announces ``K_A xor K_B`` over any public channel and B recovers ``K_A``
(one-time pad; the satellite is trusted and sees both keys). Each relayed bit consumes one bit
of each station's key. The satellite stores unused station keys between passes, up to an
onboard storage limit.

The schedule decides at each pass how much new key to store and which pairs to serve. The
policy here is greedy max-min fairness: after each pass, key goes in chunks to the pair (among
those that can be served) with the smallest delivered key per unit of demand weight. It is a
documented heuristic, not an optimum; it never delivers more than both stations hold.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from euroqci.errors import ConfigurationError

__all__ = [
    "PassKeyEvent",
    "RelayDelivery",
    "RelaySchedule",
    "recover_relayed_key",
    "relay_message",
    "schedule_relay",
]


def relay_message(key_a: bytes, key_b: bytes) -> bytes:
    """The public announcement ``K_A xor K_B`` that lets B recover A's key (equal lengths).

    >>> message = relay_message(bytes([1, 2, 3]), bytes([7, 7, 7]))
    >>> recover_relayed_key(message, bytes([7, 7, 7])) == bytes([1, 2, 3])
    True
    """
    if len(key_a) != len(key_b):
        raise ConfigurationError("relay: the two station keys must have the same length")
    return bytes(x ^ y for x, y in zip(key_a, key_b, strict=True))


def recover_relayed_key(
    message: bytes, key_b: bytes, *, expected_digest: bytes | None = None
) -> bytes:
    """B's copy of ``K_A``: ``message xor K_B``.

    ``expected_digest`` (optional) is a SHA-256 digest of ``K_A`` sent for verification; it is
    compared in constant time and a mismatch raises ``ConfigurationError``.
    """
    key = relay_message(message, key_b)
    if expected_digest is not None:
        import hashlib

        if not hmac.compare_digest(hashlib.sha256(key).digest(), expected_digest):
            raise ConfigurationError("relay: the recovered key does not match its digest")
    return key


@dataclass(frozen=True)
class PassKeyEvent:
    """Secret bits shared between the satellite and ``station_id`` at the end of a pass."""

    time: datetime
    station_id: str
    secret_bits: float


@dataclass(frozen=True)
class RelayDelivery:
    """Bits relayed to ``pair`` at ``time`` (both station keys consumed)."""

    time: datetime
    pair: tuple[str, str]
    bits: float


@dataclass
class RelaySchedule:
    """The outcome of :func:`schedule_relay`."""

    delivered_bits: dict[tuple[str, str], float]
    deliveries: list[RelayDelivery] = field(default_factory=list)
    stored_bits_end: dict[str, float] = field(default_factory=dict)
    discarded_bits: float = 0.0

    def per_day(self, days: float) -> dict[tuple[str, str], float]:
        """Delivered bits per pair per day over a period of ``days``."""
        return {pair: bits / days for pair, bits in self.delivered_bits.items()}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def schedule_relay(
    events: Iterable[PassKeyEvent],
    pairs: Sequence[tuple[str, str]],
    *,
    storage_bits: float = float("inf"),
    demand_weights: Mapping[tuple[str, str], float] | None = None,
    chunk_bits: float = 1024.0,
) -> RelaySchedule:
    """Serve ``pairs`` of stations from the key of each pass, under an onboard storage limit.

    Parameters
    ----------
    events
        Pass keys in any order (sorted by time here).
    pairs
        Station pairs to serve, e.g. ``[("OGS-ES-TEIDE", "OGS-IT-MATERA")]``.
    storage_bits
        Onboard memory for station keys not yet used; key beyond it is discarded.
    demand_weights
        Relative demand per pair (default 1); fairness is measured per unit weight.
    chunk_bits
        Granularity of the greedy allocation.
    """
    if storage_bits < 0 or chunk_bits <= 0:
        raise ConfigurationError("relay: storage_bits must be >= 0 and chunk_bits > 0")
    wanted = [_pair(a, b) for a, b in pairs if a != b]
    weights = {p: 1.0 for p in wanted}
    for p, w in (demand_weights or {}).items():
        if w <= 0:
            raise ConfigurationError(f"relay: demand weight of {p} must be > 0")
        weights[_pair(*p)] = float(w)
    stored: dict[str, float] = {}
    delivered = {p: 0.0 for p in wanted}
    result = RelaySchedule(delivered_bits=delivered)
    for ev in sorted(events, key=lambda e: e.time):
        # The new key can serve pairs at once (the XOR goes out right after the pass); only
        # what is left must fit in the onboard memory.
        before = sum(stored.values())
        stored[ev.station_id] = stored.get(ev.station_id, 0.0) + ev.secret_bits
        _serve(ev, wanted, weights, stored, delivered, result, chunk_bits)
        excess = sum(stored.values()) - max(storage_bits, before)
        if excess > 0:
            dropped = min(excess, stored[ev.station_id])
            stored[ev.station_id] -= dropped
            result.discarded_bits += dropped
    result.stored_bits_end = stored
    return result


def _serve(
    ev: PassKeyEvent,
    wanted: list[tuple[str, str]],
    weights: dict[tuple[str, str], float],
    stored: dict[str, float],
    delivered: dict[tuple[str, str], float],
    result: RelaySchedule,
    chunk_bits: float,
) -> None:
    """Greedy max-min fair allocation, in chunks, of the key held to pairs with this station."""
    serviceable = [p for p in wanted if ev.station_id in p]
    # Chunks of at least 1/64 of this station's store keep the loop short for large keys.
    chunk = max(chunk_bits, stored[ev.station_id] / 64.0)
    while True:
        ready = [p for p in serviceable if min(stored.get(p[0], 0.0), stored.get(p[1], 0.0)) > 0]
        if not ready:
            return
        p = min(ready, key=lambda q: delivered[q] / weights[q])
        bits = min(chunk, stored[p[0]], stored[p[1]])
        stored[p[0]] -= bits
        stored[p[1]] -= bits
        delivered[p] += bits
        last = result.deliveries[-1] if result.deliveries else None
        if last is not None and last.pair == p and last.time == ev.time:
            result.deliveries[-1] = RelayDelivery(time=ev.time, pair=p, bits=last.bits + bits)
        else:
            result.deliveries.append(RelayDelivery(time=ev.time, pair=p, bits=bits))
