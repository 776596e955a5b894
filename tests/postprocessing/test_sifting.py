"""Sifting messages: Bob's click announcement as gaps, and Alice's checks on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing.sifting import click_gaps, clicks_from_gaps


@pytest.mark.kernel
@given(st.lists(st.integers(0, 2**40), max_size=60, unique=True))
@settings(max_examples=100, deadline=None)
def test_gaps_round_trip(positions: list[int]) -> None:
    clicks = np.array(sorted(positions), dtype=np.int64)
    gaps = click_gaps(clicks)
    assert gaps.dtype.kind == "u"
    assert np.array_equal(clicks_from_gaps(gaps, 2**40 + 1), clicks)


def test_gaps_use_the_narrowest_type() -> None:
    assert click_gaps(np.array([5, 70_000], np.int64)).dtype == np.uint32
    assert click_gaps(np.array([5, 65_000], np.int64)).dtype == np.uint16
    assert click_gaps(np.array([2**33], np.int64)).dtype == np.uint64


def test_alice_rejects_clicks_beyond_her_record() -> None:
    with pytest.raises(ValueError, match="beyond the 10 pulses"):
        clicks_from_gaps(np.array([4, 6], np.uint16), 10)
    with pytest.raises(ValueError, match="unsigned"):
        clicks_from_gaps(np.array([1, 2], np.int64), 10)
    with pytest.raises(ValueError, match="increasing"):
        click_gaps(np.array([5, 3], np.int64))
