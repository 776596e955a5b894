"""Twin-field QKD: the sending-or-not-sending protocol (SNS), asymptotic key rate.

Alice and Bob each send a phase-randomised weak coherent pulse to Charlie in the middle, who
interferes them on a beam splitter and announces which of his two threshold detectors clicked.
In a Z window each party sends a pulse of intensity ``mu`` with probability ``epsilon`` (bit 1
for Alice, 0 for Bob) or nothing; an *effective event* is exactly one click. Key comes from
the untagged events, where exactly one party sent exactly one photon, whose yield scales with
the transmittance ``sqrt(eta)`` of one arm, not ``eta``: this is why SNS beats the PLOB bound
``-log2(1 - eta)`` at long distance.

Key rate (Wang, Yu, Hu, "Twin-field quantum key distribution with large misalignment error",
PRA 98, 062323 (2018), its key-rate formula in the asymptotic limit)::

    R = n_1 [1 - h(e_1^ph)] - f S_Z h(E_Z),   n_1 = 2 epsilon (1 - epsilon) mu e^-mu s_1

per pulse pair, in the asymptotic limit: infinitely many decoy intensities in the X window (so
``s_1`` and ``e_1^ph`` are the true single-photon values, the limit of the decoy bounds) and a
vanishing fraction of X windows (so every pulse is a Z-window pulse). The effective-event
probability and error rate of the Z window follow the simulation model of Yu, Hu, Jiang, Xu,
Wang, "Sending-or-not-sending twin-field QKD in practice", Sci. Rep. 9, 3080 (2019), and of
Jiang, Yu, Hu, Wang, PRApplied 12, 024061 (2019): with ``x = eta_s mu`` arriving from one side
(``eta_s = sqrt(eta) * efficiency``), ``p_d`` the dark-count probability per detector::

    no sender   : 2 p_d (1 - p_d)                                              (error)
    one sender  : 2 y (1 - y),  y = (1 - p_d) e^(-x/2)                         (correct)
    two senders : 2 (1 - p_d) e^-x I_0(x) - 2 (1 - p_d)^2 e^(-2x)              (error)

(two pulses of random relative phase: ``I_0`` is the modified Bessel function). The
single-photon yield and phase-flip error, with misalignment ``e_d`` of the single-photon
interference in the X window, are::

    s_1 = eta_s (1 - p_d) + (1 - eta_s) 2 p_d (1 - p_d)
    e_1^ph s_1 = eta_s (1 - p_d) e_d + (1 - eta_s) p_d (1 - p_d)

Active odd-parity pairing (AOPP) and finite-key effects, used by the long-distance experiments,
are not modelled here: see ``docs/validation-models.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import i0e

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector
from euroqci.protocols._numerics import capped_entropy, golden_section_maximise

__all__ = ["SNSRate", "sns_effective_events", "sns_secret_key_rate"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Search ranges of the signal intensity and the sending probability when optimised.
INTENSITY_RANGE = (1e-4, 1.5)
SENDING_PROBABILITY_RANGE = (1e-5, 0.5)
#: Above this many transmittances, parameters are optimised on a log-spaced grid of this many
#: points and interpolated (the rate reported is exact for the parameters reported).
OPTIMISATION_GRID_POINTS = 256


@dataclass(frozen=True)
class SNSRate:
    """Asymptotic SNS figures per pulse pair, arrays broadcast from the inputs.

    Attributes
    ----------
    intensity : signal intensity ``mu`` (mean photons per sent pulse), given or optimised.
    sending_probability : ``epsilon``, given or optimised.
    effective_event_probability : ``S_Z``, exactly one click at Charlie per pulse pair.
    qber : ``E_Z``, bit error rate of the effective events.
    single_photon_yield : ``s_1``.
    phase_error : ``e_1^ph`` of the untagged single-photon events.
    secret_bits_per_pulse : ``R`` above, clipped at 0.
    """

    intensity: FloatArray
    sending_probability: FloatArray
    effective_event_probability: FloatArray
    qber: FloatArray
    single_photon_yield: FloatArray
    phase_error: FloatArray
    secret_bits_per_pulse: FloatArray


def _noise(detector: Detector, click_per_detector: FloatArray) -> FloatArray:
    """Dark-count probability per detector, afterpulses folded in as extra noise.

    Afterpulses add ``p_ap`` times the per-detector click probability (the error model of
    Lim et al., PRA 89, 022307 (2014), Sec. IV); with ``p_ap = 0`` this is the SNS model.
    """
    p_d = detector.dark_count_probability + detector.afterpulse_probability * click_per_detector
    return np.asarray(np.minimum(p_d, 0.5), dtype=np.float64)


def _z_window(
    eta_s: FloatArray, mu: FloatArray, epsilon: FloatArray, detector: Detector
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``S_Z``, ``E_Z S_Z`` and the noise ``p_d`` of the Z window (see the module docstring)."""
    x = eta_s * mu
    p_d = _noise(detector, epsilon * -np.expm1(-x / 2.0))
    none = 2.0 * p_d * (1.0 - p_d)
    y = (1.0 - p_d) * np.exp(-x / 2.0)
    one = 2.0 * y * (1.0 - y)
    # e^-x I_0(x) = i0e(x): no overflow for bright pulses, accurate for faint ones.
    two = 2.0 * (1.0 - p_d) * i0e(x) - 2.0 * (1.0 - p_d) ** 2 * np.exp(-2.0 * x)
    two = np.maximum(two, 0.0)
    s_z = (1.0 - epsilon) ** 2 * none + 2.0 * epsilon * (1.0 - epsilon) * one + epsilon**2 * two
    errors = (1.0 - epsilon) ** 2 * none + epsilon**2 * two
    return np.asarray(s_z), np.asarray(errors), p_d


