"""LDPC: shipped PEG codes, syndrome oracle, decoding that never hides a failure."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from euroqci.postprocessing import _kernels as kernels
from euroqci.postprocessing.channel import memory_channel_pair
from euroqci.postprocessing.ldpc import choose_code, ldpc_alice, ldpc_bob, load_codes

SECRET = bytes(range(256)) * 64


def test_shipped_family_spans_rates_and_is_sorted() -> None:
    codes = load_codes()
    assert len(codes) >= 8
    assert [c.m for c in codes] == sorted(c.m for c in codes)
    assert all(c.n == codes[0].n for c in codes)
    # Each check lists distinct variables; every variable is covered.
    code = codes[len(codes) // 2]
    assert np.unique(code.chk_var).size == code.n


def test_choose_code_covers_the_qber() -> None:
    for q in (0.01, 0.03, 0.05):
        assert choose_code(q).qber_max >= q
    assert choose_code(0.02).m <= choose_code(0.05).m


@pytest.mark.kernel
def test_syndrome_kernel_matches_dense_matrix_product(rng: np.random.Generator) -> None:
    ptr = np.array([0, 3, 5, 8], dtype=np.int64)
    var = np.array([0, 2, 4, 1, 3, 0, 1, 5], dtype=np.int64)
    H = np.zeros((3, 6), dtype=np.int64)
    for c in range(3):
        H[c, var[ptr[c] : ptr[c + 1]]] = 1
    frames = rng.integers(0, 2, (4, 6), dtype=np.uint8)
    assert np.array_equal(kernels.ldpc_syndromes(frames, ptr, var), (frames @ H.T) % 2)


def test_ldpc_reconciles_or_reports(rng: np.random.Generator) -> None:
    q = 0.02
    n = 3 * load_codes()[0].n
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    ch_a, ch_b = memory_channel_pair(SECRET)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("a", ldpc_alice(ch_a, a)))
    thread.start()
    bob = ldpc_bob(ch_b, b, qber=q)
    thread.join(timeout=60)
    alice = out["a"]
    code = choose_code(q)
    assert alice.disclosed_bits == bob.disclosed_bits == 3 * code.m
    syn_a = kernels.ldpc_syndromes(alice.frames, code.chk_ptr, code.chk_var)
    syn_b = kernels.ldpc_syndromes(bob.frames, code.chk_ptr, code.chk_var)
    equal = np.all(alice.frames == bob.frames, axis=1)
    # A frame that decoded meets Alice's syndrome; most frames decode at this QBER.
    assert np.all(~equal | np.all(syn_a == syn_b, axis=1))
    assert equal.sum() >= 2
