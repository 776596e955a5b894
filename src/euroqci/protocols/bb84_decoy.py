"""Decoy-state BB84 with phase-randomised weak coherent pulses: per-pulse key-rate models.

* GLLP with infinite decoys and the vacuum+weak two-decoy bounds: Ma, Qi, Zhao, Lo,
  "Practical decoy state for quantum key distribution", PRA 72, 012326 (2005). Key rate Eq. (1)
  (GLLP), channel model Sec. II (Eqs. (6)-(10)), vacuum+weak bounds Sec. IV.B (Eqs. (34)-(37)).
* Three intensities, asymptotic and finite key: Lim, Curty, Walenta, Xu, Zbinden,
  PRA 89, 022307 (2014), Eqs. (1)-(5) (see :mod:`euroqci.protocols.finite_key`).

All functions broadcast: ``transmittance`` has any shape; intensities and their probabilities
carry the intensity on the last axis and broadcast against it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.physics.detectors import Detector, click_probability, error_click_probability
from euroqci.protocols import _kernels
from euroqci.protocols.finite_key import FiniteKeyBounds, TailBound, decoy_key_length

__all__ = [
    "DecoyMethod",
    "FiniteBlock",
    "PerPulse",
    "finite_key_block",
    "finite_key_pass",
    "gllp_infinite_decoy",
    "link_probabilities",
    "pass_key_length_raw",
    "three_intensity_asymptotic",
    "vacuum_weak_decoy",
]

FloatArray = npt.NDArray[np.float64]


class DecoyMethod(enum.Enum):
    """How the single-photon contribution is bounded."""

    INFINITE = "infinite"
    VACUUM_WEAK = "vacuum+weak"
    THREE_INTENSITY = "three-intensity"


@dataclass(frozen=True)
class PerPulse:
    """Asymptotic figures per emitted pulse (arrays)."""

    secret_bits_per_pulse: FloatArray  # may be negative: callers clip
    sifted_bits_per_pulse: FloatArray
    qber: FloatArray


def link_probabilities(
    transmittance: npt.ArrayLike,
    intensities: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
) -> tuple[FloatArray, FloatArray]:
    """Click and error-click probabilities per pulse, shape ``broadcast(t[..., None], mu)``."""
    t = np.asarray(transmittance, dtype=np.float64)[..., None]
    mu = np.asarray(intensities, dtype=np.float64)
    q = click_probability(t, mu, detector)
    e = error_click_probability(t, mu, detector, misalignment_error)
    return q, e


def _single_photon_yield(
    transmittance: FloatArray, detector: Detector, misalignment_error: float
) -> tuple[FloatArray, FloatArray]:
    """Yield Y1 and error rate e1 of single-photon states (Ma et al. 2005, Eqs. (6), (10))."""
    eta = transmittance * detector.efficiency
    p_dc = detector.dark_count_probability
    d1 = 1.0 - (1.0 - 2.0 * p_dc) * (1.0 - eta)
    y1 = d1 * (1.0 + detector.afterpulse_probability)
    e1y1 = p_dc + misalignment_error * eta + detector.afterpulse_probability * d1 / 2.0
    return y1, e1y1 / y1


def gllp_infinite_decoy(
    transmittance: npt.ArrayLike,
    *,
    mu: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    sifting: npt.ArrayLike = 0.5,
) -> PerPulse:
    """GLLP key rate with the single-photon yield known exactly (infinite decoys).

    ``R = q [Q1 (1 - h(e1)) - f Q_mu h(E_mu)]`` (Ma et al. 2005, Eq. (1)), with
    ``Q1 = Y1 mu e^{-mu}``.
    """
    t = np.asarray(transmittance, dtype=np.float64)
    mu_arr = np.asarray(mu, dtype=np.float64)
    q, e = link_probabilities(t, mu_arr[..., None], detector, misalignment_error)
    q, e = q[..., 0], e[..., 0]
    y1, e1 = _single_photon_yield(t, detector, misalignment_error)
    q1 = y1 * mu_arr * np.exp(-mu_arr)
    big_e = e / q
    h: Any = _kernels.binary_entropy
    rate = np.asarray(sifting) * (q1 * (1.0 - h(e1)) - error_correction_efficiency * q * h(big_e))
    return PerPulse(rate, np.asarray(sifting) * q, big_e)


def vacuum_weak_decoy(
    transmittance: npt.ArrayLike,
    *,
    mu: npt.ArrayLike,
    nu: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    sifting: npt.ArrayLike = 0.5,
) -> PerPulse:
    """Vacuum+weak decoy lower bound (Ma et al. 2005, Eqs. (34)-(37)).

    ``Y1 >= mu / (mu nu - nu^2) (Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0)`` and
    ``e1 <= (E_nu Q_nu e^nu - e0 Y0) / (Y1 nu)`` with ``e0 = 1/2``; the key rate is GLLP's with
    these bounds. Requires ``0 < nu < mu``.
    """
    t = np.asarray(transmittance, dtype=np.float64)
    mu_arr = np.asarray(mu, dtype=np.float64)
    nu_arr = np.asarray(nu, dtype=np.float64)
    intensities = np.stack(np.broadcast_arrays(mu_arr, nu_arr, np.zeros_like(mu_arr)), axis=-1)
    q, e = link_probabilities(t, intensities, detector, misalignment_error)
    q_mu, q_nu, y0 = q[..., 0], q[..., 1], q[..., 2]
    e_nu_q_nu = e[..., 1]
    y1 = (
        mu_arr
        / (mu_arr * nu_arr - nu_arr**2)
        * (
            q_nu * np.exp(nu_arr)
            - q_mu * np.exp(mu_arr) * nu_arr**2 / mu_arr**2
            - (mu_arr**2 - nu_arr**2) / mu_arr**2 * y0
        )
    )
    e1 = np.where(
        y1 > 0, (e_nu_q_nu * np.exp(nu_arr) - 0.5 * y0) / (np.maximum(y1, 1e-300) * nu_arr), 0.5
    )
    e1 = np.clip(e1, 0.0, 0.5)
    q1 = y1 * mu_arr * np.exp(-mu_arr)
    big_e = e[..., 0] / q_mu
    h: Any = _kernels.binary_entropy
    rate = np.asarray(sifting) * (
        q1 * (1.0 - h(e1)) - error_correction_efficiency * q_mu * h(big_e)
    )
    return PerPulse(rate, np.asarray(sifting) * q_mu, big_e)


def three_intensity_asymptotic(
    transmittance: npt.ArrayLike,
    *,
    intensities: npt.ArrayLike,
    intensity_probabilities: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    sifting: npt.ArrayLike = 0.5,
) -> PerPulse:
    """Three-intensity decoy BB84 in the limit of infinite blocks (Lim et al. 2014 with delta=0).

    Every intensity contributes key, as in Lim et al.:
    ``R = q [s0 + s1 (1 - h(e1)) - f Q h(E)]`` with ``Q = sum_k p_k Q_k`` and the vacuum and
    single-photon terms bounded by Eqs. (2)-(4) applied to expected per-pulse gains.
    """
    t = np.asarray(transmittance, dtype=np.float64)
    mu = np.asarray(intensities, dtype=np.float64)
    p = np.asarray(intensity_probabilities, dtype=np.float64)
    q, e = link_probabilities(t, mu, detector, misalignment_error)
    s0, s1, e1 = _kernels.asymptotic_decoy_single_photon(q, e, mu, p)
    q_tot = np.sum(p * q, axis=-1)
    big_e = np.sum(p * e, axis=-1) / q_tot
    h: Any = _kernels.binary_entropy
    rate = np.asarray(sifting) * (
        s0 + s1 * (1.0 - h(e1)) - error_correction_efficiency * q_tot * h(big_e)
    )
    return PerPulse(rate, np.asarray(sifting) * q_tot, big_e)


@dataclass(frozen=True)
class FiniteBlock:
    """Finite-key figures of one block (arrays).

    ``pulses`` is the number N of pulses Alice sends to fill the block, ``bounds`` the
    decoy-state bounds, ``secret_bits`` the key length per block and ``window_slots`` (for a
    pass) the number of lowest-loss slots used.
    """

    secret_bits: FloatArray
    secret_bits_raw: FloatArray
    pulses: FloatArray
    sifted_bits: FloatArray
    key_basis_bits: FloatArray
    qber: FloatArray
    bounds: FiniteKeyBounds
    window_slots: FloatArray | None = None


def _counts(
    q: FloatArray, e: FloatArray, p: FloatArray, p_x: FloatArray, pulses: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    px2 = (p_x**2)[..., None]
    pz2 = ((1.0 - p_x) ** 2)[..., None]
    n = pulses[..., None] * p * q
    m = pulses[..., None] * p * e
    return n * px2, n * pz2, m * px2, m * pz2


def _window_counts(
    t_sorted: FloatArray,
    pulses_per_slot: float,
    mu: FloatArray,
    p: FloatArray,
    p_x: FloatArray,
    detector: Detector,
    misalignment_error: float,
    optimise_window: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Counts of the best-first windows of a pass, shape ``(batch..., windows, k)``.

    ``t_sorted`` holds the slot transmittances, highest first; window ``m`` holds the ``m``
    best slots (cumulative sums), or one window with the whole pass.
    """
    q, e = link_probabilities(t_sorted, mu[..., None, :], detector, misalignment_error)
    n_x, n_z, m_x, m_z = _counts(q, e, p[..., None, :], p_x[..., None], np.asarray(pulses_per_slot))
    if optimise_window:
        return (
            np.cumsum(n_x, axis=-2),
            np.cumsum(n_z, axis=-2),
            np.cumsum(m_x, axis=-2),
            np.cumsum(m_z, axis=-2),
        )
    return (
        np.sum(n_x, axis=-2, keepdims=True),
        np.sum(n_z, axis=-2, keepdims=True),
        np.sum(m_x, axis=-2, keepdims=True),
        np.sum(m_z, axis=-2, keepdims=True),
    )