def _rate(
    eta_s: FloatArray,
    mu: FloatArray,
    epsilon: FloatArray,
    detector: Detector,
    e_d: float,
    f_ec: float,
) -> tuple[FloatArray, ...]:
    s_z, errors, p_d = _z_window(eta_s, mu, epsilon, detector)
    s_1 = eta_s * (1.0 - p_d) + (1.0 - eta_s) * 2.0 * p_d * (1.0 - p_d)
    e_1_s_1 = eta_s * (1.0 - p_d) * e_d + (1.0 - eta_s) * p_d * (1.0 - p_d)
    with np.errstate(invalid="ignore", divide="ignore"):
        # No click at all (no light, no noise): no key, error rates set to 1/2.
        e_1 = np.where(s_1 > 0, e_1_s_1 / s_1, 0.5)
        e_z = np.where(s_z > 0, errors / s_z, 0.5)
    n_1 = 2.0 * epsilon * (1.0 - epsilon) * mu * np.exp(-mu) * s_1
    # Unclipped: negative where no key is possible, so the optimiser keeps a slope.
    rate = n_1 * (1.0 - capped_entropy(e_1)) - f_ec * s_z * capped_entropy(e_z)
    return s_z, e_z, s_1, e_1, rate


def _validate(
    transmittance: npt.ArrayLike, misalignment_error: float, error_correction_efficiency: float
) -> FloatArray:
    eta = np.asarray(transmittance, dtype=np.float64)
    if not np.all(np.isfinite(eta)) or np.any(eta < 0) or np.any(eta > 1):
        raise ConfigurationError(
            "transmittance: expected the Alice-Bob channel transmittance in [0, 1]",
            field="transmittance",
        )
    if not (np.isfinite(misalignment_error) and 0.0 <= misalignment_error <= 0.5):
        raise ConfigurationError(
            "misalignment_error: expected a fraction in [0, 0.5]", field="misalignment_error"
        )
    if not (np.isfinite(error_correction_efficiency) and error_correction_efficiency >= 1.0):
        raise ConfigurationError(
            "error_correction_efficiency: expected f >= 1 (typical 1.1-1.2)",
            field="error_correction_efficiency",
        )
    return eta


def _checked(name: str, value: npt.ArrayLike, bounds: tuple[float, float]) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr > bounds[1]):
        raise ConfigurationError(
            f"source.{name}: expected a value in (0, {bounds[1]:g}]", field=f"source.{name}"
        )
    return arr


