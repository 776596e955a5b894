"""Fixtures for the network tests: a stand-in key-rate engine and small scenarios.

The stand-in replaces the real key-rate engine in unit tests only (tests that need the real
engine say so): a smooth rate that falls with length, a finite-key penalty that shrinks with the
block, and a finite reach, cheap enough to call thousands of times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from euroqci.network.rates import KeyRateEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def stand_in_evaluate(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(secret key rate, key-basis rate) in bit/s: 1e7 * 10**(-0.02 L) key-basis bits/s."""
    length = np.asarray(spec["channel"]["length_km"], dtype=np.float64)
    alpha = spec["channel"].get("attenuation_db_per_km", 0.2)
    key_basis = 1e7 * 10 ** (-alpha * length / 10)
    finite_key = spec.get("finite_key")
    penalty = (
        1.0 if finite_key is None else max(0.0, 1.0 - 300.0 / np.sqrt(finite_key["block_size"]))
    )
    rate = np.clip(0.3 * key_basis * penalty - 20.0, 0.0, None)
    return rate, key_basis * (0.9 if finite_key is not None else 1.0)


@pytest.fixture
def engine_calls() -> list[int]:
    """Number of lengths passed in each call of the stand-in engine."""
    return []


@pytest.fixture
def engine(engine_calls: list[int]) -> KeyRateEngine:
    def evaluate(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        engine_calls.append(int(np.size(spec["channel"]["length_km"])))
        return stand_in_evaluate(spec)

    return KeyRateEngine(evaluate=evaluate)


@pytest.fixture
def benelux_path() -> Path:
    return EXAMPLES / "benelux.toml"
