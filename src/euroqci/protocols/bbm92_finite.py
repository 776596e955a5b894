"""Finite-key BBM92 for a whole satellite pass: counts summed over slots, bounds applied once.

Both bases carry key; the phase error of each basis is bounded from the bit errors observed in
the other basis by random sampling without replacement (Fung, Ma, Chau, PRA 81, 012318 (2010),
the ``gamma`` function as written in Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014),
Eq. (2)); privacy amplification and error verification cost as in Tomamichel, Lim, Gisin,
Renner, Nat. Commun. 3, 634 (2012), Eq. (2), up to how ``epsilon_sec`` is split. The source
is untrusted (source-independent security of entanglement-based QKD), so no decoy states are
needed: every coincidence counts.
Using both bases for key with per-basis error counts follows Lo, Chau, Ardehali, J. Cryptology
18, 133 (2005). The photon statistics are those of ``euroqci.protocols.bbm92``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.protocols._numerics import capped_entropy, golden_section_maximise
from euroqci.protocols.bbm92 import (
    MEAN_PAIR_NUMBER_RANGE,
    _check_common,
    _fraction,
    _mean_pair_number,
    _statistics,
)

__all__ = ["BBM92PassKey", "bbm92_finite_key_length", "bbm92_pass_secret_bits"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BBM92PassKey:
    """Finite-key result of one pass (scalars) and the per-slot figures behind it.

    ``secret_bits`` is clipped at 0; ``secret_bits_unclipped`` shows how far from positive a
    pass is. ``sifted_bits`` sums both bases. Per-slot arrays have shape ``(n_slots,)``.
    """

    secret_bits: float
    secret_bits_unclipped: float
    asymptotic_secret_bits: float
    sifted_bits: float
    qber: float
    mean_pair_number: float
    basis_probability_x: float
    n_pulses: float
    coincidence_probability_per_slot: FloatArray
    qber_per_slot: FloatArray


def _sampling_deviation(
    epsilon: float, qber: FloatArray, n_sample: FloatArray, n_key: FloatArray
) -> FloatArray:
    """Random-sampling bound on the phase error (Fung, Ma, Chau 2010; Lim et al. 2014 Eq. (2)).

    ``gamma(eps, e, c, d) = sqrt((c + d)(1 - e) e / (c d ln 2) *
    log2((c + d) / (c d (1 - e) e eps^2)))``: with probability ``1 - eps`` the error rate of
    ``d`` unobserved bits exceeds that of ``c`` observed ones by at most ``gamma``.
    """
    c, d = np.maximum(n_sample, 1.0), np.maximum(n_key, 1.0)
    # e (1 - e) is floored: at zero observed errors the bound must not collapse to zero.
    var = np.maximum(qber * (1.0 - qber), 1.0 / (c + d))
    ratio = (c + d) / (c * d)
    log_term = np.maximum(np.log2(ratio / (var * epsilon**2)), 0.0)
    return np.asarray(np.sqrt(ratio * var / np.log(2.0) * log_term), dtype=np.float64)


def _finite_length(
    n_x: FloatArray,
    n_z: FloatArray,
    e_x: FloatArray,
    e_z: FloatArray,
    f_ec: float,
    epsilon_sec: float,
    epsilon_cor: float,
) -> FloatArray:
    # epsilon_sec is shared between the two sampling bounds and privacy amplification.
    eps = epsilon_sec / 3.0
    phase_x = e_z + _sampling_deviation(eps, e_z, n_z, n_x)
    phase_z = e_x + _sampling_deviation(eps, e_x, n_x, n_z)
    entropy = n_x * (1.0 - capped_entropy(phase_x)) + n_z * (1.0 - capped_entropy(phase_z))
    leak = f_ec * (n_x * capped_entropy(e_x) + n_z * capped_entropy(e_z))
    overhead = np.log2(2.0 / epsilon_cor) + 2.0 * np.log2(1.0 / (2.0 * eps))
    return np.asarray(entropy - leak - overhead, dtype=np.float64)


def _check_epsilons(epsilon_sec: float, epsilon_cor: float) -> None:
    for name, value in (("epsilon_sec", epsilon_sec), ("epsilon_cor", epsilon_cor)):
        if not (np.isfinite(value) and 0.0 < value < 1.0):
            raise ConfigurationError(
                f"finite_key.{name}: expected a probability in (0, 1), e.g. 1e-10",
                field=f"finite_key.{name}",
            )


def bbm92_finite_key_length(
    n_sifted_x: npt.ArrayLike,
    n_sifted_z: npt.ArrayLike,
    *,
    qber_x: npt.ArrayLike,
    qber_z: npt.ArrayLike,
    error_correction_efficiency: float = 1.16,
    epsilon_sec: float = 1e-10,
    epsilon_cor: float = 1e-15,
) -> FloatArray:
    """Secret bits from observed sifted counts and error rates of both bases (unclipped).

    ``l = n_X (1 - h(E_Z + g_X)) + n_Z (1 - h(E_X + g_Z)) - f (n_X h(E_X) + n_Z h(E_Z))
    - log2(2 / eps_cor) - 2 log2(1 / (2 eps_PA))``, where ``g`` is the random-sampling
    deviation (Fung, Ma, Chau 2010; Lim et al. 2014, Eq. (2)) and the last two terms are the
    verification and leftover-hash costs (Tomamichel et al. 2012, Eq. (2)). ``epsilon_sec``
    is split equally between the two sampling bounds and privacy amplification. Negative
    values mean no key; they are returned so that an optimiser sees a slope.

    >>> round(float(bbm92_finite_key_length(1e6, 1e6, qber_x=0.02, qber_z=0.02)) / 2e6, 3)
    0.685
    """
    n_x = np.asarray(n_sifted_x, dtype=np.float64)
    n_z = np.asarray(n_sifted_z, dtype=np.float64)
    if np.any(~np.isfinite(n_x)) or np.any(n_x < 0) or np.any(~np.isfinite(n_z)) or np.any(n_z < 0):
        raise ConfigurationError("n_sifted_x, n_sifted_z: expected counts >= 0", field="n_sifted")
    e_x = _fraction("qber_x", qber_x)
    e_z = _fraction("qber_z", qber_z)
    _check_common(0.0, error_correction_efficiency)
    _check_epsilons(epsilon_sec, epsilon_cor)
    return _finite_length(n_x, n_z, e_x, e_z, error_correction_efficiency, epsilon_sec, epsilon_cor)


def _pass_objective(
    q_slots: FloatArray,
    e_slots: FloatArray,
    pulses_per_slot: float,
    p_x: FloatArray,
    f_ec: float,
    epsilon_sec: float,
    epsilon_cor: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Finite key of a pass; the slot axis is the last one of ``q_slots`` and ``e_slots``."""
    coincidences = pulses_per_slot * q_slots.sum(axis=-1)
    errors = pulses_per_slot * (q_slots * e_slots).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        qber = np.where(coincidences > 0, errors / np.maximum(coincidences, 1e-300), 0.5)
    n_x, n_z = p_x**2 * coincidences, (1.0 - p_x) ** 2 * coincidences
    length = _finite_length(n_x, n_z, qber, qber, f_ec, epsilon_sec, epsilon_cor)
    return length, qber, coincidences


