"""Entanglement-based BBM92 with a pulsed SPDC source between Alice and Bob.

The source (e.g. on a satellite) emits polarisation-entangled pairs into two arms of
transmittance ``transmittance_a`` and ``transmittance_b``; each side measures in a randomly
chosen basis with two threshold detectors, double clicks get a random bit (squashing). The
photon statistics follow Ma, Fung, Lo, "Quantum key distribution with entangled photon
sources", PRA 76, 012307 (2007) (MFL below): the two-mode source emits ``n`` pairs with
probability ``P(n) = (n + 1) lambda^n / (1 + lambda)^(n + 2)`` (MFL's PDC model), the convolution of
two single-mode thermal distributions of mean ``lambda`` each (one per polarisation mode), so
the mean pair number per pulse is ``mu = 2 lambda``.

The finite-key analysis of a whole pass is in ``euroqci.protocols.bbm92_finite``. Equation
numbers of MFL are not quoted: we worked from the formulas, which the tests verify against a
direct photon-number sum, not from the printed page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import RegularGridInterpolator

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.protocols._numerics import capped_entropy, golden_section_maximise

__all__ = [
    "BBM92Rate",
    "bbm92_coincidence_probability",
    "bbm92_qber",
    "bbm92_secret_key_rate",
]

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


# --- photon statistics (MFL's model of entanglement PDC QKD) -------------------------------


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
    """Coincidence probability ``Q`` and QBER ``E`` per pulse (MFL gain and QBER, exact sum).

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
    """Probability per pulse that both Alice and Bob click (MFL's overall gain ``Q_lambda``).

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
    """QBER of the coincidences, MFL's overall QBER ``E_lambda`` (see ``_statistics``).

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
    """Asymptotic BBM92 secret bits per pulse, ``R = q Q (1 - f h(E) - h(E))`` (MFL key rate).

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
