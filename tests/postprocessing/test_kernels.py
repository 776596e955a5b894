"""Oracle tests of the hashing and permutation kernels against Python integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing import _kernels as kernels

P = (1 << 61) - 1


@pytest.mark.kernel
@given(st.integers(0, P - 1), st.integers(0, P - 1))
@settings(max_examples=200, deadline=None)
def test_mulmod61_matches_python_integers(a: int, b: int) -> None:
    assert int(kernels.mulmod61(np.uint64(a), np.uint64(b))) == a * b % P


@pytest.mark.kernel
def test_poly_hash_matches_horner_in_python(rng: np.random.Generator) -> None:
    words = rng.integers(0, 2**32, 50, dtype=np.uint64)
    key = int(rng.integers(0, P))
    h = 0
    for w in words.tolist():
        h = (h * key + w) % P
    assert int(kernels.poly_hash61(words, np.uint64(key))) == h


def _horner(state: int, words: list[int], key: int) -> int:
    for w in words:
        state = (state * key + w) % P
    return state


@pytest.mark.kernel
@given(
    st.lists(st.integers(0, 2**32 - 1), max_size=23),
    st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    st.lists(st.integers(0, P - 1), min_size=1, max_size=2),
    st.integers(0, P - 1),
    st.integers(0, 2**40),
)
@settings(max_examples=150, deadline=None)
def test_poly_absorb_matches_python_integers(
    bulk: list[int], last: int | None, keys: list[int], start: int, n_bytes: int
) -> None:
    # The four-words-per-step Horner kernel against the textbook one-word recurrence.
    words = bulk + ([] if last is None else [last]) + [n_bytes]
    state = np.full(len(keys), start, dtype=np.uint64)
    kernels.poly_absorb61(
        state,
        np.array(bulk, dtype=np.uint32),
        np.uint64(last or 0),
        last is not None,
        np.uint64(n_bytes),
        np.array(keys, dtype=np.uint64),
    )
    assert [int(h) for h in state] == [_horner(start, words, k) for k in keys]


@pytest.mark.kernel
def test_poly_absorb_extreme_words_and_keys() -> None:
    bulk = np.full(41, 2**32 - 1, dtype=np.uint32)
    for key in (P - 1, P - 2, 2**32 + 1, 1):
        state = np.array([P - 1], dtype=np.uint64)
        kernels.poly_absorb61(
            state, bulk, np.uint64(0), False, np.uint64(164), np.array([key], dtype=np.uint64)
        )
        assert int(state[0]) == _horner(P - 1, [*bulk.tolist(), 164], key)


@pytest.mark.kernel
def test_splitmix_permutation_is_a_fixed_permutation() -> None:
    perm = kernels.splitmix_permutation(1000, np.uint64(42))
    assert sorted(perm.tolist()) == list(range(1000))
    assert np.array_equal(perm, kernels.splitmix_permutation(1000, np.uint64(42)))
    assert not np.array_equal(perm, kernels.splitmix_permutation(1000, np.uint64(43)))


@pytest.mark.kernel
def test_splitmix_permutation_matches_a_python_fisher_yates() -> None:
    # Oracle: splitmix64 (Steele, Lea, Flood 2014) and the multiply-shift index in Python ints.
    m64 = (1 << 64) - 1
    state, n = 2026, 300
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & m64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        z ^= z >> 31
        j = ((z >> 32) * (i + 1)) >> 32
        perm[i], perm[j] = perm[j], perm[i]
    assert kernels.splitmix_permutation(n, np.uint64(2026)).tolist() == perm
