"""Modified Toeplitz privacy amplification: FFT path equals the explicit GF(2) product."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing.amplification import seed_bits, toeplitz_hash, toeplitz_hash_direct
from euroqci.postprocessing.bits import BitString


def _random(rng: np.random.Generator, n: int) -> BitString:
    return BitString.from_bits(rng.integers(0, 2, n, dtype=np.uint8))


def test_fft_hash_equals_direct_matrix_product(rng: np.random.Generator) -> None:
    n, m = 5000, 2100
    key, seed = _random(rng, n), _random(rng, n - 1)
    fast = toeplitz_hash(key, seed, output_bits=m)
    slow = toeplitz_hash_direct(key, seed, output_bits=m)
    assert fast.equals(slow)


def test_direct_product_is_the_textbook_modified_toeplitz_matrix(
    rng: np.random.Generator,
) -> None:
    n, m = 40, 17
    key, seed = _random(rng, n), _random(rng, n - 1)
    s = seed.unpack()
    # [I_m | T] with T[i, j] = s[i - j + n - m - 1] (Hayashi and Tsurumaru 2016).
    toeplitz = [[s[i - j + n - m - 1] for j in range(n - m)] for i in range(m)]
    matrix = np.array([[int(i == j) for j in range(m)] + toeplitz[i] for i in range(m)])
    expected = (matrix @ key.unpack()) % 2
    assert toeplitz_hash_direct(key, seed, output_bits=m).unpack().tolist() == expected.tolist()


@given(st.integers(1, 300), st.floats(0, 1), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_output_length_never_exceeds_input(n: int, frac: float, seed_int: int) -> None:
    rng = np.random.default_rng(seed_int)
    m = int(frac * n)
    key, seed = _random(rng, n), _random(rng, seed_bits(n, m))
    out = toeplitz_hash(key, seed, output_bits=m)
    assert out.n_bits == m <= n
    assert out.equals(toeplitz_hash_direct(key, seed, output_bits=m)) or m == 0


def test_rejects_output_longer_than_input(rng: np.random.Generator) -> None:
    key = _random(rng, 10)
    with pytest.raises(ValueError, match="output_bits"):
        toeplitz_hash(key, _random(rng, 9), output_bits=11)
    with pytest.raises(ValueError, match="seed"):
        toeplitz_hash(key, _random(rng, 3), output_bits=5)
    with pytest.raises(ValueError, match="seed"):
        toeplitz_hash(key, _random(rng, 14), output_bits=5)


def test_bitstring_hides_content_and_compares_in_constant_time() -> None:
    a = BitString.from_bits([1, 0, 1, 1, 0, 0, 1, 0, 1])
    assert repr(a) == "BitString(n_bits=9)"
    assert a.equals(BitString.from_bits([1, 0, 1, 1, 0, 0, 1, 0, 1]))
    assert not a.equals(BitString.from_bits([1, 0, 1, 1, 0, 0, 1, 0, 0]))


@pytest.mark.kernel
@pytest.mark.parametrize("n_bits", [0, 1, 7, 8, 13, 64, 1001])
def test_unpack_kernel_equals_numpy(rng: np.random.Generator, n_bits: int) -> None:
    from euroqci.postprocessing._amplification_kernels import unpack_to_float

    bits = _random(rng, n_bits + 5)
    out = np.full(n_bits + 9, 7.0)
    unpack_to_float(bits.data, 5, n_bits, out)
    expected = np.zeros(n_bits + 9)
    expected[:n_bits] = bits.unpack()[5:]
    assert np.array_equal(out, expected)


@pytest.mark.kernel
def test_round_parity_kernel_equals_numpy(rng: np.random.Generator) -> None:
    from euroqci.postprocessing._amplification_kernels import round_parity_pack

    values = rng.integers(0, 1000, 203).astype(np.float64) * 4.0 + rng.uniform(-0.3, 0.3, 203)
    other = _random(rng, 200)
    packed, worst = round_parity_pack(values, 5, 190, 0.25, other.data)
    scaled = values[5:195] * 0.25
    rounded = np.rint(scaled)
    parity = (rounded.astype(np.int64) & 1).astype(np.uint8) ^ other.unpack()[:190]
    assert np.array_equal(packed, np.packbits(parity))
    assert worst == pytest.approx(float(np.max(np.abs(scaled - rounded))))


@pytest.mark.parametrize("workers", [1, 2])
def test_workspace_reuse_and_thread_modes_agree(rng: np.random.Generator, workers: int) -> None:
    # The same sizes twice (the cached workspace is reused), then a different size.
    for n, m in [(3000, 1200), (3000, 1200), (2500, 900)]:
        key, seed = _random(rng, n), _random(rng, n - 1)
        fast = toeplitz_hash(key, seed, output_bits=m, workers=workers)
        assert fast.equals(toeplitz_hash_direct(key, seed, output_bits=m))


def test_fast_size_is_the_smallest_even_7_smooth_size() -> None:
    from euroqci.postprocessing.amplification import _fast_size

    def smooth(k: int) -> bool:
        for p in (2, 3, 5, 7):
            while k % p == 0:
                k //= p
        return k == 1

    for n in [2, 3, 11, 97, 1000, 1499, 65537]:
        expected = next(k for k in range(n, 4 * n + 4) if k % 2 == 0 and smooth(k))
        assert _fast_size(n) == expected


@pytest.mark.parametrize(("n", "m"), [(6, 2), (7, 3), (8, 3), (5, 4)])
def test_family_is_universal2_by_exhaustion(n: int, m: int) -> None:
    # For every pair of distinct keys, the fraction of seeds under which they collide is at
    # most 2^-m: the property the leftover hash lemma needs, checked over all seeds.
    keys = [BitString.from_bits([(k >> (n - 1 - b)) & 1 for b in range(n)]) for k in range(2**n)]
    n_seeds = 2 ** seed_bits(n, m)
    collisions = np.zeros((2**n, 2**n), dtype=np.int64)
    for seed_int in range(n_seeds):
        width = seed_bits(n, m)
        seed = BitString.from_bits([(seed_int >> (width - 1 - b)) & 1 for b in range(width)])
        out = np.array(
            [
                int("".join(map(str, toeplitz_hash(k, seed, output_bits=m).unpack())), 2)
                for k in keys
            ]
        )
        collisions += out[:, None] == out[None, :]
    np.fill_diagonal(collisions, 0)
    assert collisions.max() <= n_seeds // 2**m


@pytest.mark.parametrize("n_bits", [0, 1, 8, 13, 1000])
def test_random_bitstring_length_tail_and_balance(n_bits: int) -> None:
    a = BitString.random(n_bits, np.random.default_rng(5))
    assert a.n_bits == n_bits and a.data.size == (n_bits + 7) // 8
    assert a.equals(BitString.random(n_bits, np.random.default_rng(5)))
    if n_bits % 8:
        assert int(a.data[-1]) & ((1 << (8 - n_bits % 8)) - 1) == 0
    if n_bits >= 1000:
        assert 400 < int(a.unpack().sum()) < 600


def test_kept_workspaces_hold_no_key_after_a_hash(rng: np.random.Generator) -> None:
    from euroqci.postprocessing import amplification

    n, m = 5000, 2000
    key = BitString.from_bits(rng.integers(0, 2, n, dtype=np.uint8))
    seed = BitString.from_bits(rng.integers(0, 2, seed_bits(n, m), dtype=np.uint8))
    toeplitz_hash(key, seed, output_bits=m)
    assert amplification._cache  # the workspace is kept for the next block...
    for space in amplification._cache:
        assert not space.key_spectrum.any()  # ...without the key in it