def finite_key_block(
    transmittance: npt.ArrayLike,
    *,
    intensities: npt.ArrayLike,
    intensity_probabilities: npt.ArrayLike,
    basis_probability_x: npt.ArrayLike,
    block_size: float,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    epsilon_sec: float,
    epsilon_cor: float,
    tail_bound: TailBound = TailBound.HOEFFDING,
) -> FiniteBlock:
    """Expected finite-key result of one block of ``block_size`` = n_X key-basis detections.

    As in Lim et al. (2014), the post-processing block size is n_X (sifted X-basis detections
    over all intensities); Alice sends ``N = n_X / (q_x^2 sum_k p_k R_k)`` pulses to fill it.
    The error-correction leak is ``f n_X h(e_X)`` (Lim et al. 2014, Sec. IV).
    """
    t = np.asarray(transmittance, dtype=np.float64)
    mu = np.asarray(intensities, dtype=np.float64)
    p = np.asarray(intensity_probabilities, dtype=np.float64)
    p_x = np.asarray(basis_probability_x, dtype=np.float64)
    q, e = link_probabilities(t, mu, detector, misalignment_error)
    per_pulse_x = p_x**2 * np.sum(p * q, axis=-1)
    pulses = block_size / per_pulse_x
    n_x, n_z, m_x, m_z = _counts(q, e, p, p_x, pulses)
    return _finish(
        n_x,
        n_z,
        m_x,
        m_z,
        mu,
        p,
        pulses,
        error_correction_efficiency,
        epsilon_sec,
        epsilon_cor,
        tail_bound,
        None,
    )


