"""Entanglement-based BBM92 with a pulsed SPDC source between Alice and Bob.

The source (e.g. on a satellite) emits polarisation-entangled pairs into two arms of
transmittance ``transmittance_a`` and ``transmittance_b``; each side measures in a randomly
chosen basis with two threshold detectors, double clicks get a random bit (squashing). The
photon statistics follow Ma, Fung, Lo, "Quantum key distribution with entangled photon
sources", PRA 76, 012307 (2007) (MFL below): the two-mode source emits ``n`` pairs with
probability ``P(n) = (n + 1) lambda^n / (1 + lambda)^(n + 2)`` (MFL Eq. (1)), the convolution of
two single-mode thermal distributions of mean ``lambda`` each (one per polarisation mode), so
the mean pair number per pulse is ``mu = 2 lambda``.

Finite key for a whole pass (counts summed over time slots, bounds applied once): both bases
carry key; the phase error of each basis is bounded from the bit errors observed in the other
basis by random sampling without replacement (Fung, Ma, Chau, PRA 81, 012318 (2010), the
``gamma`` function as written in Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014),
Eq. (2)); privacy amplification and error verification cost as in Tomamichel, Lim, Gisin,
Renner, Nat. Commun. 3, 634 (2012), Eq. (2). The source is untrusted (source-independent
security), so no decoy states are needed: every coincidence counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import RegularGridInterpolator

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.protocols._numerics import capped_entropy, golden_section_maximise

__all__ = [
    "BBM92PassKey",
    "BBM92Rate",
    "bbm92_coincidence_probability",
    "bbm92_finite_key_length",
    "bbm92_pass_secret_bits",
    "bbm92_qber",
    "bbm92_secret_key_rate",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Search range of the mean pair number per pulse when it is optimised.
MEAN_PAIR_NUMBER_RANGE = (1e-6, 2.0)
#: Sweeps larger than GRID_POINTS**2 transmittance pairs optimise on a log-spaced grid of at
#: most GRID_POINTS per arm and interpolate log(mu) (the rate is exact for the mu reported).
GRID_POINTS = 64


@dataclass(frozen=True)
class BBM92Rate:
    """Asymptotic BBM92 figures per pulse, arrays broadcast from the inputs.

    Attributes
    ----------
    mean_pair_number : pairs per pulse ``mu = 2 lambda`` (given or optimised).
    coincidence_probability : ``Q``, a coincidence (both sides click) per pulse.
    qber : ``E``, quantum bit error rate of the coincidences.
    sifted_bits_per_pulse : ``q Q`` with ``q = p_x^2 + (1 - p_x)^2``.
    secret_bits_per_pulse : ``q Q (1 - f h(E) - h(E))``, clipped at 0.
    """

    mean_pair_number: FloatArray
    coincidence_probability: FloatArray
    qber: FloatArray
    sifted_bits_per_pulse: FloatArray
    secret_bits_per_pulse: FloatArray


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


# --- validation ---------------------------------------------------------------------------


def _fraction(
    name: str, value: npt.ArrayLike, *, low: float = 0.0, high: float = 1.0
) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < low) or np.any(arr > high):
        raise ConfigurationError(f"{name}: expected a fraction in [{low:g}, {high:g}]", field=name)
    return arr


def _check_common(misalignment_error: float, error_correction_efficiency: float) -> None:
    _fraction("misalignment_error", misalignment_error, high=0.5)
    if not (np.isfinite(error_correction_efficiency) and error_correction_efficiency >= 1.0):
        raise ConfigurationError(
            "error_correction_efficiency: expected f >= 1 (1.0 is the Shannon limit, "
            "typical 1.1-1.2)",
            field="error_correction_efficiency",
        )


def _mean_pair_number(value: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr >= 10):
        raise ConfigurationError(
            "source.mean_pair_number: expected pairs per pulse in (0, 10)",
            field="source.mean_pair_number",
        )
    return arr


# --- photon statistics (MFL Sec. III) ------------------------------------------------------


def _side_noise(
    eta: FloatArray, lam: FloatArray, detector: Detector
) -> tuple[FloatArray, FloatArray]:
    """Per-detector noise probability and ``1 - Y0`` of one side (two detectors).

    Afterpulses are folded in as extra noise with a random bit, at ``p_ap`` times the
    per-detector click probability (the error model of Lim et al. 2014, Sec. IV, applied to
    each side); MFL has no afterpulses, and with ``p_ap = 0`` this is exactly their model.
    """
    p_dc = detector.dark_count_probability
    if detector.afterpulse_probability > 0.0:
        single = -np.expm1(2.0 * np.log1p(-p_dc) - 2.0 * np.log1p(eta * lam))
        p_dc = p_dc + detector.afterpulse_probability * single / 2.0
    p_dc = np.minimum(p_dc, 0.5)
    return np.asarray(p_dc, dtype=np.float64), np.asarray((1.0 - p_dc) ** 2, dtype=np.float64)


def _statistics(
    transmittance_a: npt.ArrayLike,
    transmittance_b: npt.ArrayLike,
    mean_pair_number: npt.ArrayLike,
    detector_a: Detector,
    detector_b: Detector,
    misalignment_error: float,
) -> tuple[FloatArray, FloatArray]:
    """Coincidence probability ``Q`` and QBER ``E`` per pulse (MFL Sec. III, exact sum).

    With ``x = eta lambda``, ``P = (1 + x_A)(1 + x_B)`` and
    ``D = 1 + x_A + x_B - eta_A eta_B lambda`` the MFL gain
    ``Q = 1 - (1-Y0A)/(1+x_A)^2 - (1-Y0B)/(1+x_B)^2 + (1-Y0A)(1-Y0B)/D^2`` is rewritten as
    ``Q = u_A u_B + (1-Y0A)(1-Y0B) eta_A eta_B lambda (1+lambda)(D+P)/(P^2 D^2)`` with
    ``u = 1 - (1-Y0)/(1+x)^2`` (no cancellation at losses of 70 dB and more). The error gain is
    ``E Q = Q/2 - (1 - 2 e_d)(1-p_A)(1-p_B) eta_A eta_B lambda (1+lambda)/(P D)``: MFL's QBER
    with the factor ``(1-p_A)(1-p_B)`` of per-detector noise on the correlated term, which the
    exact photon-number sum gives (a true photon plus a dark count in the other detector is a
    double click, hence a random bit); MFL drop it, a change of order ``p_dc``.
    """
    eta_a = np.asarray(transmittance_a, dtype=np.float64) * detector_a.efficiency
    eta_b = np.asarray(transmittance_b, dtype=np.float64) * detector_b.efficiency
    lam = np.asarray(mean_pair_number, dtype=np.float64) / 2.0
    p_a, keep_a = _side_noise(eta_a, lam, detector_a)
    p_b, keep_b = _side_noise(eta_b, lam, detector_b)
    x_a, x_b = eta_a * lam, eta_b * lam
    pair_term = eta_a * eta_b * lam * (1.0 + lam)
    p_prod = (1.0 + x_a) * (1.0 + x_b)
    d = 1.0 + x_a + x_b - eta_a * eta_b * lam
    u_a = -np.expm1(np.log(keep_a) - 2.0 * np.log1p(x_a))
    u_b = -np.expm1(np.log(keep_b) - 2.0 * np.log1p(x_b))
    q = u_a * u_b + keep_a * keep_b * pair_term * (d + p_prod) / (p_prod**2 * d**2)
    correlated = (1.0 - 2.0 * misalignment_error) * (1.0 - p_a) * (1.0 - p_b) * pair_term
    error_gain = q / 2.0 - correlated / (p_prod * d)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(q > 0, error_gain / q, 0.5)
    return np.asarray(q, dtype=np.float64), np.asarray(np.clip(e, 0.0, 0.5), dtype=np.float64)


def bbm92_coincidence_probability(
    transmittance_a: npt.ArrayLike,
    transmittance_b: npt.ArrayLike,
    *,
    mean_pair_number: npt.ArrayLike,
    detector_a: Detector,
    detector_b: Detector | None = None,
) -> FloatArray:
    """Probability per pulse that both Alice and Bob click (MFL Sec. III, gain ``Q_lambda``).

    Parameters
    ----------
    transmittance_a, transmittance_b : channel transmittance of each arm in [0, 1], without
        the detector efficiency; broadcast against each other and ``mean_pair_number``.
    mean_pair_number : pairs per pulse ``mu = 2 lambda`` in (0, 10).
    detector_a, detector_b : each side's two threshold detectors (``detector_b`` defaults to
        ``detector_a``); dark-count probability per gate per detector.

    >>> from euroqci.physics.detectors import Detector
    >>> q = bbm92_coincidence_probability(0.1, 0.1, mean_pair_number=0.02,
    ...                                   detector_a=Detector(efficiency=1.0,
    ...                                                       dark_count_probability=0.0))
    >>> round(float(q / (0.1 * 0.1 * 0.02)), 3)  # ~ mu eta_A eta_B for a weak source
    1.024
    """
    eta_a = _fraction("transmittance_a", transmittance_a)
    eta_b = _fraction("transmittance_b", transmittance_b)
    mu = _mean_pair_number(mean_pair_number)
    q, _ = _statistics(eta_a, eta_b, mu, detector_a, detector_b or detector_a, 0.0)
    return q


def bbm92_qber(
    transmittance_a: npt.ArrayLike,
    transmittance_b: npt.ArrayLike,
    *,
    mean_pair_number: npt.ArrayLike,
    detector_a: Detector,
    detector_b: Detector | None = None,
    misalignment_error: float = 0.01,
) -> FloatArray:
    """QBER of the coincidences, ``E_lambda`` of MFL Sec. III (see ``_statistics``).

    ``misalignment_error`` is MFL's intrinsic error ``e_d`` (source, channel and analyser
    imperfections together), a fraction in [0, 0.5].
    """
    eta_a = _fraction("transmittance_a", transmittance_a)
    eta_b = _fraction("transmittance_b", transmittance_b)
    mu = _mean_pair_number(mean_pair_number)
    _check_common(misalignment_error, 1.0)
    _, e = _statistics(eta_a, eta_b, mu, detector_a, detector_b or detector_a, misalignment_error)
    return e


def _asymptotic_per_pulse(
    eta_a: FloatArray,
    eta_b: FloatArray,
    mu: FloatArray,
    detector_a: Detector,
    detector_b: Detector,
    misalignment_error: float,
    f_ec: float,
    sift: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    q, e = _statistics(eta_a, eta_b, mu, detector_a, detector_b, misalignment_error)
    h = capped_entropy(e)
    # Unclipped: informative (negative) where no key is possible, so the optimiser can climb.
    return q, e, sift * q * (1.0 - f_ec * h - h)


def bbm92_secret_key_rate(
    transmittance_a: npt.ArrayLike,
    transmittance_b: npt.ArrayLike,
    *,
    detector_a: Detector,
    detector_b: Detector | None = None,
    mean_pair_number: npt.ArrayLike | None = None,
    misalignment_error: float = 0.01,
    error_correction_efficiency: float = 1.16,
    basis_probability_x: float = 0.5,
) -> BBM92Rate:
    """Asymptotic BBM92 secret bits per pulse, ``R = q Q (1 - f h(E) - h(E))`` (MFL Sec. IV).

    Key comes from both bases (with the squashing model the phase error of one basis equals
    the bit error of the other asymptotically, Koashi-Preskill as used by MFL), so the sifting
    factor is ``q = p_x^2 + (1 - p_x)^2``: MFL's ``q = 1/2`` at ``p_x = 1/2``.

    Parameters
    ----------
    transmittance_a, transmittance_b : arm transmittances in [0, 1] (arrays broadcast, e.g.
        one value per time slot of a satellite double downlink).
    detector_a, detector_b : threshold detectors of each side (``detector_b`` defaults to
        ``detector_a``).
    mean_pair_number : pairs per pulse ``mu = 2 lambda``; ``None`` optimises it per element
        (vectorised golden-section search in ``log mu`` over ``MEAN_PAIR_NUMBER_RANGE``).
    misalignment_error : intrinsic error ``e_d`` in [0, 0.5].
    error_correction_efficiency : ``f >= 1``.
    basis_probability_x : probability that each side measures in X, in [0, 1].

    Returns
    -------
    BBM92Rate with arrays of the broadcast shape.

    >>> from euroqci.physics.detectors import Detector
    >>> r = bbm92_secret_key_rate([1e-3, 1e-5], 1e-3, detector_a=Detector(
    ...     efficiency=0.5, dark_count_probability=1e-6))
    >>> r.secret_bits_per_pulse.shape, bool(r.secret_bits_per_pulse[0] > r.secret_bits_per_pulse[1])
    ((2,), True)
    """
    eta_a = _fraction("transmittance_a", transmittance_a)
    eta_b = _fraction("transmittance_b", transmittance_b)
    _check_common(misalignment_error, error_correction_efficiency)
    p_x = float(_fraction("source.basis_probability_x", basis_probability_x))
    det_b = detector_b or detector_a
    sift = p_x**2 + (1.0 - p_x) ** 2
    if mean_pair_number is None:
        shape = np.broadcast_shapes(eta_a.shape, eta_b.shape)
        ea, eb = np.broadcast_to(eta_a, shape), np.broadcast_to(eta_b, shape)
        settings = (detector_a, det_b, misalignment_error, error_correction_efficiency, sift)
        mu = _optimal_mean_pair_number(ea, eb, *settings)
    else:
        mu = _mean_pair_number(mean_pair_number)
    q, e, rate = _asymptotic_per_pulse(
        eta_a, eta_b, mu, detector_a, det_b, misalignment_error, error_correction_efficiency, sift
    )
    mu_b, q_b = np.broadcast_arrays(mu, q)
    return BBM92Rate(
        mean_pair_number=np.asarray(mu_b, dtype=np.float64),
        coincidence_probability=q_b,
        qber=e,
        sifted_bits_per_pulse=np.asarray(sift * q, dtype=np.float64),
        secret_bits_per_pulse=np.asarray(np.maximum(rate, 0.0), dtype=np.float64),
    )


def _search_mean_pair_number(
    ea: FloatArray,
    eb: FloatArray,
    detector_a: Detector,
    detector_b: Detector,
    e_d: float,
    f_ec: float,
    sift: float,
) -> FloatArray:
    """Golden-section search in ``log mu`` per element, on an informative objective.

    Where no key is possible the rate tends to a small negative constant as ``mu -> 0``, a
    spurious maximum at the boundary; dividing the deficit by the sifted bits keeps a slope.
    """

    def objective(log_mu: FloatArray) -> FloatArray:
        q, _, rate = _asymptotic_per_pulse(
            ea, eb, np.exp(log_mu), detector_a, detector_b, e_d, f_ec, sift
        )
        per_bit = rate / np.maximum(sift * q, 1e-300)
        return np.asarray(np.where(rate > 0, rate, per_bit), dtype=np.float64)

    lo, hi = np.log(MEAN_PAIR_NUMBER_RANGE[0]), np.log(MEAN_PAIR_NUMBER_RANGE[1])
    return np.exp(golden_section_maximise(objective, np.full(ea.shape, lo), np.full(ea.shape, hi)))


def _optimal_mean_pair_number(
    ea: FloatArray,
    eb: FloatArray,
    detector_a: Detector,
    detector_b: Detector,
    e_d: float,
    f_ec: float,
    sift: float,
) -> FloatArray:
    """Optimal ``mu`` per element; large sweeps go through a grid over both arms.

    The optimum depends smoothly on the two arm transmittances only, so a sweep of more than
    ``GRID_POINTS**2`` pairs is solved on a log-spaced grid (an axis collapses to one point when
    that arm is constant) and ``log mu`` interpolated linearly in ``(log eta_A, log eta_B)``.
    """
    settings = (detector_a, detector_b, e_d, f_ec, sift)
    if ea.size <= GRID_POINTS**2:
        return _search_mean_pair_number(ea, eb, *settings)
    logs = [np.log(np.maximum(x, 1e-300)).ravel() for x in (ea, eb)]
    axes = [
        np.linspace(x.min(), x.max(), GRID_POINTS) if x.max() > x.min() else x[:1] for x in logs
    ]
    grid_a, grid_b = np.meshgrid(*axes, indexing="ij")
    log_mu = np.log(_search_mean_pair_number(np.exp(grid_a), np.exp(grid_b), *settings))
    varying = [i for i, axis in enumerate(axes) if axis.size > 1]
    if len(varying) == 2:
        points = np.stack(logs, axis=-1)
        values = RegularGridInterpolator(tuple(axes), log_mu)(points)
    elif len(varying) == 1:
        i = varying[0]
        values = np.interp(logs[i], axes[i], log_mu.ravel())
    else:
        values = np.full(logs[0].shape, log_mu.ravel()[0])
    return np.asarray(np.exp(values), dtype=np.float64).reshape(ea.shape)


# --- finite key ---------------------------------------------------------------------------


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
