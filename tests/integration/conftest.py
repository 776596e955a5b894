"""Integration fixtures: a real KME pair, started once per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kme_harness import KMEPair, make_pair


@pytest.fixture(scope="module")
def kme_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KMEPair]:
    pair = make_pair(tmp_path_factory.mktemp("kme"))
    try:
        pair.start("KME-A")
        pair.start("KME-B")
        yield pair
    finally:
        pair.stop()