def _informative(length: FloatArray, n_sifted: FloatArray) -> FloatArray:
    """Objective for the optimiser: the key length where positive, else the deficit per bit.

    A negative length tends to ``-overhead`` as counts vanish, a flat plateau on which a search
    stalls at the smallest source brightness; dividing by ``1 + n`` keeps the slope towards
    more counts and a lower error rate. Continuous at zero, so the maximiser is unchanged
    wherever a key exists.
    """
    return np.asarray(np.where(length > 0, length, length / (1.0 + n_sifted)), dtype=np.float64)


def bbm92_pass_secret_bits(
    transmittances_a: npt.ArrayLike,
    transmittances_b: npt.ArrayLike,
    *,
    repetition_rate_hz: float,
    slot_s: float,
    detector_a: Detector,
    detector_b: Detector | None = None,
    mean_pair_number: float | None = None,
    basis_probability_x: float | None = None,
    misalignment_error: float = 0.01,
    error_correction_efficiency: float = 1.16,
    epsilon_sec: float = 1e-10,
    epsilon_cor: float = 1e-15,
) -> BBM92PassKey:
    """Finite-key secret bits of one pass: counts summed over slots, bounds applied once.

    Parameters
    ----------
    transmittances_a, transmittances_b : arm transmittance per time slot, shape ``(n_slots,)``
        (a scalar broadcasts), fractions in [0, 1] without detector efficiency.
    repetition_rate_hz : source pulse rate in Hz; each slot holds
        ``repetition_rate_hz * slot_s`` pulses.
    slot_s : slot duration in seconds.
    mean_pair_number, basis_probability_x : fixed values, or ``None`` to optimise them for
        the whole pass (one value each per pass, as a real source would be set).
    epsilon_sec, epsilon_cor : secrecy and correctness parameters.

    Returns
    -------
    BBM92PassKey: total secret bits of the pass (clipped and unclipped), the asymptotic key of
    the same counts, sifted bits, QBER and the parameters used.
    """
    eta_a = np.atleast_1d(_fraction("transmittances_a", transmittances_a))
    eta_b = np.atleast_1d(_fraction("transmittances_b", transmittances_b))
    eta_a, eta_b = np.broadcast_arrays(eta_a, eta_b)
    if eta_a.ndim != 1:
        raise ConfigurationError(
            "transmittances_a: expected one transmittance per slot, shape (n_slots,)",
            field="transmittances_a",
        )
    for name, value, unit in (
        ("repetition_rate_hz", repetition_rate_hz, "Hz"),
        ("slot_s", slot_s, "s"),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ConfigurationError(f"{name}: expected a value > 0 in {unit}", field=name)
    _check_common(misalignment_error, error_correction_efficiency)
    _check_epsilons(epsilon_sec, epsilon_cor)
    det_b = detector_b or detector_a
    pulses = repetition_rate_hz * slot_s
    f_ec = error_correction_efficiency

    def evaluate(log_mu: FloatArray, p_x: FloatArray) -> tuple[FloatArray, ...]:
        q, e = _statistics(
            eta_a, eta_b, np.exp(log_mu)[..., None], detector_a, det_b, misalignment_error
        )
        return (*_pass_objective(q, e, pulses, p_x, f_ec, epsilon_sec, epsilon_cor), q, e)

    log_mu, p_x = _optimise_pass(evaluate, mean_pair_number, basis_probability_x)
    length, qber, coincidences, q, e = evaluate(np.asarray(log_mu), np.asarray(p_x))
    sift = p_x**2 + (1.0 - p_x) ** 2
    h = capped_entropy(qber)
    logger.debug("BBM92 pass: mu=%.4g p_x=%.3f length=%.4g", np.exp(log_mu), p_x, length)
    return BBM92PassKey(
        secret_bits=float(np.maximum(length, 0.0)),
        secret_bits_unclipped=float(length),
        asymptotic_secret_bits=float(np.maximum(sift * coincidences * (1.0 - f_ec * h - h), 0.0)),
        sifted_bits=float(sift * coincidences),
        qber=float(qber),
        mean_pair_number=float(np.exp(log_mu)),
        basis_probability_x=float(p_x),
        n_pulses=float(pulses * eta_a.size),
        coincidence_probability_per_slot=np.asarray(q, dtype=np.float64),
        qber_per_slot=np.asarray(e, dtype=np.float64),
    )


_PassEvaluator = Callable[[FloatArray, FloatArray], tuple[FloatArray, ...]]


def _optimise_pass(
    evaluate: _PassEvaluator, mean_pair_number: float | None, basis_probability_x: float | None
) -> tuple[float, float]:
    """Choose ``log mu`` and ``p_x`` for a pass: a broadcast grid, then golden refinement.

    The grid (48 x 25 points, one array evaluation) finds the basin; coordinate-wise golden
    sections refine it. Fixed values are passed through.
    """
    lo, hi = np.log(MEAN_PAIR_NUMBER_RANGE[0]), np.log(MEAN_PAIR_NUMBER_RANGE[1])
    if mean_pair_number is not None:
        log_mus = np.log(_mean_pair_number(mean_pair_number)).reshape(1)
    else:
        log_mus = np.linspace(lo, hi, 48)
    if basis_probability_x is not None:
        p_x_value = float(
            _fraction("source.basis_probability_x", basis_probability_x, low=1e-6, high=1.0 - 1e-6)
        )
        p_xs = np.array([p_x_value])
    else:
        p_xs = np.linspace(0.5, 0.98, 25)

    def objective(log_mu: FloatArray, p_x: FloatArray) -> FloatArray:
        length, _, coincidences, *_ = evaluate(log_mu, p_x)
        return _informative(length, coincidences)

    grid = objective(log_mus[:, None], p_xs[None, :])
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    log_mu, p_x = float(log_mus[i]), float(p_xs[j])
    step_mu = (hi - lo) / 47.0
    for _ in range(2):
        if mean_pair_number is None:

            def along_mu(m: FloatArray, p: float = p_x) -> FloatArray:
                return objective(m, np.asarray(p))

            log_mu = float(
                golden_section_maximise(
                    along_mu,
                    np.array([max(lo, log_mu - step_mu)]),
                    np.array([min(hi, log_mu + step_mu)]),
                    iterations=30,
                )[0]
            )
        if basis_probability_x is None:

            def along_p(p: FloatArray, m: float = log_mu) -> FloatArray:
                return objective(np.asarray([m]), p)

            p_x = float(
                golden_section_maximise(
                    along_p,
                    np.array([max(0.5, p_x - 0.02)]),
                    np.array([min(0.999, p_x + 0.02)]),
                    iterations=30,
                )[0]
            )
    return log_mu, p_x
