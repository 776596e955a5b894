"""LDPC: shipped codes, kernels against slow references, a blind protocol that hides no failure."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing import _ldpc_kernels as kernels
from euroqci.postprocessing import ldpc
from euroqci.postprocessing.channel import memory_channel_pair
from euroqci.postprocessing.estimation import binary_entropy

SECRET = bytes(range(256)) * 64


def _small_code(rng: np.random.Generator, n: int = 60, m: int = 20, top: int = 4):
    """A small PEG code (variable degrees 2 to ``top``) in CSR form."""
    degrees = np.sort(rng.choice(np.arange(2, top + 1), n))
    var_adj = kernels.peg_construct(degrees, m, 20, rng.random(m))
    ptr = np.zeros(m + 1, dtype=np.int64)
    rows, cols = np.nonzero(var_adj >= 0)
    checks = var_adj[rows, cols]
    order = np.lexsort((rows, checks))
    np.add.at(ptr, checks + 1, 1)
    return degrees, np.cumsum(ptr), rows[order].astype(np.int64)


def _dense(ptr: np.ndarray, var: np.ndarray, n: int) -> np.ndarray:
    H = np.zeros((ptr.size - 1, n), dtype=np.int64)
    for c in range(ptr.size - 1):
        H[c, var[ptr[c] : ptr[c + 1]]] = 1
    return H


def _reference_decode(H, prior, syndrome, sweeps, scale):
    """Layered BP written from the definitions with dense loops (slow, obviously right)."""
    m, n = H.shape
    msg = {(c, v): 0.0 for c in range(m) for v in range(n) if H[c, v]}
    total = [float(x) for x in prior]
    for _ in range(sweeps):
        hard = np.array([1 if t < 0 else 0 for t in total])
        if np.array_equal((H @ hard) % 2, syndrome):
            break  # the stopping rule: the syndrome is met
        for c in range(m):
            vs = [v for v in range(n) if H[c, v]]
            inputs = {v: total[v] - msg[c, v] for v in vs}
            for v in vs:
                others = [inputs[u] for u in vs if u != v]
                sign = -1.0 if syndrome[c] else 1.0
                if scale > 0:
                    for x in others:
                        sign = -sign if x < 0 else sign
                    new = sign * scale * min(abs(x) for x in others)
                else:
                    prod = sign * math.prod(math.tanh(x / 2) for x in others)
                    new = 2 * math.atanh(prod)
                total[v] = inputs[v] + new
                msg[c, v] = new
    return np.array(total)


@pytest.mark.kernel
def test_syndrome_kernel_matches_dense_matrix_product(rng: np.random.Generator) -> None:
    _, ptr, var = _small_code(rng)
    frames = rng.integers(0, 2, (5, 60), dtype=np.uint8)
    assert np.array_equal(
        kernels.ldpc_syndromes(frames, ptr, var), (frames @ _dense(ptr, var, 60).T) % 2
    )


@pytest.mark.kernel
def test_peg_code_has_the_degrees_and_no_four_cycles(rng: np.random.Generator) -> None:
    degrees, ptr, var = _small_code(rng, n=400, m=200, top=3)
    H = _dense(ptr, var, 400)
    assert np.array_equal(H.sum(axis=0), degrees)
    overlap = H.T @ H  # two variables sharing two checks close a 4-cycle
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= 1


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("rule", "scale", "atol"),
    [
        (kernels.RULE_MIN_SUM, 0.8, 1e-3),
        (kernels.RULE_SUM_PRODUCT, 0.0, 1e-3),
        # The phi table has bins 1/128 wide: messages agree to a few hundredths.
        (kernels.RULE_SUM_PRODUCT_TABLE, 0.0, 0.05),
    ],
)
def test_decoder_matches_the_slow_reference(
    rng: np.random.Generator, rule: int, scale: float, atol: float
) -> None:
    """Each check rule gives the messages of the dense reference after a few sweeps."""
    _, ptr, var = _small_code(rng)
    H = _dense(ptr, var, 60)
    a = rng.integers(0, 2, 60, dtype=np.uint8)
    b = a ^ (rng.random(60) < 0.08).astype(np.uint8)
    b[0] ^= a[0] == b[0]  # at least one error so that the decoder runs
    syndrome = (H @ a) % 2
    prior = np.where(b == 0, 2.0, -2.0).astype(np.float32)
    prior[5] = 0.0  # a punctured position
    totals = prior[None, :].copy()
    c2v = np.zeros((1, var.size), dtype=np.float32)
    kernels.ldpc_decode(
        totals, c2v, syndrome[None, :].astype(np.uint8), np.array([0]), ptr,
        var.astype(np.int32), 3, rule, scale,
    )  # fmt: skip
    want = _reference_decode(H, prior, syndrome, 3, scale if rule == kernels.RULE_MIN_SUM else 0)
    assert np.allclose(totals[0], want, rtol=1e-3, atol=atol)


@pytest.mark.kernel
def test_decoder_reports_success_only_when_the_syndrome_is_met(rng: np.random.Generator) -> None:
    _, ptr, var = _small_code(rng)
    H = _dense(ptr, var, 60)
    a = rng.integers(0, 2, (8, 60), dtype=np.uint8)
    b = a ^ (rng.random(a.shape) < 0.05).astype(np.uint8)
    syndromes = ((a @ H.T) % 2).astype(np.uint8)
    totals = np.where(b == 0, 2.9, -2.9).astype(np.float32)
    c2v = np.zeros((8, var.size), dtype=np.float32)
    ok = kernels.ldpc_decode(
        totals, c2v, syndromes, np.arange(8), ptr, var.astype(np.int32), 30,
        kernels.RULE_SUM_PRODUCT_TABLE, 0.0,
    )  # fmt: skip
    hard = (totals < 0).astype(np.int64)
    met = np.all((hard @ H.T) % 2 == syndromes, axis=1)
    assert np.array_equal(ok.astype(bool), met)


@pytest.mark.kernel
def test_untainted_puncturing_leaves_one_punctured_variable_per_check(
    rng: np.random.Generator,
) -> None:
    degrees, ptr, var = _small_code(rng, n=200, m=60)
    H = _dense(ptr, var, 200)
    vptr = np.concatenate([[0], np.cumsum(H.sum(axis=0))])
    vchk = np.concatenate([np.flatnonzero(H[:, v]) for v in range(200)])
    chosen = kernels.untainted_puncturing(ptr, var, vptr, vchk, degrees, 200, rng.random(200))
    assert chosen.size > 0
    assert H[:, chosen].sum(axis=1).max() <= 1
    # Greedy maximality: every other variable shares a check with a chosen one.
    others = np.setdiff1d(np.arange(200), chosen)
    assert np.all((H[:, others].T @ H[:, chosen]).sum(axis=1) > 0)


def test_shipped_family_spans_the_rates() -> None:
    codes = ldpc.load_codes()
    assert len(codes) >= 5
    assert [c.rate for c in codes] == sorted((c.rate for c in codes), reverse=True)
    assert all(abs(c.d - 0.1 * c.n) <= 1 for c in codes)
    for code in codes:
        assert np.unique(code.adapt).size == code.d
        assert np.unique(code.chk_var).size == code.n  # every variable is checked
        assert code.key_positions.size == code.k
    # Effective rates cover QBER 0.5 % to 11 % at efficiency 1.
    assert codes[0].effective_rate(codes[0].d) >= 1 - binary_entropy(0.005)
    assert codes[-1].effective_rate(0) <= 1 - binary_entropy(0.11)


@given(st.floats(0.003, 0.10))
@settings(max_examples=50, deadline=None)
def test_choose_rate_hits_the_target_rate(qber: float) -> None:
    choice = ldpc.choose_rate(qber)
    code = choice.code
    assert 0 <= choice.punctured <= code.d
    target = 1 - ldpc.START_EFFICIENCY * binary_entropy(qber)
    assert abs(code.effective_rate(choice.punctured) - target) <= 1 / code.k
    # R = (R0 - sigma) / (1 - pi - sigma), Elkouss et al. 2011.
    pi, sigma = choice.punctured / code.n, (code.d - choice.punctured) / code.n
    want = (code.rate - sigma) / (1 - pi - sigma)
    assert math.isclose(code.effective_rate(choice.punctured), want, rel_tol=1e-9)


def test_choose_rate_clamps_to_the_family() -> None:
    lowest, highest = ldpc.load_codes()[-1], ldpc.load_codes()[0]
    assert ldpc.choose_rate(0.2) == ldpc.RateChoice(lowest, 0, ldpc.choose_rate(0.2).step)
    assert ldpc.choose_rate(1e-5).code is highest


def _reconcile(a, b, qber):
    ch_a, ch_b = memory_channel_pair(SECRET * 64)
    out = {}
    thread = threading.Thread(
        target=lambda: out.setdefault("a", ldpc.ldpc_alice(ch_a, a, rng=np.random.default_rng(1)))
    )
    thread.start()
    bob = ldpc.ldpc_bob(ch_b, b, qber=qber)
    thread.join(timeout=60)
    return out["a"], bob


def test_ldpc_reconciles_or_reports(rng: np.random.Generator) -> None:
    q = 0.03
    code = ldpc.choose_rate(q).code
    n = 3 * code.k + 1000  # the last frame is padded
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    alice, bob = _reconcile(a, b, q)
    assert alice.disclosed_bits == bob.disclosed_bits
    assert alice.frames.shape == bob.frames.shape == (4, code.k)
    assert np.array_equal(alice.frames.reshape(-1)[:n], a)
    equal = np.all(alice.frames == bob.frames, axis=1)
    assert equal.sum() >= 3
    # Leak at most all syndrome bits plus one report per round trip and frame.
    assert bob.disclosed_bits <= 4 * (code.m + bob.rounds)
    # Efficiency over the 4 frames (the padded one leaks as much as a full one).
    f = bob.disclosed_bits / (4 * code.k * binary_entropy(float(np.mean(a != b))))
    assert 1.0 < f < 1.4


def test_blind_reveals_rescue_an_optimistic_start(monkeypatch, rng) -> None:
    """Started far above capacity, the frames decode only after punctured bits are revealed."""
    monkeypatch.setattr(ldpc, "START_EFFICIENCY", 0.7)
    monkeypatch.setattr(ldpc, "STEP_EFFICIENCY", 0.1)
    q = 0.02
    choice = ldpc.choose_rate(q)
    n = 2 * choice.code.k
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    alice, bob = _reconcile(a, b, q)
    assert bob.rounds > 1
    assert alice.disclosed_bits == bob.disclosed_bits
    assert bob.disclosed_bits > 2 * (choice.code.m - choice.punctured)
    assert np.array_equal(alice.frames, bob.frames)


def test_failed_frames_are_left_for_verification(monkeypatch, rng) -> None:
    """Far too many errors: nothing decodes, every frame differs and nothing is hidden."""
    monkeypatch.setattr(ldpc, "FIRST_ITERATIONS", 5)
    monkeypatch.setattr(ldpc, "RESUME_ITERATIONS", 2)
    code = ldpc.choose_rate(0.01).code
    n = code.k
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.2).astype(np.uint8)
    alice, bob = _reconcile(a, b, 0.01)
    assert not np.array_equal(alice.frames, bob.frames)
    assert bob.disclosed_bits == alice.disclosed_bits >= code.m


def test_bob_refuses_a_qber_outside_zero_to_one_half(rng) -> None:
    _, ch_b = memory_channel_pair(SECRET)
    with pytest.raises(ValueError, match="qber"):
        ldpc.ldpc_bob(ch_b, rng.integers(0, 2, 100, dtype=np.uint8), qber=0.0)
