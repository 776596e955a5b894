"""Sifting messages: Bob's click announcement as gaps, and Alice's checks on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.postprocessing.sifting import click_gaps


@pytest.mark.kernel
@given(st.lists(st.integers(0, 2**40), max_size=60, unique=True))
@settings(max_examples=100, deadline=None)
def test_gaps_round_trip(positions: list[int]) -> None:
    clicks = np.array(sorted(positions), dtype=np.int64)
    gaps = click_gaps(clicks)
    assert gaps.dtype.kind == "u"
    # Alice reads them back with AliceRecord.at_gaps (tested in tests/devices).
    assert np.array_equal(np.cumsum(gaps, dtype=np.int64), clicks)


def test_gaps_use_the_narrowest_type() -> None:
    assert click_gaps(np.array([5, 70_000], np.int64)).dtype == np.uint32
    assert click_gaps(np.array([5, 65_000], np.int64)).dtype == np.uint16
    assert click_gaps(np.array([2**33], np.int64)).dtype == np.uint64


def test_decreasing_clicks_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        click_gaps(np.array([5, 3], np.int64))
