"""Sifting messages: Bob's click announcement as gaps, and Alice's checks on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing import _sifting_kernels as kernels
from euroqci.postprocessing.sifting import click_gaps, sift


def _read_leb128(stream: list[int]) -> list[int]:
    # Slow, obviously right: seven bits per byte, low first, high bit = more bytes follow.
    out, value, shift = [], 0, 0
    for byte in stream:
        value |= (byte & 127) << shift
        shift += 7
        if byte < 128:
            out.append(value)
            value, shift = 0, 0
    assert shift == 0, "the stream ends inside a number"
    return out


@pytest.mark.kernel
@given(st.lists(st.integers(0, 2**40), max_size=60, unique=True))
@settings(max_examples=100, deadline=None)
def test_gaps_round_trip(positions: list[int]) -> None:
    clicks = np.array(sorted(positions), dtype=np.int64)
    stream = click_gaps(clicks)
    assert stream.dtype == np.uint8
    # Alice reads them back with AliceRecord.at_gaps (tested in tests/devices).
    assert np.cumsum(_read_leb128(stream.tolist()), dtype=np.int64).tolist() == clicks.tolist()


def test_gaps_take_one_byte_per_seven_bits() -> None:
    assert click_gaps(np.array([5, 132], np.int64)).size == 1 + 1  # gaps 5, 127
    assert click_gaps(np.array([5, 133], np.int64)).size == 1 + 2  # gaps 5, 128
    assert click_gaps(np.array([16383], np.int64)).size == 2
    assert click_gaps(np.array([16384], np.int64)).size == 3
    assert click_gaps(np.array([2**40], np.int64)).size == 6


def test_decreasing_clicks_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        click_gaps(np.array([5, 3], np.int64))


@pytest.mark.kernel
@given(st.integers(0, 400), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_sift_matches_boolean_masks(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = rng.integers(0, 2, n, dtype=np.uint8)
    idx = rng.integers(0, 3, n, dtype=np.uint8)
    s = sift(a, b, idx)
    key = np.flatnonzero((a == b) & (b == 1))
    test = np.flatnonzero((a == b) & (b == 0))
    assert s.key.tolist() == key.tolist() and s.test.tolist() == test.tolist()
    assert s.key_intensity.tolist() == idx[key].tolist()
    assert s.test_intensity.tolist() == idx[test].tolist()
    n_x, n_z = s.counts(3)
    assert n_x.tolist() == np.bincount(idx[key], minlength=3).tolist()
    assert n_z.tolist() == np.bincount(idx[test], minlength=3).tolist()


@pytest.mark.kernel
@given(st.integers(1, 300), st.integers(1, 64), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_kept_counts_match_index_arithmetic(n: int, frame_bits: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_frames = -(-n // frame_bits)
    ok = rng.random(n_frames) < 0.7
    intensity = rng.integers(0, 3, n, dtype=np.uint8)
    raw = rng.integers(0, 2, n, dtype=np.uint8)
    corrected = np.zeros(n_frames * frame_bits, np.uint8)
    corrected[:n] = raw ^ (rng.random(n) < 0.2)
    kept = np.arange(n)[ok[np.arange(n) // frame_bits]]
    expected = np.bincount(intensity[kept], minlength=3)
    assert kernels.count_kept(intensity, ok, frame_bits, 3).tolist() == expected.tolist()
    wrong = kept[corrected[kept] != raw[kept]]
    got = kernels.count_kept_errors(corrected, raw, intensity, ok, frame_bits, 3)
    assert got.tolist() == np.bincount(intensity[wrong], minlength=3).tolist()
