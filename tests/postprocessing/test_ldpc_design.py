"""Density evolution for the BSC: kernels against slow references, thresholds against the
published ones, the design helpers."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from euroqci.postprocessing import _ldpc_kernels as kernels
from euroqci.postprocessing.ldpc_design import (
    bsc_density_evolution,
    bsc_threshold,
    check_degrees_for_rate,
    design_rate,
    threshold_efficiency,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _box_plus_slow(a: np.ndarray, b: np.ndarray, step: float) -> np.ndarray:
    """Every pair of grid values through the exact rule, rounded to the nearest bin."""
    levels = (a.size - 1) // 2
    out = np.zeros(a.size)
    values = np.arange(-levels, levels + 1) * step
    for i, x in enumerate(values):
        for j, y in enumerate(values):
            z = 2 * math.atanh(math.tanh(x / 2) * math.tanh(y / 2))
            k = int(math.copysign(math.floor(abs(z) / step + 0.5), z))
            out[levels + k] += a[i] * b[j]
    return out


@pytest.mark.kernel
def test_box_plus_density_matches_pairwise_rule() -> None:
    rng = np.random.default_rng(3)
    levels, step = 30, 0.17
    table = kernels.de_box_plus_table(levels, step)
    assert np.array_equal(table, table.T)
    assert np.all(table <= np.minimum.outer(np.arange(levels + 1), np.arange(levels + 1)))
    a, b = rng.random(2 * levels + 1), rng.random(2 * levels + 1)
    a[rng.random(a.size) < 0.3] = 0.0
    a /= a.sum()
    b /= b.sum()
    out = kernels.de_box_plus(a, b, table)
    np.testing.assert_allclose(out, _box_plus_slow(a, b, step), atol=1e-15)
    assert math.isclose(out.sum(), 1.0)


@pytest.mark.kernel
def test_box_plus_with_a_certain_bit_is_the_identity() -> None:
    levels, step = 40, 0.25
    table = kernels.de_box_plus_table(levels, step)
    a = np.random.default_rng(4).random(2 * levels + 1)
    a /= a.sum()
    sure = np.zeros_like(a)
    sure[-1] = 1.0  # LLR +10: tanh(5) = 0.9999, signs and small magnitudes pass unchanged
    out = kernels.de_box_plus(a, sure, table)
    assert out[:levels].sum() == pytest.approx(a[:levels].sum(), rel=1e-12)
    np.testing.assert_allclose(out[levels - 12 : levels + 13], a[levels - 12 : levels + 13])
    # An erasure (LLR 0) erases everything.
    zero = np.zeros_like(a)
    zero[levels] = 1.0
    assert kernels.de_box_plus(a, zero, table)[levels] == pytest.approx(1.0)


def test_regular_thresholds_match_richardson_urbanke() -> None:
    vectors = tomllib.loads((VECTORS / "ldpc_bsc_thresholds.toml").read_text())["ensemble"]
    for v in vectors:
        p = bsc_threshold(
            {v["variable_degree"]: 1.0},
            {v["check_degree"]: 1.0},
            low=v["threshold"] - 0.01,
            high=v["threshold"] + 0.01,
            tolerance=2e-4,
            step=0.1,
        )
        assert p == pytest.approx(v["threshold"], abs=0.0015), v


def test_density_evolution_converges_below_and_not_above_the_threshold() -> None:
    below = bsc_density_evolution({3: 1.0}, {6: 1.0}, 0.075, step=0.1)
    above = bsc_density_evolution({3: 1.0}, {6: 1.0}, 0.095, step=0.1)
    assert below.converged and below.error_probability < 1e-9
    assert not above.converged and above.error_probability > 0.01


def test_design_rate_and_concentrated_checks() -> None:
    lam = {2: 0.2, 3: 0.3, 8: 0.2, 20: 0.3}
    for rate in (0.5, 0.8, 0.853, 0.9, 0.94):
        rho = check_degrees_for_rate(lam, rate)
        assert len(rho) <= 2 and max(rho) - min(rho) <= 1
        assert design_rate(lam, rho) == pytest.approx(rate, abs=1e-12)
    assert design_rate({3: 1.0}, {6: 1.0}) == pytest.approx(0.5)
    assert threshold_efficiency(0.5, 0.11) == pytest.approx(0.5 / 0.4999, rel=1e-3)


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match="qber"):
        bsc_density_evolution({3: 1.0}, {6: 1.0}, 0.6)
    with pytest.raises(ValueError, match="lam"):
        design_rate({}, {6: 1.0})
    with pytest.raises(ValueError, match="degrees must be >= 2"):
        bsc_density_evolution({1: 0.5, 3: 0.5}, {6: 1.0}, 0.05)
    with pytest.raises(ValueError, match="rate"):
        check_degrees_for_rate({3: 1.0}, 1.2)
