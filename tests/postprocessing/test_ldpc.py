"""LDPC: QC-PEG codes, kernels against slow references, a blind protocol that hides no failure."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from euroqci.postprocessing import _ldpc_kernels as kernels
from euroqci.postprocessing import ldpc
from euroqci.postprocessing._kernels import MERSENNE61
from euroqci.postprocessing.channel import memory_channel_pair
from euroqci.postprocessing.estimation import binary_entropy
from euroqci.postprocessing.verification import frame_tags

SECRET = bytes(range(256)) * 64
BUILDER = Path(__file__).resolve().parents[2] / "scripts" / "build_ldpc_codes.py"


@functools.cache
def _builder():
    spec = importlib.util.spec_from_file_location("build_ldpc_codes", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_qc(rng: np.random.Generator, n_b: int = 12, m_b: int = 4, z: int = 7, top: int = 3):
    """A small QC-PEG code: (row_ptr, cols, shifts, column degrees)."""
    degrees = np.sort(rng.choice(np.arange(2, top + 1), n_b))
    rows, cols, shifts = kernels.qc_peg(
        degrees, m_b, z, 2 * n_b, rng.random(m_b), rng.integers(0, z, degrees.sum())
    )
    order = np.lexsort((cols, rows))
    ptr = np.zeros(m_b + 1, dtype=np.int64)
    np.add.at(ptr, rows + 1, 1)
    return np.cumsum(ptr), cols[order], shifts[order], degrees


def _dense(ptr, cols, shifts, z: int) -> np.ndarray:
    """The lifted matrix from the definition: check r*Z+z covers column*Z + (z+s) % Z."""
    m_b, n_b = ptr.size - 1, int(cols.max()) + 1
    H = np.zeros((m_b * z, n_b * z), dtype=np.int64)
    for r in range(m_b):
        for e in range(ptr[r], ptr[r + 1]):
            for t in range(z):
                H[r * z + t, cols[e] * z + (t + shifts[e]) % z] = 1
    return H


def _reference_decode(H, prior, syndrome, sweeps, scale, z):
    """Layered BP from the definitions, one check at a time in order (slow, obviously right).

    The checks of one base row share no variable, so updating them one after the other is the
    same as the kernel's update of the whole row at once.
    """
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
def test_expanded_matrix_and_syndromes_follow_the_definition(rng: np.random.Generator) -> None:
    ptr, cols, shifts, _ = _small_qc(rng)
    H = _dense(ptr, cols, shifts, 7)
    cptr, cvar = kernels.qc_expand(ptr, cols, shifts, 7)
    for c in range(H.shape[0]):
        assert sorted(cvar[cptr[c] : cptr[c + 1]]) == list(np.flatnonzero(H[c]))
    words = rng.integers(0, 2, (5, H.shape[1]), dtype=np.uint8)
    assert np.array_equal(kernels.qc_syndromes(words, ptr, cols, shifts, 7), (words @ H.T) % 2)


@pytest.mark.kernel
def test_qc_peg_has_the_degrees_circulants_and_no_four_cycles(rng: np.random.Generator) -> None:
    ptr, cols, shifts, degrees = _small_qc(rng, n_b=24, m_b=8, z=13, top=4)
    H = _dense(ptr, cols, shifts, 13)
    assert np.array_equal(H.sum(axis=0), np.repeat(degrees, 13))
    # One circulant per base entry: every lifted check has the degree of its base row.
    assert np.array_equal(H.sum(axis=1), np.repeat(np.diff(ptr), 13))
    rows = np.repeat(np.arange(8), np.diff(ptr))
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == cols.size
    overlap = H.T @ H  # two variables sharing two checks close a 4-cycle
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= 1


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("rule", "scale", "atol"),
    [
        (kernels.RULE_MIN_SUM, 0.8, 1e-3),
        (kernels.RULE_SUM_PRODUCT, 0.0, 2e-3),
        # The phi table has bins 1/512 wide: messages agree to about a hundredth.
        (kernels.RULE_SUM_PRODUCT_TABLE, 0.0, 0.03),
        # tanh domain in float32 with polynomial exp/log (relative error ~1e-7 each): float32
        # rounding only (worst 7e-7 over 20 seeds, like the float32 log/tanh rule); 1e-4 leaves
        # room for other compilers' rounding and is still 300 times tighter than the table.
        (kernels.RULE_SUM_PRODUCT_FAST, 0.0, 1e-4),
    ],
)
def test_decoder_matches_the_slow_reference(
    rng: np.random.Generator, rule: int, scale: float, atol: float
) -> None:
    """Each check rule gives the totals of the dense reference after a few sweeps."""
    ptr, cols, shifts, _ = _small_qc(rng)
    H = _dense(ptr, cols, shifts, 7)
    n = H.shape[1]
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.08).astype(np.uint8)
    b[0] ^= a[0] == b[0]  # at least one error so that the decoder runs
    syndrome = (H @ a) % 2
    prior = np.where(b == 0, 2.0, -2.0).astype(np.float32)
    prior[5] = 0.0  # a punctured position
    totals = prior[None, :].copy()
    c2v = np.zeros((1, cols.size * 7), dtype=np.float32)
    kernels.qc_decode(
        totals, c2v, syndrome[None, :].astype(np.uint8), np.array([0]), ptr, cols, shifts, 7,
        3, rule, scale,
    )  # fmt: skip
    want = _reference_decode(H, prior, syndrome, 3, scale if rule == kernels.RULE_MIN_SUM else 0, 7)
    assert np.allclose(totals[0], want, rtol=1e-3, atol=atol)


@pytest.mark.kernel
@pytest.mark.parametrize(
    "rule",
    [kernels.RULE_SUM_PRODUCT_TABLE, kernels.RULE_SUM_PRODUCT_FAST, kernels.RULE_BOX_PLUS],
)
@given(seed=st.integers(0, 2**32 - 1), p=st.floats(0.0, 0.2), patience=st.sampled_from([0, 2]))
@settings(max_examples=25, deadline=None)
def test_decoder_reports_success_only_when_the_syndrome_is_met(
    rule: int, seed: int, p: float, patience: int
) -> None:
    """Never a silent failure: ``ok`` is exactly "the hard decision meets the syndrome",
    also when a stalled frame is given up early."""
    rng = np.random.default_rng(seed)
    ptr, cols, shifts, _ = _small_qc(rng)
    H = _dense(ptr, cols, shifts, 7)
    n = H.shape[1]
    a = rng.integers(0, 2, (4, n), dtype=np.uint8)
    b = a ^ (rng.random(a.shape) < p).astype(np.uint8)
    syndromes = ((a @ H.T) % 2).astype(np.uint8)
    totals = np.where(b == 0, 2.9, -2.9).astype(np.float32)
    c2v = np.zeros((4, cols.size * 7), dtype=np.float32)
    ok = kernels.qc_decode(
        totals, c2v, syndromes, np.arange(4), ptr, cols, shifts, 7, 20, rule, 0.0, patience,
    )  # fmt: skip
    hard = (totals < 0).astype(np.int64)
    met = np.all((hard @ H.T) % 2 == syndromes, axis=1)
    assert np.array_equal(ok.astype(bool), met)


@pytest.mark.kernel
@pytest.mark.parametrize("rule", [kernels.RULE_SUM_PRODUCT_FAST, kernels.RULE_BOX_PLUS])
def test_decoder_gives_up_on_a_stalled_frame(rng: np.random.Generator, rule: int) -> None:
    """A hopeless frame (30 % errors on a rate-2/3 code) stops after ``patience`` sweeps
    without a new low of unmet checks: its state is that of a plain run of some sweep count
    far below the allowed 400, and it is reported failed."""
    ptr, cols, shifts, _ = _small_qc(rng)
    H = _dense(ptr, cols, shifts, 7)
    n = H.shape[1]
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.3).astype(np.uint8)
    syndrome = ((H @ a) % 2).astype(np.uint8)[None, :]
    prior = np.where(b == 0, 0.85, -0.85).astype(np.float32)[None, :]

    def run(sweeps: int, patience: int) -> tuple[int, np.ndarray]:
        totals = prior.copy()
        c2v = np.zeros((1, cols.size * 7), dtype=np.float32)
        ok = kernels.qc_decode(
            totals, c2v, syndrome, np.array([0]), ptr, cols, shifts, 7, sweeps, rule, 0.0,
            patience,
        )  # fmt: skip
        return int(ok[0]), totals[0]

    ok, stopped = run(400, 3)
    assert ok == 0
    assert not np.array_equal((H @ (stopped < 0)) % 2, syndrome[0])
    same = [k for k in range(1, 60) if np.array_equal(run(k, 0)[1], stopped)]
    assert same, "the stalled frame did not stop within 60 sweeps"
    assert min(same) >= 4  # at least one sweep to set the low, then ``patience`` more


@pytest.mark.kernel
def test_arithmetic_exp_and_log_match_numpy() -> None:
    """The float32 polynomial ``e^-x`` and ``ln`` of the tanh-domain rule, against float64."""
    xs = np.concatenate([np.linspace(0.0, 87.0, 1500), np.geomspace(1e-7, 1.0, 300)])
    got = np.array([kernels._exp_neg(np.float32(x)) for x in xs], dtype=np.float64)
    want = np.exp(-xs.astype(np.float32).astype(np.float64))
    assert np.allclose(got, want, rtol=3e-7, atol=0.0)
    vs = np.concatenate([np.geomspace(1e-30, 1e30, 1500), np.linspace(0.5, 2.0, 300)])
    got = np.array([kernels._log(np.float32(v)) for v in vs], dtype=np.float64)
    want = np.log(vs.astype(np.float32).astype(np.float64))
    assert np.allclose(got, want, rtol=3e-7, atol=3e-7)


@pytest.mark.kernel
def test_tanh_rule_saturates_where_the_table_does(rng: np.random.Generator) -> None:
    """Confident inputs: the messages out of the checks stop at the table rule's largest
    value (phi of its first bin), not at float32's limit."""
    ptr, cols, shifts, _ = _small_qc(rng)
    n = (int(cols.max()) + 1) * 7
    syndrome = rng.integers(0, 2, (1, (ptr.size - 1) * 7), dtype=np.uint8)
    syndrome[0, 0] = 1  # unmet by the all-zero word: the decoder runs its sweep
    largest = {}
    rules = (kernels.RULE_SUM_PRODUCT_TABLE, kernels.RULE_SUM_PRODUCT_FAST, kernels.RULE_BOX_PLUS)
    for rule in rules:
        totals = np.full((1, n), 30.0, dtype=np.float32)
        c2v = np.zeros((1, cols.size * 7), dtype=np.float32)
        kernels.qc_decode(totals, c2v, syndrome, np.array([0]), ptr, cols, shifts, 7, 1, rule, 0.0)
        largest[rule] = float(np.abs(c2v).max())
    assert largest[kernels.RULE_SUM_PRODUCT_FAST] == pytest.approx(kernels.FAST_MAX_MESSAGE, 1e-5)
    assert largest[kernels.RULE_SUM_PRODUCT_TABLE] == pytest.approx(kernels.FAST_MAX_MESSAGE, 1e-5)
    assert largest[kernels.RULE_BOX_PLUS] == pytest.approx(kernels.FAST_MAX_MESSAGE, 1e-5)