def _finish(
    n_x: FloatArray,
    n_z: FloatArray,
    m_x: FloatArray,
    m_z: FloatArray,
    mu: FloatArray,
    p: FloatArray,
    pulses: FloatArray,
    f_ec: float,
    epsilon_sec: float,
    epsilon_cor: float,
    tail_bound: TailBound,
    window: FloatArray | None,
) -> FiniteBlock:
    nx_tot = np.sum(n_x, axis=-1)
    qber = np.sum(m_x, axis=-1) / np.maximum(nx_tot, 1e-300)
    leak = f_ec * nx_tot * _kernels.binary_entropy(qber)
    bounds = decoy_key_length(
        n_x,
        n_z,
        m_x,
        m_z,
        intensities=mu,
        intensity_probabilities=p,
        leak_ec_bits=leak,
        epsilon_sec=epsilon_sec,
        epsilon_cor=epsilon_cor,
        tail_bound=tail_bound,
    )
    sifted = nx_tot + np.sum(n_z, axis=-1)
    return FiniteBlock(
        secret_bits=bounds.secret_bits,
        secret_bits_raw=bounds.secret_bits_raw,
        pulses=np.asarray(pulses, dtype=np.float64),
        sifted_bits=sifted,
        key_basis_bits=nx_tot,
        qber=qber,
        bounds=bounds,
        window_slots=window,
    )


