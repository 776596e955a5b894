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


@pytest.mark.kernel
@given(
    st.lists(st.integers(0, 2**32 - 1), max_size=23),
    st.lists(st.integers(0, 2**32 - 1), max_size=2),
    st.lists(st.integers(0, P - 1), min_size=1, max_size=2),
    st.integers(0, P - 1),
)
@settings(max_examples=150, deadline=None)
def test_wegman_carter_tag_matches_python_integers(
    bulk: list[int], tail: list[int], keys: list[int], pad: int
) -> None:
    expected = []
    for key in keys:
        h = 0
        for w in bulk + tail:
            h = (h * key + w) % P
        expected.append((h + pad) % P)
    tags = kernels.wegman_carter_tag(
        np.array(bulk, dtype=np.uint32),
        np.array(tail, dtype=np.uint64),
        np.array(keys, dtype=np.uint64),
        np.full(len(keys), pad, dtype=np.uint64),
    )
    assert [int(t) for t in tags] == expected


@pytest.mark.kernel
def test_wegman_carter_tag_extreme_words_and_keys() -> None:
    bulk = np.full(41, 2**32 - 1, dtype=np.uint32)
    for key in (P - 1, P - 2, 2**32 + 1, 1):
        h = 0
        for w in bulk.tolist():
            h = (h * key + w) % P
        tag = kernels.wegman_carter_tag(
            bulk,
            np.zeros(0, dtype=np.uint64),
            np.array([key], dtype=np.uint64),
            np.array([P - 1], dtype=np.uint64),
        )
        assert int(tag[0]) == (h + P - 1) % P


@pytest.mark.kernel
def test_splitmix_permutation_is_a_fixed_permutation() -> None:
    perm = kernels.splitmix_permutation(1000, np.uint64(42))
    assert sorted(perm.tolist()) == list(range(1000))
    assert np.array_equal(perm, kernels.splitmix_permutation(1000, np.uint64(42)))
    assert not np.array_equal(perm, kernels.splitmix_permutation(1000, np.uint64(43)))