@pytest.mark.kernel
def test_box_plus_stays_within_its_fit_error() -> None:
    """The piecewise-linear box-plus against the exact operator on a grid (float64)."""
    xs = np.linspace(0.0, 30.0, 3001)
    fit = np.array([kernels._log1p_exp_neg(np.float32(x)) for x in xs])
    assert np.max(np.abs(fit - np.log1p(np.exp(-xs)))) <= kernels.BOX_PLUS_FIT_ERROR
    grid = np.concatenate([-np.geomspace(1e-3, 40, 40), [0.0], np.geomspace(1e-3, 40, 40)])
    worst = 0.0
    for x in grid:
        for y in grid:
            got = kernels._box_plus(np.float32(x), np.float32(y))
            prod = math.tanh(x / 2) * math.tanh(y / 2)
            if abs(prod) < 1 - 1e-9:
                want = 2 * math.atanh(prod)
            else:  # the product rounds towards 1 in float64: the same identity, stably
                want = math.copysign(min(abs(x), abs(y)), x * y)
                want += math.log1p(math.exp(-abs(x + y))) - math.log1p(math.exp(-abs(x - y)))
            worst = max(worst, abs(got - want))
    assert worst <= 2 * kernels.BOX_PLUS_FIT_ERROR + 1e-5