def finite_key_pass(
    transmittance_per_slot: npt.ArrayLike,
    *,
    pulses_per_slot: float,
    intensities: npt.ArrayLike,
    intensity_probabilities: npt.ArrayLike,
    basis_probability_x: npt.ArrayLike,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    epsilon_sec: float,
    epsilon_cor: float,
    tail_bound: TailBound = TailBound.HOEFFDING,
    optimise_window: bool = True,
) -> FiniteBlock:
    """Finite-key result of a whole pass: counts summed over slots, bounds applied once.

    ``transmittance_per_slot`` has shape ``(n_slots,)``; the protocol parameters may carry
    leading batch axes ``(batch, ...)``. With ``optimise_window`` the pass is cut to the
    ``m`` lowest-loss slots (a minimum-elevation window), with ``m`` chosen per batch element to
    maximise the key; every ``m`` is evaluated at once from cumulative sums.
    """
    t = np.asarray(transmittance_per_slot, dtype=np.float64)
    mu = np.asarray(intensities, dtype=np.float64)
    p = np.asarray(intensity_probabilities, dtype=np.float64)
    p_x = np.asarray(basis_probability_x, dtype=np.float64)
    t_sorted = np.sort(t)[::-1]
    n_x, n_z, m_x, m_z = _window_counts(
        t_sorted, pulses_per_slot, mu, p, p_x, detector, misalignment_error, optimise_window
    )
    if optimise_window:
        slots = np.arange(1, t.size + 1, dtype=np.float64)
    else:
        slots = np.array([float(t.size)])
    block = _finish(
        n_x,
        n_z,
        m_x,
        m_z,
        mu[..., None, :],
        p[..., None, :],
        slots * pulses_per_slot,
        error_correction_efficiency,
        epsilon_sec,
        epsilon_cor,
        tail_bound,
        None,
    )
    best = np.argmax(block.secret_bits_raw, axis=-1)[..., None]

    def pick(a: FloatArray) -> FloatArray:
        a = np.broadcast_to(a, block.secret_bits_raw.shape)
        return np.take_along_axis(a, best, axis=-1)[..., 0]

    b = block.bounds
    bounds = FiniteKeyBounds(
        *(
            pick(x)
            for x in (
                b.secret_bits,
                b.secret_bits_raw,
                b.s_x0,
                b.s_x1,
                b.s_z1,
                b.v_z1,
                b.phase_error,
            )
        )
    )
    return FiniteBlock(
        secret_bits=pick(block.secret_bits),
        secret_bits_raw=pick(block.secret_bits_raw),
        pulses=pick(block.pulses),
        sifted_bits=pick(block.sifted_bits),
        key_basis_bits=pick(block.key_basis_bits),
        qber=pick(block.qber),
        bounds=bounds,
        window_slots=pick(slots),
    )


def pass_key_length_raw(
    transmittance_per_slot: FloatArray,
    *,
    pulses_per_slot: float,
    intensities: FloatArray,
    intensity_probabilities: FloatArray,
    basis_probability_x: FloatArray,
    detector: Detector,
    misalignment_error: float,
    error_correction_efficiency: float,
    epsilon_sec: float,
    epsilon_cor: float,
    tail_bound: TailBound = TailBound.HOEFFDING,
    optimise_window: bool = True,
) -> FloatArray:
    """The optimiser's view of :func:`finite_key_pass`: best unfloored key length per batch row.

    Same model, without input validation and bookkeeping (the caller's parameters come from a
    decoder that keeps them valid), compiled with numba (``_pass_kernels.pass_key_length_max``);
    ``transmittance_per_slot`` must be sorted, highest first. Batch shape ``(n,)``.
    """
    shape = np.shape(basis_probability_x)
    mu = np.ascontiguousarray(np.reshape(intensities, (-1, 3)), dtype=np.float64)
    p = np.ascontiguousarray(np.reshape(intensity_probabilities, (-1, 3)), dtype=np.float64)
    p_x = np.ascontiguousarray(np.reshape(basis_probability_x, (-1,)), dtype=np.float64)
    from euroqci.protocols import _pass_kernels

    best = _pass_kernels.pass_key_length_max(
        np.ascontiguousarray(transmittance_per_slot, dtype=np.float64),
        float(pulses_per_slot),
        mu,
        p,
        p_x,
        detector.efficiency,
        detector.dark_count_probability,
        detector.afterpulse_probability,
        float(misalignment_error),
        float(error_correction_efficiency),
        float(epsilon_sec),
        float(epsilon_cor),
        tail_bound is TailBound.CHERNOFF,
        bool(optimise_window),
    )
    return np.asarray(best).reshape(shape)
