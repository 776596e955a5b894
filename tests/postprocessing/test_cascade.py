"""Cascade: keys equal after reconciliation, or the frame is reported failed; leak counted."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing import verification
from euroqci.postprocessing.cascade import (
    CascadeVariant,
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