def _box_plus_sweeps(rng: np.random.Generator, sweeps: int):
    """A small random QC code, a noisy word with one punctured position, and the totals after
    ``sweeps`` box-plus sweeps of the kernel."""
    ptr, cols, shifts, degrees = _small_qc(rng)
    H = _dense(ptr, cols, shifts, 7)
    n = H.shape[1]
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < 0.08).astype(np.uint8)
    b[0] ^= a[0] == b[0]
    syndrome = (H @ a) % 2
    prior = np.where(b == 0, 2.0, -2.0).astype(np.float32)
    prior[5] = 0.0
    totals = prior[None, :].copy()
    c2v = np.zeros((1, cols.size * 7), dtype=np.float32)
    kernels.qc_decode(
        totals, c2v, syndrome[None, :].astype(np.uint8), np.array([0]), ptr, cols, shifts,
        7, sweeps, kernels.RULE_BOX_PLUS, 0.0,
    )  # fmt: skip
    return ptr, degrees, H, prior, syndrome, totals[0]


@pytest.mark.kernel
def test_box_plus_rule_stays_within_its_error_bound(rng: np.random.Generator) -> None:
    """One sweep of the box-plus rule against the dense sum-product reference.

    Each message combines ``d - 1`` inputs with ``d - 2`` box-plus operations, each within
    ``2 * BOX_PLUS_FIT_ERROR`` of the exact one and with slopes at most 1, so a message errs by
    at most ``(d - 2) * 2 * BOX_PLUS_FIT_ERROR``; a total adds one message per edge of its
    column (a layered sweep feeds earlier errors forward, so the bound is doubled).
    """
    worst = 0.0
    for _ in range(10):
        ptr, degrees, H, prior, syndrome, totals = _box_plus_sweeps(rng, 1)
        want = _reference_decode(H, prior, syndrome, 1, 0, 7)
        bound = 2 * degrees.max() * (np.diff(ptr).max() - 2) * 2 * kernels.BOX_PLUS_FIT_ERROR
        worst = max(worst, float(np.max(np.abs(totals - want))) / bound)
    assert 0.0 < worst <= 1.0


