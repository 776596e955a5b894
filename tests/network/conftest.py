"""Fixtures for the network tests: a stand-in key-rate engine and small scenarios.

The stand-in replaces the real key-rate engine in unit tests only: it is a smooth, decreasing
function of length with a finite reach, cheap enough to call thousands of times.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from euroqci.network.rates import KeyRateEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def stand_in_rate_bps(spec: dict[str, Any]) -> np.ndarray:
    """1 Mbit/s at 0 km, 0.2 dB/km, a finite-key penalty 1e3/sqrt(block), minus 10 bit/s."""
    length = np.asarray(spec["channel"]["length_km"], dtype=np.float64)
    alpha = spec["channel"].get("attenuation_db_per_km", 0.2)
    block = spec.get("finite_key", {}).get("block_size", 1e12)
    penalty = 1.0 - 1e3 / math.sqrt(block)
    return np.clip(1e6 * 10 ** (-alpha * length / 10) * penalty - 10.0, 0.0, None)


def stand_in_reach_km(spec: dict[str, Any]) -> float:
    alpha = spec["channel"].get("attenuation_db_per_km", 0.2)
    block = spec.get("finite_key", {}).get("block_size", 1e12)
    penalty = 1.0 - 1e3 / math.sqrt(block)
    return 10.0 / alpha * math.log10(1e6 * penalty / 10.0)


@pytest.fixture
def engine_calls() -> list[int]:
    """Lengths passed to each call of the stand-in engine's rate function."""
    return []


@pytest.fixture
def engine(engine_calls: list[int]) -> KeyRateEngine:
    def rate(spec: dict[str, Any]) -> np.ndarray:
        engine_calls.append(np.size(spec["channel"]["length_km"]))
        return stand_in_rate_bps(spec)

    return KeyRateEngine(rate_bps=rate, reach_km=stand_in_reach_km)


@pytest.fixture
def benelux_path() -> Path:
    return EXAMPLES / "benelux.toml"