def sns_effective_events(
    transmittance: npt.ArrayLike,
    *,
    intensity: npt.ArrayLike,
    sending_probability: npt.ArrayLike,
    detector: Detector,
) -> tuple[FloatArray, FloatArray]:
    """Z-window effective-event probability ``S_Z`` and its error rate ``E_Z`` per pulse pair.

    ``transmittance`` is the whole Alice-Bob channel (Charlie in the middle: each arm has
    ``sqrt(transmittance)``), without detector efficiency; arrays broadcast.

    >>> from euroqci.physics.detectors import Detector
    >>> s, e = sns_effective_events(1e-4, intensity=0.4, sending_probability=0.2,
    ...                             detector=Detector(efficiency=1.0, dark_count_probability=0))
    >>> round(float(s / (2 * 0.2 * 0.4 * 1e-2)), 2), round(float(e), 3)
    (1.0, 0.2)
    """
    eta = _validate(transmittance, 0.0, 1.0)
    mu = _checked("intensity", intensity, INTENSITY_RANGE)
    epsilon = _checked("sending_probability", sending_probability, (0.0, 0.5))
    eta_s = np.sqrt(eta) * detector.efficiency
    s_z, e_z, *_ = _rate(eta_s, mu, epsilon, detector, 0.0, 1.0)
    return s_z, e_z


def sns_secret_key_rate(
    transmittance: npt.ArrayLike,
    *,
    detector: Detector,
    misalignment_error: float = 0.03,
    error_correction_efficiency: float = 1.16,
    intensity: npt.ArrayLike | None = None,
    sending_probability: npt.ArrayLike | None = None,
) -> SNSRate:
    """Asymptotic SNS twin-field secret bits per pulse pair (Wang, Yu, Hu 2018).

    Parameters
    ----------
    transmittance : Alice-Bob channel transmittance in [0, 1] (Charlie in the middle, each
        arm ``sqrt(transmittance)``), without detector efficiency; scalar or array.
    detector : Charlie's two threshold detectors (efficiency, dark-count probability per
        pulse per detector, afterpulse probability).
    misalignment_error : ``e_d`` of the single-photon interference (phase drift and
        polarisation mismatch) in [0, 0.5].
    error_correction_efficiency : ``f >= 1``.
    intensity, sending_probability : ``mu`` and ``epsilon``; ``None`` optimises each per
        element (vectorised coordinate-wise golden-section search, three rounds).

    Returns
    -------
    SNSRate with arrays of the broadcast shape.

    >>> from euroqci.physics.detectors import Detector
    >>> r = sns_secret_key_rate([1e-10, 1e-12], detector=Detector(
    ...     efficiency=0.6, dark_count_probability=1e-10))
    >>> bool(np.all(r.secret_bits_per_pulse > -np.log2(1 - np.array([1e-10, 1e-12]))))
    True
    """
    eta = _validate(transmittance, misalignment_error, error_correction_efficiency)
    e_d, f_ec = misalignment_error, error_correction_efficiency
    shape = np.broadcast_shapes(
        eta.shape,
        np.shape(intensity) if intensity is not None else (),
        np.shape(sending_probability) if sending_probability is not None else (),
    )
    eta_s = np.broadcast_to(np.sqrt(eta) * detector.efficiency, shape)
    mu = (
        None
        if intensity is None
        else np.broadcast_to(_checked("intensity", intensity, INTENSITY_RANGE), shape)
    )
    eps = (
        None
        if sending_probability is None
        else np.broadcast_to(
            _checked("sending_probability", sending_probability, SENDING_PROBABILITY_RANGE), shape
        )
    )
    if mu is None or eps is None:
        mu, eps = _optimised_parameters(eta_s, mu, eps, detector, e_d, f_ec)
    s_z, e_z, s_1, e_1, rate = _rate(eta_s, mu, eps, detector, e_d, f_ec)
    return SNSRate(
        intensity=np.asarray(mu, dtype=np.float64),
        sending_probability=np.asarray(eps, dtype=np.float64),
        effective_event_probability=np.asarray(s_z, dtype=np.float64),
        qber=np.asarray(e_z, dtype=np.float64),
        single_photon_yield=np.asarray(s_1, dtype=np.float64),
        phase_error=np.asarray(e_1, dtype=np.float64),
        secret_bits_per_pulse=np.asarray(np.maximum(rate, 0.0), dtype=np.float64),
    )