def _box_plus_reference(a: float, b: float) -> float:
    """The kernel's box-plus from its definition, in float64 (same fitted correction)."""

    def c(x: float) -> float:
        return max(0.0, *(c0 + c1 * x for c0, c1 in kernels.BOX_PLUS_LINES))

    m = min(abs(a), abs(b)) * (-1.0 if (a < 0) != (b < 0) else 1.0)
    return m + c(abs(a + b)) - c(abs(a - b))


def _box_plus_reference_decode(H, prior, syndrome, sweeps):
    """Layered decoding with the box-plus rule, one check at a time (slow, obviously right).

    Each message is ``(forward sum of the inputs before the edge) [+] (backward sum of those
    after it)``, in the order of the check's variables, saturated at ``FAST_MAX_MESSAGE``; an
    empty sum is 1e30, as in the kernel.
    """
    m, n = H.shape
    cap = kernels.FAST_MAX_MESSAGE
    msg = {(c, v): 0.0 for c in range(m) for v in range(n) if H[c, v]}
    total = [float(x) for x in prior]
    for _ in range(sweeps):
        hard = np.array([1 if t < 0 else 0 for t in total])
        if np.array_equal((H @ hard) % 2, syndrome):
            break
        for c in range(m):
            vs = [v for v in range(n) if H[c, v]]
            x = [total[v] - msg[c, v] for v in vs]
            for i, v in enumerate(vs):
                fwd = 1e30
                for u in x[:i]:
                    fwd = _box_plus_reference(fwd, u)
                back = 1e30
                for u in reversed(x[i + 1 :]):
                    back = _box_plus_reference(back, u)
                o = min(max(_box_plus_reference(fwd, back), -cap), cap)
                new = -o if syndrome[c] else o
                total[v] = x[i] + new
                msg[c, v] = new
    return np.array(total)


