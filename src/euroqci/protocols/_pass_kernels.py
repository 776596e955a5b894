"""Compiled kernel of the finite-key pass model: the optimiser's hot loop.

Pure functions on arrays and scalars, compiled with numba (``euroqci._jit.njit``; plain Python
with ``NUMBA_DISABLE_JIT=1``). Imported lazily by ``bb84_decoy.pass_key_length_raw``.
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import njit

LN2 = np.log(2.0)


@njit(cache=True)
def _bound_pair(x, total, scale, log_term, use_chernoff):
    """Lower and upper bound on e^k/p_k times an expected count (Lim Eqs. A7-A10)."""
    if use_chernoff:
        xc = max(x, 0.0)
        lo = xc + log_term / 2.0 - np.sqrt(2.0 * log_term * xc + log_term * log_term / 4.0)
        hi = xc + log_term + np.sqrt(2.0 * log_term * xc + log_term * log_term)
        return scale * lo, scale * hi
    d = np.sqrt(max(total, 0.0) / 2.0 * log_term)
    return scale * (x - d), scale * (x + d)


@njit(cache=True)
def _s0_s1(lo0, hi0, lo1, hi1, lo2, hi2, mu1, mu2, mu3, tau0, tau1):
    """Vacuum and single-photon lower bounds, Lim et al. (2014) Eqs. (2)-(3)."""
    s0 = max(tau0 * (mu2 * lo2 - mu3 * hi1) / (mu2 - mu3), 0.0)
    c = (mu2 * mu2 - mu3 * mu3) / (mu1 * mu1)
    den = mu1 * (mu2 - mu3) - mu2 * mu2 + mu3 * mu3
    s1 = tau1 * mu1 * (lo1 - hi2 - c * (hi0 - s0 / tau0)) / den
    return s0, s1


@njit(cache=True)
def _lim_scalar(nx, nz, mx, mz, mu, p, tau0, tau1, leak, eps_sec, eps_cor, use_chernoff):
    """Lim et al. (2014) Eqs. (1)-(5) for one set of counts (length-3 arrays); unfloored l.

    Scalar twin of ``_kernels.lim_key_length``, without allocations, for the pass kernel.
    """
    log_term = np.log(21.0 / eps_sec)
    nx_t = nx[0] + nx[1] + nx[2]
    nz_t = nz[0] + nz[1] + nz[2]
    mz_t = mz[0] + mz[1] + mz[2]
    sc0 = np.exp(mu[0]) / p[0]
    sc1 = np.exp(mu[1]) / p[1]
    sc2 = np.exp(mu[2]) / p[2]
    a0, b0 = _bound_pair(nx[0], nx_t, sc0, log_term, use_chernoff)
    a1, b1 = _bound_pair(nx[1], nx_t, sc1, log_term, use_chernoff)
    a2, b2 = _bound_pair(nx[2], nx_t, sc2, log_term, use_chernoff)
    s_x0, s_x1 = _s0_s1(a0, b0, a1, b1, a2, b2, mu[0], mu[1], mu[2], tau0, tau1)
    a0, b0 = _bound_pair(nz[0], nz_t, sc0, log_term, use_chernoff)
    a1, b1 = _bound_pair(nz[1], nz_t, sc1, log_term, use_chernoff)
    a2, b2 = _bound_pair(nz[2], nz_t, sc2, log_term, use_chernoff)
    _, s_z1 = _s0_s1(a0, b0, a1, b1, a2, b2, mu[0], mu[1], mu[2], tau0, tau1)
    _, hi1 = _bound_pair(mz[1], mz_t, sc1, log_term, use_chernoff)
    lo2, _ = _bound_pair(mz[2], mz_t, sc2, log_term, use_chernoff)
    v_z1 = tau1 * (hi1 - lo2) / (mu[1] - mu[2])
    if s_z1 > 1e-300 and s_x1 > 0.0:
        b = min(max(v_z1 / s_z1, 0.0), 0.5)
        bb = min(max(b, 1e-300), 0.5)
        log2_inner = (
            np.log2(s_z1 + s_x1)
            - np.log2(s_z1)
            - np.log2(s_x1)
            - np.log2(1.0 - bb)
            - np.log2(bb)
            + 2.0 * np.log2(21.0)
            - 2.0 * np.log2(eps_sec)
        )
        val = (1.0 / s_z1 + 1.0 / s_x1) * (1.0 - bb) * bb / LN2 * max(log2_inner, 0.0)
        phi = min(b + np.sqrt(max(val, 0.0)), 0.5)
    else:
        phi = 0.5
    if phi <= 0.0:
        h = 0.0
    else:
        h = -(phi * np.log2(phi) + (1.0 - phi) * np.log2(1.0 - phi))
    return s_x0 + s_x1 * (1.0 - h) - leak - 6.0 * np.log2(21.0 / eps_sec) - np.log2(2.0 / eps_cor)


@njit(cache=True)
def pass_key_length_max(
    t_sorted,
    pulses_per_slot,
    mu,
    p,
    p_x,
    eff,
    p_dc,
    p_ap,
    e_mis,
    f_ec,
    eps_sec,
    eps_cor,
    use_chernoff,
    optimise_window,
):
    """Best unfloored key length over the best-first windows of a pass, per parameter row.

    ``t_sorted``: slot transmittances, highest first, shape (S,); ``mu``, ``p``: (R, 3);
    ``p_x``: (R,). Same model as ``bb84_decoy.finite_key_pass`` (Lim et al. 2014 counts, click
    and error model of ``physics.detectors``), fused into one loop per row so that the
    optimiser's many small evaluations do not pay numpy's per-call overhead.
    """
    n_rows = mu.shape[0]
    n_slots = t_sorted.shape[0]
    out = np.empty(n_rows)
    for r in range(n_rows):
        px2 = p_x[r] ** 2
        pz2 = (1.0 - p_x[r]) ** 2
        mur = mu[r]
        pr = p[r]
        tau0 = 0.0
        tau1 = 0.0
        for k in range(3):
            tau0 += pr[k] * np.exp(-mur[k])
            tau1 += pr[k] * np.exp(-mur[k]) * mur[k]
        nx = np.zeros(3)
        nz = np.zeros(3)
        mx = np.zeros(3)
        mz = np.zeros(3)
        best = -np.inf
        for s in range(n_slots):
            for k in range(3):
                x = t_sorted[s] * eff * mur[k]
                d = -np.expm1(-x) + 2.0 * p_dc * np.exp(-x)
                click = d * (1.0 + p_ap)
                err = p_dc + e_mis * (-np.expm1(-x)) + p_ap * d / 2.0
                w = pulses_per_slot * pr[k]
                nx[k] += w * click * px2
                nz[k] += w * click * pz2
                mx[k] += w * err * px2
                mz[k] += w * err * pz2
            if optimise_window or s == n_slots - 1:
                nx_t = nx[0] + nx[1] + nx[2]
                qber = (mx[0] + mx[1] + mx[2]) / max(nx_t, 1e-300)
                q = min(max(qber, 0.0), 1.0)
                if q <= 0.0 or q >= 1.0:
                    hq = 0.0
                else:
                    hq = -(q * np.log2(q) + (1.0 - q) * np.log2(1.0 - q))
                ell = _lim_scalar(
                    nx,
                    nz,
                    mx,
                    mz,
                    mur,
                    pr,
                    tau0,
                    tau1,
                    f_ec * nx_t * hq,
                    eps_sec,
                    eps_cor,
                    use_chernoff,
                )
                if ell > best:
                    best = ell
        out[r] = best
    return out
