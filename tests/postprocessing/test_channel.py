"""Classical channel: authenticated messages in memory and over TCP; tampering is rejected."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from euroqci.errors import InsufficientKeyMaterial, ProtocolAbort
from euroqci.postprocessing.authentication import Direction, KeyPool, WegmanCarter
from euroqci.postprocessing.channel import memory_channel_pair, tcp_channel_pair

SECRET = bytes(range(256)) * 8


def test_messages_round_trip_with_arrays() -> None:
    a, b = memory_channel_pair(SECRET)
    a.send("hello", index=np.arange(5, dtype=np.int64), n=3, name="x")
    msg = b.recv("hello")
    assert msg["index"].tolist() == [0, 1, 2, 3, 4] and msg["n"] == 3 and msg["name"] == "x"


def test_tampered_message_is_rejected() -> None:
    a, b = memory_channel_pair(SECRET)
    a.transport.tamper = lambda frame: frame[:-20] + bytes([frame[-20] ^ 1]) + frame[-19:]
    a.send("parity-reply", parities=np.array([1, 0, 1], dtype=np.uint8))
    with pytest.raises(ProtocolAbort) as info:
        b.recv()
    assert info.value.reason == "authentication failed"


def test_forged_tag_and_replay_are_rejected() -> None:
    a, b = memory_channel_pair(SECRET)
    a.transport.tamper = lambda frame: frame[:-1] + bytes([frame[-1] ^ 0x80])
    a.send("x")
    with pytest.raises(ProtocolAbort):
        b.recv()


def test_pool_consumption_is_accounted_and_replenished() -> None:
    pool = KeyPool(bytes(64))
    auth = WegmanCarter(pool, sending=Direction.ALICE_TO_BOB)
    assert pool.consumed_bits == 4 * 64  # two hash keys per direction
    auth.tag(b"message")
    assert pool.consumed_bits == 4 * 64 + 128
    with pytest.raises(InsufficientKeyMaterial):
        for _ in range(10):
            auth.tag(b"message")
    pool.replenish(bytes(32))
    assert pool.replenished_bits == 256
    auth.tag(b"again")


def test_repr_shows_no_key_material() -> None:
    pool = KeyPool(SECRET)
    assert "available_bits" in repr(pool) and SECRET[:8].hex() not in repr(pool)


def test_tcp_channel_end_to_end() -> None:
    a, b = tcp_channel_pair(SECRET)
    got = {}

    def alice() -> None:
        req = a.recv("ask")
        a.send("answer", values=req["values"] * 2)

    thread = threading.Thread(target=alice)
    thread.start()
    big = np.arange(200_000, dtype=np.int64)
    b.send("ask", values=big)
    got["r"] = b.recv("answer")
    thread.join(timeout=10)
    a.close()
    b.close()
    assert np.array_equal(got["r"]["values"], big * 2)


def test_tcp_latency_delays_each_message_without_holding_the_sender() -> None:
    # A link of 1 s round trip: each frame arrives no sooner than 0.5 s after it was sent,
    # and frames sent in a row are in flight together (the sender does not wait for the wire:
    # five sends take far less than the 2.5 s a sender sleeping per frame would).
    a, b = tcp_channel_pair(SECRET, round_trip_delay_s=1.0)
    try:
        b.send("warm-up")  # loads the hash kernels before anything is timed
        a.recv("warm-up")
        start = time.monotonic()
        for i in range(5):
            b.send("tick", i=i)
        sent = time.monotonic() - start
        first = a.recv("tick")["i"]
        first_at = time.monotonic() - start
        arrived = [first] + [a.recv("tick")["i"] for _ in range(4)]
        elapsed = time.monotonic() - start
    finally:
        a.close()
        b.close()
    assert arrived == [0, 1, 2, 3, 4]
    assert first_at >= 0.5
    assert sent < 0.5 and elapsed < 2.5


@pytest.mark.parametrize("size", [0, 3, 4, 1001])
def test_tag_is_the_polynomial_hash_plus_pad_of_the_message_words(size: int) -> None:
    from euroqci.postprocessing.authentication import message_words

    message = bytes((7 * i + 3) % 256 for i in range(size))
    pool = KeyPool(bytes(range(64)) * 2)
    auth = WegmanCarter(pool, sending=Direction.ALICE_TO_BOB)
    keys = auth._keys[Direction.ALICE_TO_BOB]
    pads = KeyPool(bytes(range(64)) * 2)
    for _ in range(2):  # the same stream position: past the two hash keys
        pads.take(Direction.ALICE_TO_BOB, 8)
    raw = pads.take(Direction.ALICE_TO_BOB, 16)
    p = (1 << 61) - 1
    expected = b""
    for i, key in enumerate(keys.tolist()):
        h = 0
        for w in message_words(message).tolist():
            h = (h * key + w) % p
        pad = int.from_bytes(raw[8 * i : 8 * i + 8], "little") & p
        expected += ((h * key + pad) % p).to_bytes(8, "little")
    assert auth.tag(message) == expected


def _pair() -> tuple[WegmanCarter, WegmanCarter]:
    secret = bytes(range(256)) * 2
    return (
        WegmanCarter(KeyPool(secret), sending=Direction.ALICE_TO_BOB),
        WegmanCarter(KeyPool(secret), sending=Direction.BOB_TO_ALICE),
    )


def test_a_zero_byte_appended_with_a_shifted_tag_is_rejected() -> None:
    # Without the last multiplication by the key, appending a zero byte inside the last word
    # shifts the hash by exactly 1: a forgery that succeeds with probability 1.
    alice, bob = _pair()
    message = b"parity-reply:abc"[:15]
    tag = alice.tag(message)
    p = (1 << 61) - 1
    forged = b"".join(
        ((int.from_bytes(tag[i : i + 8], "little") + 1) % p).to_bytes(8, "little") for i in (0, 8)
    )
    with pytest.raises(ProtocolAbort):
        bob.verify(message + b"\x00", forged)


def test_transcript_tag_is_the_tag_of_the_concatenated_message_words() -> None:
    from euroqci.postprocessing.authentication import message_words

    alice, bob = _pair()
    messages = [b"first", b"", b"second message", bytes(range(9))]
    sent = alice.transcript(Direction.ALICE_TO_BOB)
    for m in messages[:-1]:
        sent.absorb(m)
    tag = alice.tag(messages[-1], transcript=sent)
    received = bob.transcript(Direction.ALICE_TO_BOB)
    for m in messages[:-1]:
        received.absorb(m)
    bob.verify(messages[-1], tag, transcript=received)  # no exception
    # Oracle: the polynomial hash of all message words in a row, times the key, plus the pad.
    words = [w for m in messages for w in message_words(m).tolist()]
    keys = bob._keys[Direction.ALICE_TO_BOB].tolist()
    p = (1 << 61) - 1
    pads = KeyPool(bytes(range(256)) * 2)
    for _ in range(2):
        pads.take(Direction.ALICE_TO_BOB, 8)
    raw = pads.take(Direction.ALICE_TO_BOB, 16)
    expected = b""
    for i, key in enumerate(keys):
        h = 0
        for w in words:
            h = (h * key + w) % p
        pad = int.from_bytes(raw[8 * i : 8 * i + 8], "little") & p
        expected += ((h * key + pad) % p).to_bytes(8, "little")
    assert tag == expected


def test_transcript_with_a_changed_message_is_rejected() -> None:
    alice, bob = _pair()
    sent = alice.transcript(Direction.ALICE_TO_BOB)
    for m in (b"one", b"two"):
        sent.absorb(m)
    tag = alice.tag(b"end", transcript=sent)
    received = bob.transcript(Direction.ALICE_TO_BOB)
    for m in (b"one", b"twp"):
        received.absorb(m)
    with pytest.raises(ProtocolAbort):
        bob.verify(b"end", tag, transcript=received)


def _deferred_exchange(a, b, n_messages: int) -> list[int]:
    """Bob asks ``n_messages`` times inside a deferred block, Alice answers each."""
    got: list[int] = []
    errors: list[Exception] = []

    def alice() -> None:
        try:
            with a.deferred_authentication():
                for _ in range(n_messages):
                    value = a.recv("ask")["value"]
                    a.send("answer", value=np.asarray(value, dtype=np.int64) * 2)
        except Exception as exc:  # reported to the test thread
            errors.append(exc)

    thread = threading.Thread(target=alice)
    thread.start()
    try:
        with b.deferred_authentication():
            for i in range(n_messages):
                b.send("ask", value=np.array([i], dtype=np.int64))
                got.append(int(b.recv("answer")["value"][0]))
    finally:
        thread.join(timeout=10)
    if errors:
        raise errors[0]
    return got


def test_deferred_block_costs_one_pad_per_direction() -> None:
    a, b = memory_channel_pair(SECRET)
    before = a.auth.pool.consumed_bits + b.auth.pool.consumed_bits
    assert _deferred_exchange(a, b, 50) == [2 * i for i in range(50)]
    # One 128-bit pad per direction, drawn at both ends (each end holds its own pool copy).
    assert a.auth.pool.consumed_bits + b.auth.pool.consumed_bits - before == 4 * 128
    a.send("after", x=1)  # normal, per-message tags again
    assert b.recv("after")["x"] == 1 and a.tags_sent == 2


@pytest.mark.parametrize("direction", ["alice", "bob"])
def test_tampered_message_in_a_deferred_block_is_rejected_at_its_end(direction: str) -> None:
    a, b = memory_channel_pair(SECRET)
    victim = a if direction == "alice" else b
    count = {"n": 0}

    def tamper(frame: bytes) -> bytes:
        count["n"] += 1
        if count["n"] == 3:  # a deferred message in the middle: change its value
            return frame[:-1] + bytes([frame[-1] ^ 1])
        return frame

    victim.transport.tamper = tamper
    with pytest.raises(ProtocolAbort) as info:
        _deferred_exchange(a, b, 5)
    assert info.value.reason == "authentication failed"


def test_untagged_message_outside_a_deferred_block_is_rejected() -> None:
    a, b = memory_channel_pair(SECRET)
    # Alice sends untagged, as inside a deferred block, to a Bob who is not deferring.
    a._deferred = (
        a.auth.transcript(Direction.ALICE_TO_BOB),
        a.auth.transcript(Direction.BOB_TO_ALICE),
    )
    a.send("sneaky", x=1)
    with pytest.raises(ProtocolAbort) as info:
        b.recv()
    assert info.value.reason == "authentication failed"


@pytest.mark.parametrize("frame", [b"", b"\x00" * 11, b"\x00" * 12 + b"\xff\xff\xff\xff{"])
def test_malformed_untagged_message_in_a_deferred_block_aborts(frame: bytes) -> None:
    a, b = memory_channel_pair(SECRET)
    b._deferred = (
        b.auth.transcript(Direction.BOB_TO_ALICE),
        b.auth.transcript(Direction.ALICE_TO_BOB),
    )
    a.transport.send_bytes(frame)
    with pytest.raises(ProtocolAbort) as info:
        b.recv()
    assert info.value.reason == "protocol"


def test_doorbell_rings_the_peer_and_sees_its_ring() -> None:
    from euroqci._jit import accelerated

    if not accelerated():
        pytest.skip("the doorbell is compiled code; without numba the channel only blocks")
    from euroqci.postprocessing._spin_kernels import ring_then_wait

    peer, mine = np.zeros(1, np.int64), np.zeros(1, np.int64)
    assert not ring_then_wait(peer, 5, mine, 0, 1000)  # nothing rang: gives up
    assert peer[0] == 5
    mine[0] = 1
    assert ring_then_wait(peer, 6, mine, 0, 1000)  # one frame more than seen
    assert not ring_then_wait(peer, 6, mine, 1, 1000)


def test_memory_channel_ping_pong_many_round_trips() -> None:
    # The doorbell path and the blocking path (a slow peer) both deliver every frame in order.
    a, b = memory_channel_pair(SECRET)

    def alice() -> None:
        with a.deferred_authentication():
            for i in range(300):
                msg = a.recv("ping")
                if i % 50 == 0:
                    time.sleep(0.002)  # longer than the poll budget: Bob blocks on the queue
                a.send("pong", value=msg["value"] + 1)

    thread = threading.Thread(target=alice)
    thread.start()
    with b.deferred_authentication():
        for i in range(300):
            b.send("ping", value=i)
            assert b.recv("pong")["value"] == i + 1
    thread.join(timeout=10)