@pytest.mark.kernel
def test_box_plus_kernel_matches_its_slow_reference(rng: np.random.Generator) -> None:
    """The in-place box-plus path (totals read and written as rotated runs, no copies) gives
    the totals of a check-by-check decoder with the same arithmetic, up to float32 rounding."""
    for _ in range(5):
        _, _, H, prior, syndrome, totals = _box_plus_sweeps(rng, 3)
        want = _box_plus_reference_decode(H, prior, syndrome, 3)
        assert np.allclose(totals, want, rtol=1e-4, atol=1e-4)


def test_protocol_uses_the_gather_free_rule() -> None:
    assert ldpc.CHECK_RULE == kernels.RULE_BOX_PLUS


@pytest.mark.kernel
def test_untainted_puncturing_leaves_one_punctured_variable_per_check(
    rng: np.random.Generator,
) -> None:
    ptr, cols, shifts, _ = _small_qc(rng, n_b=30, m_b=10, z=7)
    H = _dense(ptr, cols, shifts, 7)
    n = H.shape[1]
    cptr, cvar = kernels.qc_expand(ptr, cols, shifts, 7)
    vptr = np.concatenate([[0], np.cumsum(H.sum(axis=0))])
    vchk = np.concatenate([np.flatnonzero(H[:, v]) for v in range(n)])
    chosen = kernels.untainted_puncturing(cptr, cvar, vptr, vchk, H.sum(axis=0), n, rng.random(n))
    assert chosen.size > 0
    assert H[:, chosen].sum(axis=1).max() <= 1
    # Greedy maximality: every other variable shares a check with a chosen one.
    others = np.setdiff1d(np.arange(n), chosen)
    assert np.all((H[:, others].T @ H[:, chosen]).sum(axis=1) > 0)


def test_builder_is_reproducible_and_follows_the_distribution() -> None:
    """The build script on a small lifting: same seed, same code; degrees as designed."""
    b = _builder()
    one = b.build_code(0.8, 256, 128, np.random.default_rng([b.SEED, 80]))
    two = b.build_code(0.8, 256, 128, np.random.default_rng([b.SEED, 80]))
    assert all(np.array_equal(one[k], two[k]) for k in one)
    lam = {d - 1: p for d, p in b._DESIGNED[0.8].items()}
    m_b = round(0.2 * 256)
    want = b.variable_degrees({e: p / sum(lam.values()) for e, p in lam.items()}, 256, m_b)
    want = np.sort(np.minimum(want, b.MAX_DEGREE_BY_LIFTING[128]))
    assert np.array_equal(np.sort(np.bincount(one["cols"].astype(np.int64))), want)
    code = ldpc.code_from_arrays(0, one)
    assert code.n == 256 * 128 and code.m == m_b * 128
    assert np.unique(code.adapt).size == code.d == round(b.MOTHER_CODES[0.8] * code.n)
    # Girth at least 6 on the lifted graph (Z = 128 leaves QC-PEG room enough for that, with
    # degrees capped at MAX_DEGREE_BY_LIFTING).
    cptr, cvar = kernels.qc_expand(code.row_ptr, code.cols, code.shifts, code.z)
    H = sparse.csr_matrix((np.ones(cvar.size, dtype=np.int32), cvar, cptr), (code.m, code.n))
    overlap = (H.T @ H).tocoo()
    assert overlap.data[overlap.row != overlap.col].max() <= 1


def _four_cycles(code: ldpc.LdpcCode) -> int:
    """Lifted 4-cycles, from the base matrix: rows r1, r2 and columns c1, c2 of the base close
    one when ``s(r1,c1) - s(r2,c1) == s(r1,c2) - s(r2,c2) (mod Z)`` (Fossorier, IEEE TIT 50,
    1788 (2004), Theorem 2)."""
    rows = np.repeat(np.arange(code.row_ptr.size - 1), np.diff(code.row_ptr))
    shift = {(int(r), int(c)): int(s) for r, c, s in zip(rows, code.cols, code.shifts, strict=True)}
    by_row: dict[int, dict[int, int]] = {}
    for (r, c), s in shift.items():
        by_row.setdefault(r, {})[c] = s
    count = 0
    for r1 in by_row:
        for r2 in by_row:
            if r2 <= r1:
                continue
            common = by_row[r1].keys() & by_row[r2].keys()
            diffs = [(by_row[r1][c] - by_row[r2][c]) % code.z for c in common]
            count += len(diffs) - len(set(diffs))
    return count


