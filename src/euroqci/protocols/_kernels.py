"""Numeric kernels of the key-rate models: pure functions on numpy arrays.

No classes, I/O or logging here; the public wrappers validate inputs first. Arrays broadcast;
the decoy kernels take per-intensity quantities on the LAST axis (``[..., k]``, signal first).
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)


def binary_entropy(p):
    """h(p) = -p log2 p - (1-p) log2(1-p), with h(0) = h(1) = 0; p clipped to [0, 1]."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))
    return np.where((p <= 0.0) | (p >= 1.0), 0.0, h)


def hoeffding_bounds(counts, total, log_term):
    """Lim et al. (2014) deviation: counts -/+ sqrt(total/2 ln(1/eps)), ``log_term = ln(1/eps)``.

    Returns (lower, upper) on the expected counts (Eqs. A7-A10).
    """
    delta = np.sqrt(np.maximum(total, 0.0) / 2.0 * log_term)[..., None]
    return counts - delta, counts + delta


def chernoff_bounds(counts, log_term):
    """Multiplicative Chernoff bounds on the expectation of a sum of independent Bernoulli trials.

    With beta = ln(1/eps), inverting P[X >= (1+d) m] <= exp(-d^2 m / (2 + d)) and
    P[X <= (1-d) m] <= exp(-d^2 m / 2) for the unknown mean m given the observation x gives
    (closed forms as in Zhang et al., PRA 95, 012333 (2017) and Curty et al., Nat. Commun. 5,
    3732 (2014))::

        m_lower = x + beta/2 - sqrt(2 beta x + beta^2 / 4)
        m_upper = x + beta   + sqrt(2 beta x + beta^2)
    """
    x = np.maximum(counts, 0.0)
    beta = log_term
    lower = x + beta / 2.0 - np.sqrt(2.0 * beta * x + beta * beta / 4.0)
    upper = x + beta + np.sqrt(2.0 * beta * x + beta * beta)
    return lower, upper


def decoy_vacuum_lower(n_minus, n_plus, mu, p, tau0):
    """Lower bound on vacuum events s_0, Lim et al. (2014) Eq. (2) / (A4).

    ``n_minus``, ``n_plus``: bounds on expected counts per intensity already scaled by e^k/p_k.
    """
    mu2, mu3 = mu[..., 1], mu[..., 2]
    return tau0 * (mu2 * n_minus[..., 2] - mu3 * n_plus[..., 1]) / (mu2 - mu3)


def decoy_single_lower(n_minus, n_plus, mu, s0, tau0, tau1):
    """Lower bound on single-photon events s_1, Lim et al. (2014) Eq. (3) / (A5)."""
    mu1, mu2, mu3 = mu[..., 0], mu[..., 1], mu[..., 2]
    num = (
        n_minus[..., 1] - n_plus[..., 2] - (mu2**2 - mu3**2) / mu1**2 * (n_plus[..., 0] - s0 / tau0)
    )
    den = mu1 * (mu2 - mu3) - mu2**2 + mu3**2
    return tau1 * mu1 * num / den


def decoy_single_errors_upper(m_minus, m_plus, mu, tau1):
    """Upper bound on single-photon errors v_1, Lim et al. (2014) Eq. (4) / (A6)."""
    mu2, mu3 = mu[..., 1], mu[..., 2]
    return tau1 * (m_plus[..., 1] - m_minus[..., 2]) / (mu2 - mu3)


def phase_error_gamma(a, b, c, d):
    """Random-sampling correction gamma(a, b, c, d) of Lim et al. (2014) Eq. (5).

    gamma = sqrt((c+d)(1-b) b / (c d ln 2) * log2((c+d) / (c d (1-b) b) * 21^2 / a^2)),
    with ``a = eps_sec``, ``b`` the observed single-photon error rate, ``c = s_Z1``,
    ``d = s_X1``. The logarithm is taken term by term so that no product overflows.
    """
    b = np.clip(b, 1e-300, 0.5)
    c = np.maximum(c, 1e-300)
    d = np.maximum(d, 1e-300)
    log2_inner = (
        np.log2(c + d)
        - np.log2(c)
        - np.log2(d)
        - np.log2(1.0 - b)
        - np.log2(b)
        + 2.0 * np.log2(21.0)
        - 2.0 * np.log2(a)
    )
    val = (1.0 / c + 1.0 / d) * (1.0 - b) * b / LN2 * np.maximum(log2_inner, 0.0)
    return np.sqrt(np.maximum(val, 0.0))


def photon_number_probabilities(mu, p, n):
    """tau_n = sum_k p_k e^{-k} k^n / n!: probability that Alice sends n photons (Lim Eq. (2))."""
    fact = 1.0
    for i in range(2, n + 1):
        fact *= i
    return np.sum(p * np.exp(-mu) * mu**n, axis=-1) / fact