def _informative(rate: FloatArray, s_z: FloatArray) -> FloatArray:
    """The rate where positive, else the deficit per effective event (``rate / S_Z``).

    Where no key is possible the rate tends to ``-f S_Z h(E_Z)`` as ``mu`` or ``epsilon`` go
    to zero, a spurious local maximum at the search boundary; per event the deficit keeps a
    slope towards the key region. Continuous at zero, so optima with a key are unchanged.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        per_event = np.where(s_z > 0, rate / np.maximum(s_z, 1e-300), -1.0)
    return np.asarray(np.where(rate > 0, rate, per_event), dtype=np.float64)


def _coordinate_search(
    eta_s: FloatArray,
    mu: FloatArray | None,
    eps: FloatArray | None,
    detector: Detector,
    e_d: float,
    f_ec: float,
) -> tuple[FloatArray, FloatArray]:
    """Coordinate-wise golden sections in ``log mu`` and ``log epsilon``, three rounds."""
    optimise_mu, optimise_eps = mu is None, eps is None
    mu_now = np.full(eta_s.shape, 0.4) if mu is None else mu
    eps_now = np.full(eta_s.shape, 0.05) if eps is None else eps
    mu_lo, mu_hi = np.log(INTENSITY_RANGE[0]), np.log(INTENSITY_RANGE[1])
    eps_lo, eps_hi = np.log(SENDING_PROBABILITY_RANGE[0]), np.log(SENDING_PROBABILITY_RANGE[1])

    def objective(m: FloatArray, ep: FloatArray) -> FloatArray:
        s_z, *_, rate = _rate(eta_s, m, ep, detector, e_d, f_ec)
        return _informative(rate, s_z)

    for _ in range(3):
        if optimise_mu:

            def along_mu(lm: FloatArray, ep: FloatArray = eps_now) -> FloatArray:
                return objective(np.exp(lm), ep)

            mu_now = np.exp(
                golden_section_maximise(
                    along_mu,
                    np.full(eta_s.shape, mu_lo),
                    np.full(eta_s.shape, mu_hi),
                    iterations=30,
                )
            )
        if optimise_eps:

            def along_eps(le: FloatArray, m: FloatArray = mu_now) -> FloatArray:
                return objective(m, np.exp(le))

            eps_now = np.exp(
                golden_section_maximise(
                    along_eps,
                    np.full(eta_s.shape, eps_lo),
                    np.full(eta_s.shape, eps_hi),
                    iterations=30,
                )
            )
    return np.asarray(mu_now), np.asarray(eps_now)


def _optimised_parameters(
    eta_s: FloatArray,
    mu: FloatArray | None,
    eps: FloatArray | None,
    detector: Detector,
    e_d: float,
    f_ec: float,
) -> tuple[FloatArray, FloatArray]:
    """Optimal ``(mu, epsilon)`` per element; large sweeps go through a transmittance grid.

    The optimum depends on the arm transmittance only, and smoothly, so for a sweep of more
    than ``OPTIMISATION_GRID_POINTS`` values (and no fixed parameter arrays) the search runs on
    that many log-spaced transmittances and the parameters are interpolated in ``log eta_s``:
    a sweep of 10^5 lengths costs a few hundred searches, not 10^5.
    """
    if eta_s.size <= OPTIMISATION_GRID_POINTS or mu is not None or eps is not None:
        return _coordinate_search(eta_s, mu, eps, detector, e_d, f_ec)
    log_eta = np.log(np.maximum(eta_s, 1e-300)).ravel()
    grid = np.linspace(log_eta.min(), log_eta.max(), OPTIMISATION_GRID_POINTS)
    mu_grid, eps_grid = _coordinate_search(np.exp(grid), None, None, detector, e_d, f_ec)
    mu_all = np.interp(log_eta, grid, np.log(mu_grid)).reshape(eta_s.shape)
    eps_all = np.interp(log_eta, grid, np.log(eps_grid)).reshape(eta_s.shape)
    return np.exp(mu_all), np.exp(eps_all)