def test_shipped_codes_have_girth_at_least_six() -> None:
    assert [_four_cycles(code) for code in ldpc.load_codes()] == [0] * len(ldpc.load_codes())


def _lifting_key_bits(z: int) -> int:
    """Bits of a key whose first segment takes the frames of lifting ``z``: one frame (less
    than one of the next longer frames)."""
    return max(c.k for c in ldpc.load_codes() if c.z == z)


def test_each_key_takes_the_longest_frames_it_fills() -> None:
    liftings = sorted({c.z for c in ldpc.load_codes()}, reverse=True)
    assert liftings == [4096, 1024, 128]
    assert ldpc.code_family()[0].z == 4096
    for z in liftings:
        assert ldpc.code_family(_lifting_key_bits(z))[0].z == z
    shortest_k = {z: min(c.k for c in ldpc.load_codes() if c.z == z) for z in liftings}
    assert ldpc.code_family(shortest_k[4096] - 1)[0].z == 1024
    assert ldpc.code_family(shortest_k[1024] - 1)[0].z == 128
    assert ldpc.code_family(1)[0].z == 128


@given(n=st.integers(0, 3 * 10**7), qber=st.floats(0.005, 0.11))
@settings(max_examples=60, deadline=None)
def test_segments_are_whole_frames_but_the_last(n: int, qber: float) -> None:
    """The plan covers the key exactly, longest frames first, every segment whole frames of
    its code except the last, which is on the shortest frames and shorter than a
    frame of the next longer length."""
    plan = ldpc.plan_segments(qber, n)
    assert sum(bits for _, bits in plan) == n
    lengths = [c.code.n for c, _ in plan]
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == len(lengths)
    for choice, bits in plan[:-1]:
        assert bits > 0 and bits % choice.code.k == 0
        assert choice == ldpc.choose_rate(qber, lifting=choice.code.z)
    last, rest = plan[-1]
    if last.code.z != 128:
        assert rest % last.code.k == 0
    elif len(plan) > 1:
        assert rest < min(c.code.k for c, _ in plan[:-1])


@pytest.mark.parametrize("z", [4096, 1024, 128])
def test_shipped_family_spans_the_rates(z: int) -> None:
    key_bits = _lifting_key_bits(z)
    codes = ldpc.code_family(key_bits)
    assert len(codes) >= 5
    assert len({c.z for c in codes}) == 1
    assert [c.rate for c in codes] == sorted((c.rate for c in codes), reverse=True)
    # Neighbours overlap: every rate between the lowest and the highest has a code.
    for high, low in itertools.pairwise(codes):
        assert low.effective_rate(low.d) >= high.effective_rate(0)
    for code in codes:
        assert np.unique(code.adapt).size == code.d
        assert np.unique(code.cols).size * code.z == code.n  # every variable is checked
        assert code.key_positions.size == code.k
        assert np.all((code.shifts >= 0) & (code.shifts < code.z))
    # Effective rates cover QBER 0.5 % (short frames: 1 %, see MAX_RATE in the build script)
    # to 11 % at efficiency 1.
    lowest_qber = 0.005 if z > 128 else 0.01
    assert codes[0].effective_rate(codes[0].d) >= 1 - binary_entropy(lowest_qber)
    assert codes[-1].effective_rate(0) <= 1 - binary_entropy(0.11)


@given(st.floats(0.003, 0.10))
@settings(max_examples=50, deadline=None)
def test_choose_rate_hits_the_target_rate(qber: float) -> None:
    choice = ldpc.choose_rate(qber)
    code = choice.code
    assert 0 <= choice.punctured <= code.d
    target = 1 - ldpc.start_efficiency(qber) * binary_entropy(qber)
    assert abs(code.effective_rate(choice.punctured) - target) <= 1 / code.k
    # R = (R0 - sigma) / (1 - pi - sigma), Elkouss et al. 2011.
    pi, sigma = choice.punctured / code.n, (code.d - choice.punctured) / code.n
    want = (code.rate - sigma) / (1 - pi - sigma)
    assert math.isclose(code.effective_rate(choice.punctured), want, rel_tol=1e-9)


