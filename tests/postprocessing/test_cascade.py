"""Cascade: keys equal after reconciliation, or the frame is reported failed; leak counted."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.errors import ProtocolAbort
from euroqci.postprocessing import verification
from euroqci.postprocessing.cascade import (
    CascadeLayout,
    CascadeVariant,
    _AliceState,
    _BobState,
    block_sizes,
    cascade_alice,
    cascade_bob,
)
from euroqci.postprocessing.channel import memory_channel_pair
from euroqci.postprocessing.estimation import binary_entropy

SECRET = bytes(range(256)) * 4096


def _reconcile(alice_bits, bob_bits, qber, variant, frame_bits):
    ch_a, ch_b = memory_channel_pair(SECRET)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("a", cascade_alice(ch_a, alice_bits)))
    thread.start()
    bob = cascade_bob(ch_b, bob_bits, qber=qber, variant=variant, frame_bits=frame_bits)
    thread.join(timeout=60)
    return out["a"], bob


def _noisy(rng, n, qber):
    a = rng.integers(0, 2, n, dtype=np.uint8)
    return a, a ^ (rng.random(n) < qber).astype(np.uint8)


@pytest.mark.kernel
@pytest.mark.parametrize("variant", list(CascadeVariant))
def test_cascade_corrects_every_error(rng: np.random.Generator, variant: CascadeVariant) -> None:
    a, b = _noisy(rng, 20000, 0.03)
    alice, bob = _reconcile(a, b, 0.03, variant, 4096)
    assert np.array_equal(alice.frames, bob.frames)
    assert alice.disclosed_bits == bob.disclosed_bits > 0
    assert int(bob.corrected_bits.sum()) == int((a != b).sum())


def test_optimised_cascade_is_efficient(rng: np.random.Generator) -> None:
    n, q = 2**17, 0.03
    a, b = _noisy(rng, n, q)
    _, bob = _reconcile(a, b, q, CascadeVariant.OPTIMISED, n)
    f = bob.disclosed_bits / (n * binary_entropy(float((a != b).mean())))
    # Martinez-Mateo et al. (2015), Fig. 8: about 1.03-1.05 at this length; original ~1.2.
    assert 1.0 < f < 1.08


@given(st.integers(200, 3000), st.floats(0.0, 0.12), st.integers(0, 2**31))
@settings(max_examples=25, deadline=None)
def test_reconciliation_never_leaves_a_silent_mismatch(n: int, q: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _noisy(rng, n, q)
    alice, bob = _reconcile(a, b, max(q, 0.01), CascadeVariant.OPTIMISED, 1024)
    keys = rng.integers(0, (1 << 61) - 1, 2, dtype=np.uint64)
    ok = np.all(
        verification.frame_tags(alice.frames, keys) == verification.frame_tags(bob.frames, keys),
        axis=1,
    )
    equal = np.all(alice.frames == bob.frames, axis=1)
    # Each frame is either equal, or verification reports it failed.
    assert np.all(equal | ~ok)


def test_block_sizes_follow_the_papers() -> None:
    assert block_sizes(CascadeVariant.ORIGINAL, qber=0.05, frame_bits=10**5) == (15, 30, 60, 120)
    sizes = block_sizes(CascadeVariant.OPTIMISED, qber=0.05, frame_bits=2**16)
    a = math.log2(1 / 0.05) - 0.5
    assert sizes[:3] == (2 ** math.ceil(a), 2 ** math.ceil((a + 12) / 2), 4096)
    assert len(sizes) == 14 and set(sizes[3:]) == {2**15}


def _reconcile_tampered(alice_bits, bob_bits, *, victim: str, tamper):
    """Cascade with ``tamper`` applied to the frames ``victim`` sends; both outcomes returned."""
    ch_a, ch_b = memory_channel_pair(SECRET)
    (ch_a if victim == "alice" else ch_b).transport.tamper = tamper
    out: dict[str, object] = {}

    def alice() -> None:
        try:
            out["a"] = cascade_alice(ch_a, alice_bits)
        except ProtocolAbort as exc:
            out["a"] = exc

    thread = threading.Thread(target=alice)
    thread.start()
    try:
        out["b"] = cascade_bob(ch_b, bob_bits, qber=0.03, frame_bits=4096)
    except ProtocolAbort as exc:
        out["b"] = exc
    thread.join(timeout=60)
    return out["a"], out["b"]


def _nth(n: int, change):
    count = {"k": 0}

    def tamper(frame: bytes) -> bytes:
        count["k"] += 1
        return change(frame) if count["k"] == n else frame

    return tamper


def test_tampered_parity_reply_is_rejected_at_the_end_of_cascade(rng) -> None:
    a, b = _noisy(rng, 20000, 0.03)
    # Alice's 6th frame is a parity reply (untagged inside the block): flip its first parity
    # bit of the last byte (the most significant bit, never padding).
    alice, bob = _reconcile_tampered(
        a, b, victim="alice", tamper=_nth(6, lambda f: f[:-1] + bytes([f[-1] ^ 0x80]))
    )
    assert isinstance(bob, ProtocolAbort) and bob.reason == "authentication failed"
    assert not isinstance(alice, ProtocolAbort)  # Bob's own transcript was intact


def test_tampered_parity_request_is_rejected_at_the_end_of_cascade(rng) -> None:
    a, b = _noisy(rng, 20000, 0.03)
    # Bob's 6th frame is a parity request (uint32 node indices): move its last index by one.
    alice, bob = _reconcile_tampered(
        a, b, victim="bob", tamper=_nth(6, lambda f: f[:-4] + bytes([f[-4] ^ 1]) + f[-3:])
    )
    assert isinstance(alice, ProtocolAbort) and alice.reason == "authentication failed"
    assert not isinstance(bob, ProtocolAbort)


def test_cascade_costs_one_tag_per_direction(rng) -> None:
    a, b = _noisy(rng, 20000, 0.03)
    ch_a, ch_b = memory_channel_pair(SECRET)
    used = ch_a.auth.pool.consumed_bits
    thread = threading.Thread(target=lambda: cascade_alice(ch_a, a))
    thread.start()
    bob = cascade_bob(ch_b, b, qber=0.03, frame_bits=4096)
    thread.join(timeout=60)
    assert bob.rounds > 20 and ch_b.messages_sent > 20
    assert ch_a.tags_sent == ch_b.tags_sent == 1
    assert ch_a.auth.pool.consumed_bits - used == 2 * 128  # one pad sent, one checked


@pytest.mark.kernel
def test_contradictory_replies_cannot_keep_bob_busy(rng) -> None:
    # Replies drawn at random contradict each other across passes (an honest Alice never
    # does; the transcript check rejects them). Bob still ends every frame in few rounds.
    frame_bits = 512
    sizes = block_sizes(CascadeVariant.OPTIMISED, qber=0.05, frame_bits=frame_bits)
    layout = CascadeLayout.build(frame_bits=frame_bits, sizes=sizes, seed=3)
    bob = _BobState(layout, rng.integers(0, 2, (4, frame_bits), dtype=np.uint8), True)
    replies = np.zeros(0, np.uint8)
    for _ in range(5000):
        request = bob.step(replies)
        if request.size == 0:
            break
        replies = rng.integers(0, 2, request.size, dtype=np.uint8)
    else:
        pytest.fail("Bob did not finish against random replies")
    # The bound is checked after each search phase, which flips at most frame_bits more.
    assert np.all(bob.flips <= 2 * frame_bits)


def test_parity_request_outside_the_trees_is_refused(rng) -> None:
    sizes = block_sizes(CascadeVariant.OPTIMISED, qber=0.05, frame_bits=256)
    layout = CascadeLayout.build(frame_bits=256, sizes=sizes, seed=1)
    alice = _AliceState(layout, rng.integers(0, 2, (2, 256), dtype=np.uint8))
    with pytest.raises(ProtocolAbort):
        alice.answer(np.array([alice.n_nodes], dtype=np.int64))
    with pytest.raises(ProtocolAbort):
        alice.answer(np.array([-1], dtype=np.int64))
    assert alice.disclosed_bits == 0
    assert alice.answer(np.array([1, 2], dtype=np.uint32)).size == 1  # two bits, packed
    assert alice.disclosed_bits == 2


@pytest.mark.kernel
@pytest.mark.parametrize("variant", list(CascadeVariant))
def test_alice_answers_the_parity_of_the_bits_under_each_node(rng, variant) -> None:
    # Oracle: the parity of a node is the XOR of the key bits at the leaves below it.
    frame_bits = 300
    sizes = block_sizes(variant, qber=0.04, frame_bits=frame_bits)
    layout = CascadeLayout.build(frame_bits=frame_bits, sizes=sizes, seed=5)
    keys = rng.integers(0, 2, (3, frame_bits), dtype=np.uint8)
    alice = _AliceState(layout, keys)
    n_passes, size = len(sizes), layout.tree_size
    index = rng.integers(0, alice.n_nodes, 400).astype(np.int64)
    got = np.unpackbits(alice.answer(index), count=index.size)
    for x, bit in zip(index.tolist(), got.tolist(), strict=True):
        f, rest = divmod(x, n_passes * size)
        j, v = divmod(rest, size)
        leaves = int(layout.n_leaves[j])
        expected = 0
        if 1 <= v < 2 * leaves:
            lo = hi = v
            while lo < leaves:
                lo, hi = 2 * lo, 2 * hi + 1
            for leaf in range(lo, hi + 1):
                b = int(layout.bit_of[j, leaf - leaves])
                expected ^= int(keys[f, b]) if b >= 0 else 0
        assert bit == expected


@pytest.mark.parametrize(
    "change",
    [
        {"frame_bits": 2**40},
        {"batch": 0},
        {"sizes": [0]},
        {"sizes": "x"},
        {"seed": -1},
    ],
)
def test_cascade_start_out_of_range_is_refused_before_allocating(change) -> None:
    from euroqci.postprocessing.cascade import _start_parameters

    fields = {"frame_bits": 4096, "sizes": [32, 512], "seed": 0, "batch": 64}
    assert _start_parameters(fields) == (4096, (32, 512), 0, 64)
    with pytest.raises(ProtocolAbort):
        _start_parameters({**fields, **change})


def test_state_buffers_come_back_zeroed_and_are_reused() -> None:
    from euroqci.postprocessing.cascade import _ZeroedBuffers

    pool = _ZeroedBuffers(max_bytes=1 << 20)
    first = pool.take((3, 4, 16))
    assert first.shape == (3, 4, 16) and not first.any()
    first[...] = 7  # key-derived parities, as Bob leaves them
    pool.give(first)
    assert not first.any()  # zeroed on release
    second = pool.take((2, 4, 16))  # smaller: served from the kept memory
    assert np.shares_memory(second, first) and not second.any()
    pool.give(second)
    big = pool.take((1 << 21,))  # larger than kept: fresh, and too large to keep later
    pool.give(big)
    assert np.shares_memory(pool.take((3, 4, 16)), first)