def lim_key_length(n_x, n_z, m_x, m_z, mu, p, leak_ec_bits, eps_sec, eps_cor, use_chernoff):
    """Finite-key secret key length of Lim et al., PRA 89, 022307 (2014), Eqs. (1)-(5).

    Arrays: ``n_x, n_z, m_x, m_z, mu, p`` have the three intensities on the last axis;
    ``leak_ec_bits``, ``eps_sec``, ``eps_cor`` broadcast against the leading axes.
    Returns ``(ell_raw, s_x0, s_x1, s_z1, v_z1, phi_x)``. ``ell_raw`` is not floored or clipped
    at 0 so that an optimiser sees a slope where no key can be made.
    """
    log_term = np.log(21.0 / eps_sec)
    scale = np.exp(mu) / p
    nx_tot = np.sum(n_x, axis=-1)
    nz_tot = np.sum(n_z, axis=-1)
    mz_tot = np.sum(m_z, axis=-1)
    if use_chernoff:
        lt = np.asarray(log_term)[..., None]
        nx_lo, nx_hi = chernoff_bounds(n_x, lt)
        nz_lo, nz_hi = chernoff_bounds(n_z, lt)
        mz_lo, mz_hi = chernoff_bounds(m_z, lt)
    else:
        nx_lo, nx_hi = hoeffding_bounds(n_x, nx_tot, log_term)
        nz_lo, nz_hi = hoeffding_bounds(n_z, nz_tot, log_term)
        mz_lo, mz_hi = hoeffding_bounds(m_z, mz_tot, log_term)
    tau0 = photon_number_probabilities(mu, p, 0)
    tau1 = photon_number_probabilities(mu, p, 1)
    # A count is never negative, so a negative lower bound on s_0 is replaced by 0 before it
    # enters Eq. (3) and Eq. (1): still a valid bound, and never looser.
    s_x0 = np.maximum(decoy_vacuum_lower(scale * nx_lo, scale * nx_hi, mu, p, tau0), 0.0)
    s_x1 = decoy_single_lower(scale * nx_lo, scale * nx_hi, mu, s_x0, tau0, tau1)
    s_z0 = np.maximum(decoy_vacuum_lower(scale * nz_lo, scale * nz_hi, mu, p, tau0), 0.0)
    s_z1 = decoy_single_lower(scale * nz_lo, scale * nz_hi, mu, s_z0, tau0, tau1)
    v_z1 = decoy_single_errors_upper(scale * mz_lo, scale * mz_hi, mu, tau1)
    ratio = np.clip(
        np.divide(v_z1, s_z1, out=np.full(np.shape(v_z1 * s_z1), 0.5), where=s_z1 > 1e-300),
        0.0,
        0.5,
    )
    phi_x = np.minimum(ratio + phase_error_gamma(eps_sec, ratio, s_z1, s_x1), 0.5)
    phi_x = np.where((s_z1 > 0) & (s_x1 > 0), phi_x, 0.5)
    ell_raw = (
        s_x0
        + s_x1 * (1.0 - binary_entropy(phi_x))
        - leak_ec_bits
        - 6.0 * np.log2(21.0 / eps_sec)
        - np.log2(2.0 / eps_cor)
    )
    return ell_raw, s_x0, s_x1, s_z1, v_z1, phi_x


def asymptotic_decoy_single_photon(q, e, mu, p):
    """Asymptotic (no fluctuation) three-intensity bounds on per-pulse single-photon quantities.

    ``q[..., k]`` and ``e[..., k]`` are the per-pulse click and error-click probabilities of
    intensity k; the Lim et al. (2014) bounds with expected counts ``p_k q_k`` (delta = 0) give
    the per-pulse vacuum and single-photon detection probabilities and the single-photon error
    probability. Returns ``(s0, s1, e1)`` with e1 the single-photon error rate.
    """
    scale = np.exp(mu)
    tau0 = photon_number_probabilities(mu, p, 0)
    tau1 = photon_number_probabilities(mu, p, 1)
    # Expected counts per pulse are p_k q_k, so e^k / p_k times them is e^k q_k; with no
    # fluctuation the lower and upper bounds coincide.
    gain = scale * q
    error_gain = scale * e
    s0 = np.maximum(decoy_vacuum_lower(gain, gain, mu, p, tau0), 0.0)
    s1 = decoy_single_lower(gain, gain, mu, s0, tau0, tau1)
    v1 = decoy_single_errors_upper(error_gain, error_gain, mu, tau1)
    e1 = np.where(s1 > 0, np.clip(v1 / np.maximum(s1, 1e-300), 0.0, 0.5), 0.5)
    return s0, s1, e1