def test_choose_rate_clamps_to_the_family() -> None:
    lowest, highest = ldpc.code_family()[-1], ldpc.code_family()[0]
    assert ldpc.choose_rate(0.2) == ldpc.RateChoice(lowest, 0, ldpc.choose_rate(0.2).step)
    assert ldpc.choose_rate(1e-5).code is highest


def _reconcile(a, b, qber, statuses=None):
    """Alice in a thread, Bob here; ``statuses`` collects what Bob sends, in order."""
    ch_a, ch_b = memory_channel_pair(SECRET * 64)
    if statuses is not None:
        send = ch_b.send

        def recording(kind, **fields):
            statuses.append((kind, fields))
            return send(kind, **fields)

        ch_b.send = recording
    out = {}
    thread = threading.Thread(
        target=lambda: out.setdefault("a", ldpc.ldpc_alice(ch_a, a, rng=np.random.default_rng(1)))
    )
    thread.start()
    bob = ldpc.ldpc_bob(ch_b, b, qber=qber)
    thread.join(timeout=60)
    return out["a"], bob


def test_short_keys_take_the_short_frames() -> None:
    long, short = ldpc.choose_rate(0.02), ldpc.choose_rate(0.02, key_bits=10**5)
    assert short.code.n < long.code.n
    enough = long.code.k
    assert ldpc.choose_rate(0.02, key_bits=enough).code is long.code
    # Each family starts at its own efficiency: shorter frames further from capacity.
    for z in (4096, 1024, 128):
        choice = ldpc.choose_rate(0.02, key_bits=_lifting_key_bits(z))
        want = 1 - ldpc.start_efficiency(0.02, lifting=z) * binary_entropy(0.02)
        assert choice.code.z == z
        assert abs(choice.code.effective_rate(choice.punctured) - want) <= 1 / choice.code.k
    assert ldpc.start_efficiency(0.02, lifting=128) > ldpc.start_efficiency(0.02, lifting=1024)


def _middle_code(qber: float) -> ldpc.LdpcCode:
    """The code chosen for ``qber`` among the 262144-bit frames (Z = 1024)."""
    return ldpc.choose_rate(qber, key_bits=_lifting_key_bits(1024)).code


@pytest.mark.parametrize(
    "rule",
    [kernels.RULE_BOX_PLUS, kernels.RULE_SUM_PRODUCT_FAST, kernels.RULE_SUM_PRODUCT_TABLE],
)
def test_ldpc_reconciles_or_reports(monkeypatch, rng: np.random.Generator, rule: int) -> None:
    monkeypatch.setattr(ldpc, "CHECK_RULE", rule)
    q = 0.03
    code = _middle_code(q)
    n = 3 * code.k + 1000  # the last frame is padded
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    alice, bob = _reconcile(a, b, q)
    assert alice.disclosed_bits == bob.disclosed_bits
    assert alice.frames.shape == bob.frames.shape == (4, code.k)
    assert np.array_equal(alice.frames.reshape(-1)[:n], a)
    equal = np.all(alice.frames == bob.frames, axis=1)
    assert equal.sum() >= 3
    # The last 1000 bits go on one short frame (plan_segments), not on a padded long one:
    # the leak stays below four long syndromes.
    plan = ldpc.plan_segments(q, n)
    assert [(c.code.z, bits) for c, bits in plan] == [(1024, 3 * code.k), (128, 1000)]
    assert bob.disclosed_bits < 4 * code.m
    f = bob.disclosed_bits / (n * binary_entropy(float(np.mean(a != b))))
    assert 1.0 < f < 1.3


@pytest.fixture(scope="module")
def small_family() -> tuple[ldpc.LdpcCode, ...]:
    """Three small codes (16384 bits) from the build script, highest rate first.

    With Z = 8 instead of 64 the rate-0.6 code has 4-cycles, hence codewords of weight 2 to 3,
    and a frame far above its capacity can converge to the wrong member of its coset: a
    mismatch that only verification catches. At Z = 64 QC-PEG avoids them.
    """
    b = _builder()
    return tuple(
        ldpc.code_from_arrays(i, b.build_code(r, 256, 64, np.random.default_rng([b.SEED, i])))
        for i, r in enumerate((0.8, 0.69, 0.6))
    )


