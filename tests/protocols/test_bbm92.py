"""BBM92 with an SPDC source: photon statistics, key rates, finite key, Yin et al. 2020."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.physics.sources import thermal_pair_probability
from euroqci.protocols._numerics import binary_entropy
from euroqci.protocols.bbm92 import (
    bbm92_coincidence_probability,
    bbm92_qber,
    bbm92_secret_key_rate,
)
from euroqci.protocols.bbm92_finite import bbm92_finite_key_length, bbm92_pass_secret_bits

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
YIN = tomllib.loads((VECTORS / "yin2020_bbm92_1120km.toml").read_text())


def _photon_sum(eta_a, eta_b, mu, p_a, p_b, e_d, n_max=40):
    """Slow, obviously correct oracle: sum over pair numbers and their split into H and V.

    The two-mode source is two independent single-mode thermal sources of mean mu/2 (H-V
    and V-H pairs); each photon is lost independently; each of the four detectors clicks
    unless all its photons are lost and it has no dark count; double clicks give a random
    bit; a misalignment flips the bit with probability e_d.
    """
    p1 = thermal_pair_probability(np.arange(n_max), mu / 2.0)
    q = err = 0.0
    for k in range(n_max):  # pairs with Alice H, Bob V
        for m in range(n_max - k):  # pairs with Alice V, Bob H
            w = p1[k] * p1[m]

            def side(n_h, n_v, eta, p):
                s_h = (1 - p) * (1 - eta) ** n_h
                s_v = (1 - p) * (1 - eta) ** n_v
                only_h, only_v, both = (1 - s_h) * s_v, (1 - s_v) * s_h, (1 - s_h) * (1 - s_v)
                return only_h + both / 2, only_v + both / 2

            a0, a1 = side(k, m, eta_a, p_a)
            b1, b0 = side(m, k, eta_b, p_b)  # anti-correlated: Bob's H means bit 1
            both = (a0 + a1) * (b0 + b1)
            wrong = a0 * b1 + a1 * b0
            q += w * both
            err += w * (wrong * (1 - e_d) + (both - wrong) * e_d)
    return q, err / q


@pytest.mark.parametrize(
    ("eta_a", "eta_b", "mu", "p_a", "p_b", "e_d"),
    [
        (0.3, 0.2, 0.2, 0.0, 0.0, 0.0),
        (0.3, 0.2, 0.2, 1e-3, 2e-3, 0.0),
        (0.05, 0.01, 0.6, 1e-4, 5e-4, 0.02),
        (0.9, 0.5, 0.05, 1e-2, 0.0, 0.05),
    ],
)
def test_closed_form_matches_photon_number_sum(eta_a, eta_b, mu, p_a, p_b, e_d):
    q_ref, e_ref = _photon_sum(eta_a, eta_b, mu, p_a, p_b, e_d)
    det_a = Detector(efficiency=1.0, dark_count_probability=p_a)
    det_b = Detector(efficiency=1.0, dark_count_probability=p_b)
    kwargs = {"mean_pair_number": mu, "detector_a": det_a, "detector_b": det_b}
    q = bbm92_coincidence_probability(eta_a, eta_b, **kwargs)
    e = bbm92_qber(eta_a, eta_b, misalignment_error=e_d, **kwargs)
    assert q == pytest.approx(q_ref, rel=1e-9)
    assert e == pytest.approx(e_ref, rel=1e-9)


def test_reduces_to_ma_fung_lo_without_dark_counts():
    # MFL's printed QBER: E Q = e0 Q - 2 (e0 - e_d) eta_A eta_B lam (1 + lam) / (...).
    eta_a, eta_b, lam, e_d = 0.02, 0.04, 0.1, 0.015
    det = Detector(efficiency=1.0, dark_count_probability=0.0)
    q = bbm92_coincidence_probability(eta_a, eta_b, mean_pair_number=2 * lam, detector_a=det)
    e = bbm92_qber(eta_a, eta_b, mean_pair_number=2 * lam, detector_a=det, misalignment_error=e_d)
    denominator = (
        (1 + eta_a * lam)
        * (1 + eta_b * lam)
        * (1 + eta_a * lam + eta_b * lam - eta_a * eta_b * lam)
    )
    mfl = (0.5 * q - 2 * (0.5 - e_d) * eta_a * eta_b * lam * (1 + lam) / denominator) / q
    assert e == pytest.approx(mfl, rel=1e-12)


def test_weak_source_gain_is_mu_eta_a_eta_b():
    det = Detector(efficiency=0.5, dark_count_probability=0.0)
    q = bbm92_coincidence_probability(1e-4, 1e-3, mean_pair_number=1e-3, detector_a=det)
    assert q == pytest.approx(1e-3 * 0.5e-4 * 0.5e-3, rel=2e-3)


def test_stable_at_very_high_loss():
    det = Detector(efficiency=0.5, dark_count_probability=0.0)
    eta = np.array([1e-6, 1e-8, 1e-10])
    q = bbm92_coincidence_probability(eta, eta, mean_pair_number=0.1, detector_a=det)
    expected = 0.1 * (0.5 * eta) ** 2 * (1 + 0.05)  # mu eta^2 (1 + lambda): pairs and multi-pairs
    assert np.allclose(q, expected, rtol=1e-5)


def test_broadcasting_shapes():
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    eta_a = np.full((3, 1), 1e-2)
    eta_b = np.logspace(-1, -3, 4)
    r = bbm92_secret_key_rate(eta_a, eta_b, detector_a=det)
    assert r.secret_bits_per_pulse.shape == (3, 4)
    assert r.mean_pair_number.shape == (3, 4)
    fixed = bbm92_secret_key_rate(
        eta_a, eta_b, detector_a=det, mean_pair_number=[0.05, 0.1, 0.2, 0.3]
    )
    assert fixed.qber.shape == (3, 4)
    assert np.allclose(fixed.mean_pair_number[0], [0.05, 0.1, 0.2, 0.3])


@settings(max_examples=25, deadline=None)
@given(
    efficiency=st.floats(0.05, 1.0),
    dark=st.floats(0.0, 1e-4),
    e_d=st.floats(0.0, 0.1),
)
def test_rate_non_negative_and_non_increasing_with_loss(efficiency, dark, e_d):
    det = Detector(efficiency=efficiency, dark_count_probability=dark)
    loss_db = np.linspace(0.0, 90.0, 91)
    eta = 10 ** (-loss_db / 20)  # the same loss on both arms
    r = bbm92_secret_key_rate(eta, eta, detector_a=det, misalignment_error=e_d)
    rate = r.secret_bits_per_pulse
    assert np.all(rate >= 0)
    assert np.all(np.diff(rate) <= 1e-12 * rate[:-1] + 1e-300)


def test_optimised_mean_pair_number_beats_fixed_ones():
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    eta = 10 ** (-np.array([20.0, 30.0, 35.0]) / 10)
    best = bbm92_secret_key_rate(eta, eta, detector_a=det).secret_bits_per_pulse
    for mu in (0.01, 0.05, 0.1, 0.3):
        fixed = bbm92_secret_key_rate(eta, eta, detector_a=det, mean_pair_number=mu)
        assert np.all(best >= fixed.secret_bits_per_pulse * (1 - 1e-9))


def test_asymptotic_rate_uses_both_bases():
    det = Detector(efficiency=0.5, dark_count_probability=1e-7)
    half = bbm92_secret_key_rate(1e-2, 1e-2, detector_a=det, mean_pair_number=0.1)
    biased = bbm92_secret_key_rate(
        1e-2, 1e-2, detector_a=det, mean_pair_number=0.1, basis_probability_x=0.9
    )
    assert half.sifted_bits_per_pulse == pytest.approx(0.5 * half.coincidence_probability)
    assert biased.sifted_bits_per_pulse == pytest.approx(0.82 * biased.coincidence_probability)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"transmittance_a": 1.5}, "transmittance_a"),
        ({"transmittance_b": -0.1}, "transmittance_b"),
        ({"misalignment_error": 0.7}, "misalignment_error"),
        ({"error_correction_efficiency": 0.9}, "error_correction_efficiency"),
        ({"mean_pair_number": 0.0}, "source.mean_pair_number"),
        ({"basis_probability_x": 2.0}, "source.basis_probability_x"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    args = {
        "transmittance_a": 0.1,
        "transmittance_b": 0.1,
        "detector_a": Detector(efficiency=0.5, dark_count_probability=1e-6),
    } | kwargs
    with pytest.raises(ConfigurationError) as info:
        bbm92_secret_key_rate(args.pop("transmittance_a"), args.pop("transmittance_b"), **args)
    assert info.value.field == field


# --- Yin et al., Nature 582, 501 (2020) -------------------------------------------------------


def test_yin2020_sifting_halves_the_coincidences():
    m, tol = YIN["measured"], YIN["tolerance"]
    det = Detector(efficiency=0.5, dark_count_probability=1e-7)
    r = bbm92_secret_key_rate(1e-3, 1e-3, detector_a=det, mean_pair_number=0.05)
    sift = float(r.sifted_bits_per_pulse / r.coincidence_probability)
    assert sift * m["two_photon_count_rate_hz"] == pytest.approx(
        m["sifted_key_rate_hz"], rel=tol["sift_factor_relative"]
    )


def test_yin2020_asymptotic_key_rate_from_measured_sifted_rate_and_qber():
    m, tol = YIN["measured"], YIN["tolerance"]
    f, qber = m["error_correction_efficiency"], m["qber"]
    # A link model placed at the measured operating point: the misalignment is chosen so the
    # model's QBER is the measured 4.5%, the pulse rate so its sifted rate is 1.1 Hz.
    det = Detector(efficiency=0.5, dark_count_probability=2e-7)
    kwargs = {"detector_a": det, "mean_pair_number": 0.05, "error_correction_efficiency": f}
    eta_a, eta_b = 10 ** (-3.0), 10 ** (-3.3)
    e0 = float(bbm92_secret_key_rate(eta_a, eta_b, misalignment_error=0.0, **kwargs).qber)
    e_d = (1 - (0.5 - qber) / (0.5 - e0)) / 2
    r = bbm92_secret_key_rate(eta_a, eta_b, misalignment_error=e_d, **kwargs)
    assert float(r.qber) == pytest.approx(qber, rel=1e-9)
    pulses_per_s = m["sifted_key_rate_hz"] / float(r.sifted_bits_per_pulse)
    rate_bps = float(r.secret_bits_per_pulse) * pulses_per_s
    assert rate_bps == pytest.approx(
        m["asymptotic_key_rate_bps"], rel=tol["asymptotic_key_rate_relative"]
    )
    assert rate_bps == pytest.approx(m["sifted_key_rate_hz"] * (1 - (1 + f) * binary_entropy(qber)))


def test_yin2020_finite_key_rate_and_secret_bits():
    m, tol = YIN["measured"], YIN["tolerance"]
    n = m["sifted_key_rate_hz"] * m["data_duration_s"]
    bits = bbm92_finite_key_length(
        n / 2,
        n / 2,
        qber_x=m["qber"],
        qber_z=m["qber"],
        error_correction_efficiency=m["error_correction_efficiency"],
        epsilon_sec=m["epsilon"],
    )
    assert float(bits) == pytest.approx(m["secret_key_bits"], rel=tol["finite_key_rate_relative"])
    assert float(bits) / m["data_duration_s"] == pytest.approx(
        m["finite_key_rate_bps"], rel=tol["finite_key_rate_relative"]
    )


def test_yin2020_qber_threshold_for_3100_s_of_data():
    m, tol = YIN["measured"], YIN["tolerance"]
    n = m["sifted_key_rate_hz"] * m["data_duration_s"]
    qbers = np.linspace(0.02, 0.10, 801)
    bits = bbm92_finite_key_length(
        n / 2,
        n / 2,
        qber_x=qbers,
        qber_z=qbers,
        error_correction_efficiency=m["error_correction_efficiency"],
        epsilon_sec=m["epsilon"],
    )
    threshold = qbers[bits > 0].max()
    assert threshold == pytest.approx(
        m["finite_key_qber_threshold"], abs=tol["finite_key_qber_threshold_absolute"]
    )
    # The 2017 run's 8.1% gives no key with the same statistics, as the paper says.
    assert np.all(bits[qbers >= m["previous_experiment_qber"]] < 0)


def test_yin2020_pass_sums_slots_and_applies_bounds_once():
    m, tol = YIN["measured"], YIN["tolerance"]
    det = Detector(efficiency=0.5, dark_count_probability=2e-7)
    eta_a, eta_b, mu = 10 ** (-3.0), 10 ** (-3.3), 0.05
    e0 = float(
        bbm92_qber(eta_a, eta_b, mean_pair_number=mu, detector_a=det, misalignment_error=0.0)
    )
    e_d = (1 - (0.5 - m["qber"]) / (0.5 - e0)) / 2
    q = float(bbm92_coincidence_probability(eta_a, eta_b, mean_pair_number=mu, detector_a=det))
    rate_hz = m["two_photon_count_rate_hz"] / q  # pulses per second giving 2.2 Hz coincidences
    n_slots = int(m["data_duration_s"])
    key = bbm92_pass_secret_bits(
        np.full(n_slots, eta_a),
        np.full(n_slots, eta_b),
        repetition_rate_hz=rate_hz,
        slot_s=1.0,
        detector_a=det,
        mean_pair_number=mu,
        basis_probability_x=0.5,
        misalignment_error=e_d,
        error_correction_efficiency=m["error_correction_efficiency"],
        epsilon_sec=m["epsilon"],
    )
    assert key.sifted_bits == pytest.approx(m["sifted_key_rate_hz"] * n_slots, rel=1e-6)
    assert key.qber == pytest.approx(m["qber"], rel=1e-6)
    assert key.secret_bits == pytest.approx(
        m["secret_key_bits"], rel=tol["finite_key_rate_relative"]
    )
    assert key.secret_bits < key.asymptotic_secret_bits
    # Bounds applied once to the summed counts: splitting the pass in two loses key.
    half = bbm92_pass_secret_bits(
        np.full(n_slots // 2, eta_a),
        np.full(n_slots // 2, eta_b),
        repetition_rate_hz=rate_hz,
        slot_s=1.0,
        detector_a=det,
        mean_pair_number=mu,
        basis_probability_x=0.5,
        misalignment_error=e_d,
        error_correction_efficiency=m["error_correction_efficiency"],
        epsilon_sec=m["epsilon"],
    )
    assert 2 * half.secret_bits < key.secret_bits


# --- finite key of a pass: properties ------------------------------------------------------


def _pass(n_slots: int, **kwargs):
    t = np.linspace(-1, 1, n_slots)
    loss_a, loss_b = 18 + 8 * t**2, 20 + 8 * t**2
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    return bbm92_pass_secret_bits(
        10 ** (-loss_a / 10),
        10 ** (-loss_b / 10),
        repetition_rate_hz=1e8,
        slot_s=1.0,
        detector_a=det,
        **kwargs,
    )


def test_pass_finite_key_below_asymptotic_and_growing_with_duration():
    short, long = _pass(100), _pass(400)
    assert 0 < short.secret_bits < short.asymptotic_secret_bits
    assert long.secret_bits > 4 * short.secret_bits * 0.99  # more than proportional: bounds tighten
    assert long.coincidence_probability_per_slot.shape == (400,)


def test_pass_optimiser_beats_fixed_settings():
    best = _pass(300)
    for mu in (0.02, 0.05, 0.2):
        for p_x in (0.5, 0.7):
            fixed = _pass(300, mean_pair_number=mu, basis_probability_x=p_x)
            assert best.secret_bits >= fixed.secret_bits * (1 - 1e-6)


def test_pass_without_key_is_zero_and_reports_the_deficit():
    t = np.linspace(-1, 1, 60)
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    key = bbm92_pass_secret_bits(
        10 ** (-(45 + t**2) / 10),
        10 ** (-(45 + t**2) / 10),
        repetition_rate_hz=1e8,
        slot_s=1.0,
        detector_a=det,
    )
    assert key.secret_bits == 0.0
    assert key.secret_bits_unclipped < 0


def test_pass_rejects_bad_timing():
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    with pytest.raises(ConfigurationError, match="slot_s"):
        bbm92_pass_secret_bits([0.01], [0.01], repetition_rate_hz=1e8, slot_s=0.0, detector_a=det)


@pytest.mark.parametrize("second_arm", ["same", "constant", "random"])
def test_large_sweep_grid_matches_direct_optimisation(second_arm, rng):
    det = Detector(efficiency=0.5, dark_count_probability=1e-6)
    n = 2 * 64**2 + 1
    eta_a = np.logspace(-1, -5, n)
    eta_b = {"same": eta_a, "constant": np.float64(1e-3), "random": 10 ** -rng.uniform(1, 5, n)}[
        second_arm
    ]
    sweep = bbm92_secret_key_rate(eta_a, eta_b, detector_a=det).secret_bits_per_pulse
    sample = slice(0, None, 41)
    eta_b_sample = eta_b[sample] if np.ndim(eta_b) else eta_b
    direct = bbm92_secret_key_rate(eta_a[sample], eta_b_sample, detector_a=det)
    rate = direct.secret_bits_per_pulse
    # Away from the cut-off (where the rate itself vanishes) the interpolated mu is as good.
    keep = rate > 1e-4 * rate.max()
    assert np.allclose(sweep[sample][keep], rate[keep], rtol=1e-3)


@pytest.mark.parametrize("dark", [0.0, 1e-6])
def test_dark_arms_give_zero_without_warnings(dark):
    det = Detector(efficiency=1.0, dark_count_probability=dark, afterpulse_probability=0.02)
    eta = np.array([0.0, 1.0])
    r = bbm92_secret_key_rate(eta, eta, detector_a=det)
    assert r.secret_bits_per_pulse[0] == 0.0 and r.secret_bits_per_pulse[1] > 0.0
    key = bbm92_pass_secret_bits(
        [0.0, 0.0], [0.0, 0.0], repetition_rate_hz=1e8, slot_s=1.0, detector_a=det
    )
    assert key.secret_bits == 0.0
