"""Classical channel: authenticated messages in memory and over TCP; tampering is rejected."""

from __future__ import annotations

import threading

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
        expected += ((h + pad) % p).to_bytes(8, "little")
    assert auth.tag(message) == expected