def _final_failures(statuses: list, n_frames: int) -> np.ndarray:
    """Frames Bob last reported failed, replaying the blind exchange from his messages."""
    start = next(f for k, f in statuses if k == "ldpc-start")
    punctured = np.full(n_frames, start["punctured"])
    failed = np.zeros(n_frames, dtype=bool)
    todo = np.arange(n_frames)
    for kind, fields in statuses:
        if kind != "ldpc-status":
            continue
        now = np.unpackbits(fields["failed"], count=n_frames).astype(bool)
        failed[todo] = now[todo]
        todo = np.flatnonzero(now & (punctured > 0))
        punctured[todo] -= np.minimum(start["step"], punctured[todo])
    return failed


@given(seed=st.integers(0, 2**32 - 1), qber=st.floats(0.01, 0.12), scale=st.floats(0.6, 1.6))
@settings(max_examples=15, deadline=None)
def test_keys_are_equal_or_the_frame_is_reported_failed(small_family, seed, qber, scale) -> None:
    """Whatever the true error rate against the estimate: never a silent mismatch.

    A frame either comes out equal, or Bob reported it failed, or (the decoder met Alice's
    syndrome with another word of the coset: a low-weight codeword apart, which Bob cannot
    see) its verification tags differ and the pipeline drops it.
    """
    rng = np.random.default_rng(seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ldpc, "load_codes", lambda: small_family)
        n = 3 * small_family[0].k
        a = rng.integers(0, 2, n, dtype=np.uint8)
        b = a ^ (rng.random(n) < min(0.3, qber * scale)).astype(np.uint8)
        statuses: list = []
        alice, bob = _reconcile(a, b, qber, statuses)
    assert alice.disclosed_bits == bob.disclosed_bits
    differ = np.any(alice.frames != bob.frames, axis=1)
    reported = _final_failures(statuses, alice.frames.shape[0])
    keys = rng.integers(0, MERSENNE61, 2, dtype=np.uint64)
    caught = np.any(frame_tags(alice.frames, keys) != frame_tags(bob.frames, keys), axis=1)
    assert not np.any(differ & ~reported & ~caught)


def test_blind_reveals_rescue_an_optimistic_start(monkeypatch, rng) -> None:
    """Started too near capacity, the frames decode only after punctured bits are revealed."""
    q = 0.02
    monkeypatch.setattr(ldpc, "START_BY_QBER", {1024: ((0.02, 1.05),)})
    n = _middle_code(q).k
    monkeypatch.setattr(ldpc, "STEP_EFFICIENCY", 0.05)
    choice = ldpc.choose_rate(q, key_bits=n)
    assert choice.code.z == 1024
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    alice, bob = _reconcile(a, b, q)
    assert bob.rounds > 1
    assert alice.disclosed_bits == bob.disclosed_bits
    assert bob.disclosed_bits > choice.code.m - choice.punctured
    assert np.array_equal(alice.frames, bob.frames)


def test_failed_frames_are_left_for_verification(monkeypatch, rng) -> None:
    """Far too many errors: nothing decodes, every frame differs and nothing is hidden."""
    monkeypatch.setattr(ldpc, "FIRST_ITERATIONS", 3)
    monkeypatch.setattr(ldpc, "RESUME_ITERATIONS", 1)
    code = _middle_code(0.01)
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


def test_distill_cli_with_ldpc_gives_equal_keys(tmp_path: Path) -> None:
    """``euroqci distill SPEC --method ldpc``: a short key, so the 32768-bit frames."""
    from typer.testing import CliRunner

    from euroqci.cli.main import app

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "distill-link.json"
    args = ["distill", str(example), "--pulses", "1e7", "--method", "ldpc", "--json"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["keys_equal"] is True and out["verification_passed"] is True
    assert out["secret_bits"] > 0
    # 3.3e5 sifted bits fill about 11 short frames; two long ones would leak f = 1.6.
    assert 1.0 < out["reconciliation_efficiency"] < 1.4
    assert (tmp_path / "alice.key").read_bytes() == (tmp_path / "bob.key").read_bytes()
