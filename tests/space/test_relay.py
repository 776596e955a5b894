"""The satellite as a trusted relay: XOR recovery and the storage-limited schedule."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.space.relay import (
    PassKeyEvent,
    recover_relayed_key,
    relay_message,
    schedule_relay,
)

T0 = datetime(2027, 3, 21, tzinfo=UTC)


def test_station_b_recovers_station_a_key(rng: np.random.Generator) -> None:
    key_a = rng.bytes(32)
    key_b = rng.bytes(32)
    message = relay_message(key_a, key_b)
    assert not hmac.compare_digest(message, key_a)
    recovered = recover_relayed_key(message, key_b, expected_digest=hashlib.sha256(key_a).digest())
    assert hmac.compare_digest(recovered, key_a)
    with pytest.raises(ConfigurationError, match="digest"):
        recover_relayed_key(message, rng.bytes(32), expected_digest=hashlib.sha256(key_a).digest())
    with pytest.raises(ConfigurationError, match="same length"):
        relay_message(key_a, key_b[:16])


def _ev(minutes: float, station: str, bits: float) -> PassKeyEvent:
    return PassKeyEvent(time=T0 + timedelta(minutes=minutes), station_id=station, secret_bits=bits)


def test_relay_uses_the_smaller_of_the_two_keys() -> None:
    out = schedule_relay([_ev(0, "A", 10_000), _ev(90, "B", 6_000)], [("A", "B")])
    assert out.delivered_bits[("A", "B")] == pytest.approx(6_000)
    assert out.stored_bits_end["A"] == pytest.approx(4_000)
    assert out.stored_bits_end["B"] == pytest.approx(0.0)
    assert sum(d.bits for d in out.deliveries) == pytest.approx(6_000)


def test_storage_limit_discards_what_does_not_fit() -> None:
    events = [_ev(0, "A", 10_000), _ev(90, "B", 6_000), _ev(180, "C", 5_000)]
    out = schedule_relay(events, [("A", "B"), ("B", "C")], storage_bits=3_000)
    # A keeps 3000 of 10000; B's 6000 serve A-B with 3000 at once and the other 3000 fit the
    # memory; C's 5000 serve B-C with 3000 and 2000 stay on board.
    assert out.delivered_bits[("A", "B")] == pytest.approx(3_000)
    assert out.delivered_bits[("B", "C")] == pytest.approx(3_000)
    assert out.discarded_bits == pytest.approx(7_000)
    assert out.stored_bits_end["C"] == pytest.approx(2_000)
    assert sum(out.stored_bits_end.values()) <= 3_000 + 1e-9


def test_max_min_fairness_and_weights() -> None:
    events = [_ev(0, "B", 50_000), _ev(10, "C", 50_000), _ev(100, "A", 40_000)]
    fair = schedule_relay(events, [("A", "B"), ("A", "C")], chunk_bits=100)
    assert fair.delivered_bits[("A", "B")] == pytest.approx(20_000, rel=0.05)
    assert fair.delivered_bits[("A", "C")] == pytest.approx(20_000, rel=0.05)
    weighted = schedule_relay(
        events, [("A", "B"), ("A", "C")], demand_weights={("A", "B"): 3.0}, chunk_bits=100
    )
    assert weighted.delivered_bits[("A", "B")] == pytest.approx(30_000, rel=0.05)
    assert weighted.per_day(2.0)[("A", "C")] == pytest.approx(5_000, rel=0.1)


def test_relay_never_delivers_more_than_both_stations_hold(rng: np.random.Generator) -> None:
    stations = ["A", "B", "C", "D"]
    events = [
        _ev(float(m), str(rng.choice(stations)), float(rng.integers(0, 50_000)))
        for m in rng.integers(0, 10_000, size=60)
    ]
    pairs = [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")]
    out = schedule_relay(events, pairs, storage_bits=80_000)
    generated = {s: sum(e.secret_bits for e in events if e.station_id == s) for s in stations}
    for s in stations:
        used = sum(b for p, b in out.delivered_bits.items() if s in p)
        assert used <= generated[s] + 1e-6
    assert all(v >= -1e-9 for v in out.stored_bits_end.values())
