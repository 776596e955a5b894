"""Finite-key decoy BB84 (Lim et al. 2014): published numbers, bounds and properties."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.protocols import _kernels
from euroqci.protocols import bb84_decoy as bb84
from euroqci.protocols.evaluate import evaluate_link, max_reach_km
from euroqci.protocols.finite_key import TailBound, decoy_key_length
from euroqci.protocols.link_spec import parse_link_spec

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
LIM = tomllib.loads((VECTORS / "lim2014.toml").read_text())


def _lim_spec(length_km: Any, block_size: float | None, **finite: Any) -> dict[str, Any]:
    v = LIM["system"]
    doc: dict[str, Any] = {
        "channel": {"length_km": length_km, "attenuation_db_per_km": v["attenuation_db_per_km"]},
        "detector": {
            "efficiency": v["detector_efficiency"],
            "dark_count_probability": v["dark_count_probability"],
            "afterpulse_probability": v["afterpulse_probability"],
        },
        "misalignment_error": v["misalignment_error"],
        "error_correction_efficiency": v["error_correction_efficiency"],
    }
    if block_size is not None:
        doc["finite_key"] = {
            "block_size": block_size,
            "epsilon_cor": v["epsilon_cor"],
            "epsilon_sec_per_bit": v["epsilon_sec_per_bit"],
        } | finite
    return doc


@pytest.mark.slow
def test_lim2014_reach_with_blocks_of_1e4() -> None:
    ref = LIM["reach_small_block"]
    reach = max_reach_km(parse_link_spec(_lim_spec(50.0, ref["block_size"])))
    assert abs(reach - ref["reach_km"]) <= ref["tolerance_km"]


def test_lim2014_ratio_of_block_sizes_at_100_km() -> None:
    ref = LIM["ratio_at_100_km"]
    big = evaluate_link(parse_link_spec(_lim_spec(ref["length_km"], ref["block_size_large"])))
    small = evaluate_link(parse_link_spec(_lim_spec(ref["length_km"], ref["block_size_small"])))
    ratio = float(big.secret_bits_per_pulse / small.secret_bits_per_pulse)
    assert abs(ratio - ref["ratio"]) <= ref["tolerance"]


def test_finite_key_rises_with_block_size_and_stays_below_asymptotic() -> None:
    lengths = np.array([20.0, 80.0, 120.0])
    # The asymptotic efficient-BB84 limit: key from X only, q_x at the optimiser's upper bound.
    asym = evaluate_link(parse_link_spec(_lim_spec(lengths, None))).secret_bits_per_pulse
    previous = np.zeros(3)
    for n_x in (1e5, 1e6, 1e8, 1e10):
        r = evaluate_link(parse_link_spec(_lim_spec(lengths, n_x))).secret_bits_per_pulse
        assert np.all(r >= previous * (1 - 1e-3))
        assert np.all(r <= asym)
        previous = r


def test_chernoff_and_hoeffding_both_give_keys() -> None:
    for tail in ("hoeffding", "chernoff"):
        r = evaluate_link(parse_link_spec(_lim_spec(50.0, 1e6, tail_bound=tail)))
        assert float(r.secret_bits) > 0
        assert r.parameters["epsilon_sec"] > 0


def _lim_by_hand(
    n_x: np.ndarray,
    n_z: np.ndarray,
    m_z: np.ndarray,
    mu: np.ndarray,
    p: np.ndarray,
    leak: float,
    eps_sec: float,
    eps_cor: float,
) -> float:
    """Eqs. (1)-(5) of Lim et al. (2014), written out with plain floats."""
    import math

    def bounds(n: np.ndarray) -> tuple[list[float], list[float]]:
        d = math.sqrt(n.sum() / 2 * math.log(21 / eps_sec))
        lo = [math.exp(mu[k]) / p[k] * (n[k] - d) for k in range(3)]
        hi = [math.exp(mu[k]) / p[k] * (n[k] + d) for k in range(3)]
        return lo, hi

    tau = [
        sum(p[k] * math.exp(-mu[k]) * mu[k] ** j for k in range(3)) / math.factorial(j)
        for j in (0, 1)
    ]
    m1, m2, m3 = mu

    def s0_s1(n: np.ndarray) -> tuple[float, float]:
        lo, hi = bounds(n)
        # counts are non-negative: a negative bound on s_0 is replaced by 0
        s0 = max(tau[0] * (m2 * lo[2] - m3 * hi[1]) / (m2 - m3), 0.0)
        s1 = (
            tau[1]
            * m1
            * (lo[1] - hi[2] - (m2**2 - m3**2) / m1**2 * (hi[0] - s0 / tau[0]))
            / (m1 * (m2 - m3) - m2**2 + m3**2)
        )
        return s0, s1

    sx0, sx1 = s0_s1(n_x)
    _, sz1 = s0_s1(n_z)
    lo, hi = bounds(m_z)
    vz1 = tau[1] * (hi[1] - lo[2]) / (m2 - m3)
    b = vz1 / sz1
    gamma = math.sqrt(
        (sz1 + sx1)
        * (1 - b)
        * b
        / (sz1 * sx1 * math.log(2))
        * math.log2((sz1 + sx1) / (sz1 * sx1 * (1 - b) * b) * 21**2 / eps_sec**2)
    )
    phi = b + gamma
    h = -phi * math.log2(phi) - (1 - phi) * math.log2(1 - phi)
    return sx0 + sx1 * (1 - h) - leak - 6 * math.log2(21 / eps_sec) - math.log2(2 / eps_cor)


def test_key_length_matches_equations_written_by_hand() -> None:
    n_x = np.array([6.0e6, 2.0e6, 2.5e3])
    n_z = np.array([6.0e4, 2.0e4, 30.0])
    m_x = np.array([6.0e4, 3.0e4, 1.2e3])
    m_z = np.array([650.0, 330.0, 15.0])
    mu = np.array([0.5, 0.1, 2e-4])
    p = np.array([0.7, 0.2, 0.1])
    leak = 1.16 * n_x.sum() * float(_kernels.binary_entropy(m_x.sum() / n_x.sum()))
    b = decoy_key_length(
        n_x,
        n_z,
        m_x,
        m_z,
        intensities=mu,
        intensity_probabilities=p,
        leak_ec_bits=leak,
        epsilon_sec=1e-10,
        epsilon_cor=1e-15,
    )
    expected = _lim_by_hand(n_x, n_z, m_z, mu, p, leak, 1e-10, 1e-15)
    assert float(b.secret_bits_raw) == pytest.approx(expected, rel=1e-9)
    assert float(b.secret_bits) == np.floor(expected)


@pytest.mark.kernel
def test_chernoff_bounds_hold_with_the_stated_probability(rng: np.random.Generator) -> None:
    # For a Poisson count with mean m, the bounds fail with probability below eps each.
    eps = 1e-3
    m = 50.0
    x = rng.poisson(m, size=200_000).astype(float)
    lo, hi = _kernels.chernoff_bounds(x, np.log(1 / eps))
    assert np.mean(lo > m) < eps
    assert np.mean(hi < m) < eps
    # And they are not vacuous: within a few standard deviations.
    assert np.median(hi - lo) < 10 * np.sqrt(m)


@pytest.mark.kernel
def test_hoeffding_deviation_as_in_the_paper() -> None:
    lo, hi = _kernels.hoeffding_bounds(
        np.array([[100.0, 50.0, 1.0]]), np.array([151.0]), np.log(21 / 1e-10)
    )
    d = np.sqrt(151 / 2 * np.log(21 / 1e-10))
    np.testing.assert_allclose(hi - lo, 2 * d)


@pytest.mark.kernel
def test_gamma_is_finite_for_extreme_inputs() -> None:
    g = _kernels.phase_error_gamma(
        1e-10, np.array([1e-9, 0.1, 0.5]), np.array([1e-3, 1e3, 1e12]), np.array([1e12, 1e3, 1e-3])
    )
    assert np.all(np.isfinite(g))


def test_bad_intensities_are_rejected() -> None:
    with pytest.raises(ConfigurationError) as info:
        decoy_key_length(
            [1, 1, 1],
            [1, 1, 1],
            [0, 0, 0],
            [0, 0, 0],
            intensities=[0.1, 0.2, 0.0],
            intensity_probabilities=[0.5, 0.3, 0.2],
            leak_ec_bits=0.0,
        )
    assert info.value.field == "source.intensities"


def test_pass_with_constant_loss_equals_one_block() -> None:
    # A pass of equal slots, without windowing, is one block with the same total pulses.
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    kw: dict[str, Any] = dict(
        intensities=np.array([0.6, 0.15, 2e-4]),
        intensity_probabilities=np.array([0.6, 0.3, 0.1]),
        basis_probability_x=np.asarray(0.8),
        detector=det,
        misalignment_error=0.01,
        error_correction_efficiency=1.16,
        epsilon_sec=1e-10,
        epsilon_cor=1e-15,
    )
    t = np.full(200, 10**-3.2)
    pulses_per_slot = 1e8
    ps = bb84.finite_key_pass(t, pulses_per_slot=pulses_per_slot, optimise_window=False, **kw)
    blk = bb84.finite_key_block(t[0], block_size=float(ps.key_basis_bits), **kw)
    assert float(blk.pulses) == pytest.approx(200 * pulses_per_slot, rel=1e-9)
    assert float(ps.secret_bits_raw) == pytest.approx(float(blk.secret_bits_raw), rel=1e-9)


def test_window_optimisation_never_loses_key() -> None:
    x = np.linspace(-1, 1, 120)
    loss = (30 + 18 * x**2).tolist()
    doc = {
        "channel": {"loss_db_per_slot": loss, "slot_s": 1.0},
        "source": {"repetition_rate_hz": 1e8},
        "detector": {"efficiency": 0.5, "dark_count_probability": 1e-6},
        "misalignment_error": 0.01,
        "finite_key": {"epsilon_sec": 1e-10},
    }
    best = evaluate_link(parse_link_spec(doc))
    doc["channel"]["optimise_window"] = False  # type: ignore[index]
    whole = evaluate_link(parse_link_spec(doc))
    assert float(best.secret_bits) >= float(whole.secret_bits) * (1 - 1e-3)
    assert 0 < best.details["window_slots"] <= 120
    assert float(best.secret_bits_period_s) == 120.0


def test_pass_finite_key_below_asymptotic_pass() -> None:
    loss = [35.0] * 60
    base = {
        "channel": {"loss_db_per_slot": loss},
        "source": {"repetition_rate_hz": 1e8},
        "detector": {"efficiency": 0.5, "dark_count_probability": 1e-6},
    }
    asym = evaluate_link(parse_link_spec(base))
    fin = evaluate_link(parse_link_spec(base | {"finite_key": {"epsilon_sec": 1e-10}}))
    assert 0 < float(fin.secret_bits) < float(asym.secret_bits) * 1.25


def test_tail_bound_enum_values() -> None:
    assert TailBound("chernoff") is TailBound.CHERNOFF


@pytest.mark.parametrize("length_km", [50.0, 110.0])
def test_optimiser_beats_random_search(rng: np.random.Generator, length_km: float) -> None:
    # Oracle for the optimiser: 20,000 random valid parameter sets never beat it.
    det = Detector(efficiency=0.1, dark_count_probability=6e-7, afterpulse_probability=0.04)
    n = 20_000
    mu2 = rng.uniform(0.01, 0.5, n)
    mu1 = mu2 + 2e-4 + rng.uniform(0.0, 1.0, n) * (1 - mu2 - 2e-4)
    mu = np.stack([mu1, mu2, np.full(n, 2e-4)], axis=-1)
    p = rng.dirichlet([1.0, 1.0, 1.0], n)
    p_x = rng.uniform(0.05, 0.9999, n)
    t = np.full(n, 10 ** (-0.02 * length_km))
    r = bb84.finite_key_block(
        t,
        intensities=mu,
        intensity_probabilities=p,
        basis_probability_x=p_x,
        block_size=1e4,
        detector=det,
        misalignment_error=0.005,
        error_correction_efficiency=1.16,
        epsilon_sec=1e-12,
        epsilon_cor=1e-15,
    )
    brute = float(np.max(r.secret_bits / r.pulses))
    spec = parse_link_spec(
        {
            "channel": {"length_km": length_km},
            "detector": {"afterpulse_probability": 0.04},
            "finite_key": {"block_size": 1e4, "epsilon_sec": 1e-12},
        }
    )
    assert brute > 0
    assert float(evaluate_link(spec).secret_bits_per_pulse) >= brute


@pytest.mark.kernel
@pytest.mark.parametrize("tail", [TailBound.HOEFFDING, TailBound.CHERNOFF])
@pytest.mark.parametrize("window", [True, False])
def test_compiled_pass_kernel_matches_the_array_model(
    rng: np.random.Generator, tail: TailBound, window: bool
) -> None:
    # Oracle: the fused pass kernel against finite_key_pass (numpy, validated path).
    det = Detector(efficiency=0.45, dark_count_probability=2e-6, afterpulse_probability=0.01)
    t = np.sort(10 ** (-rng.uniform(2.8, 4.5, 150)))[::-1]
    n = 12
    mu2 = rng.uniform(0.05, 0.3, n)
    mu = np.stack([mu2 + 2e-4 + rng.uniform(0.1, 0.5, n), mu2, np.full(n, 2e-4)], axis=-1)
    p = rng.dirichlet([3.0, 2.0, 1.0], n)
    p_x = rng.uniform(0.5, 0.95, n)
    kw: dict[str, Any] = dict(
        pulses_per_slot=1e8,
        intensities=mu,
        intensity_probabilities=p,
        basis_probability_x=p_x,
        detector=det,
        misalignment_error=0.012,
        error_correction_efficiency=1.1,
        epsilon_sec=1e-10,
        epsilon_cor=1e-15,
        tail_bound=tail,
        optimise_window=window,
    )
    fast = bb84.pass_key_length_raw(t, **kw)
    slow = bb84.finite_key_pass(t, **kw).secret_bits_raw
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-6)
