"""Density-evolution design of LDPC degree distributions for the binary symmetric channel.

Discretised density evolution (Chung, Forney, Richardson, Urbanke, "On the design of
low-density parity-check codes within 0.0045 dB of the Shannon limit", IEEE Commun. Lett. 5,
58 (2001)): the densities of belief-propagation messages (LLRs) on a uniform grid of width
``step``, saturated at ``+-max_llr``. A variable node of degree ``i`` adds the channel LLR and
``i - 1`` check messages (a convolution, by FFT, eq. (3) of Chung et al.); a check node of
degree ``j`` combines ``j - 1`` variable messages with the quantised pairwise rule
``Q(2 atanh(tanh(a/2) tanh(b/2)))`` (eq. (5)), applied by repeated squaring since the rule is
associative. Averaging over the edge-perspective distributions ``lambda(x) = sum_i lambda_i
x^(i-1)`` and ``rho(x)`` gives one iteration (Richardson and Urbanke, Modern Coding Theory
(2008), section 4.5). The threshold ``p*`` is the largest crossover probability at which the
error probability of the messages goes to zero (bisection; the channel family is degraded, so
the outcome is monotone in ``p``).

The designer ``scripts/design_ldpc_degrees.py`` optimises ``lambda`` with this threshold for
the mother codes of ``scripts/build_ldpc_codes.py``. Degrees here are node degrees (the
exponent of the polynomial plus one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.postprocessing.estimation import binary_entropy

__all__ = [
    "DensityEvolution",
    "bsc_density_evolution",
    "bsc_threshold",
    "check_degrees_for_rate",
    "design_rate",
    "threshold_efficiency",
]

#: Default grid: LLR bins of about 0.05 (moved so that the channel LLR falls on a bin) up to
#: |LLR| = 25; Chung et al. (2001) resolve thresholds to 1e-4 in p with this kind of grid.
STEP = 0.05
MAX_LLR = 25.0
#: The decoder succeeds when the error probability of the messages falls below this.
TARGET_ERROR = 1e-9


@dataclass(frozen=True)
class DensityEvolution:
    """Outcome of density evolution at one crossover probability."""

    converged: bool
    iterations: int
    error_probability: float


def _normalised(dist: Mapping[int, float], name: str) -> dict[int, float]:
    if not dist:
        raise ValueError(f"{name}: empty degree distribution")
    if any(int(d) != d or d < 1 for d in dist) or any(v < 0 for v in dist.values()):
        raise ValueError(f"{name}: degrees must be integers >= 1 and fractions >= 0")
    total = float(sum(dist.values()))
    if total <= 0:
        raise ValueError(f"{name}: fractions sum to {total}, expected > 0")
    return {int(d): v / total for d, v in sorted(dist.items()) if v > 0}


def design_rate(lam: Mapping[int, float], rho: Mapping[int, float]) -> float:
    """``1 - (sum_j rho_j / j) / (sum_i lambda_i / i)`` with node degrees ``i``, ``j``
    (Richardson and Urbanke, Modern Coding Theory (2008), eq. (3.19))."""
    lam = _normalised(lam, "lam")
    rho = _normalised(rho, "rho")
    return 1.0 - sum(r / j for j, r in rho.items()) / sum(v / i for i, v in lam.items())


def check_degrees_for_rate(lam: Mapping[int, float], rate: float) -> dict[int, float]:
    """Check distribution concentrated on two consecutive degrees that gives ``rate`` with
    ``lam`` (check-concentrated, as optimal for the BSC and BIAWGN: Chung et al. 2001)."""
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate: {rate}, expected in (0, 1)")
    lam = _normalised(lam, "lam")
    inv_mean = (1.0 - rate) * sum(v / i for i, v in lam.items())  # sum_j rho_j / j
    mean = 1.0 / inv_mean
    low = max(2, math.floor(mean))
    # rho_low / low + (1 - rho_low) / (low + 1) = inv_mean
    share = (inv_mean - 1.0 / (low + 1)) / (1.0 / low - 1.0 / (low + 1))
    share = min(max(share, 0.0), 1.0)
    return {d: v for d, v in ((low, share), (low + 1, 1.0 - share)) if v > 0}


def threshold_efficiency(rate: float, qber: float) -> float:
    """Reconciliation efficiency ``(1 - rate) / h(qber)`` of a code of ``rate`` at ``qber``."""
    return (1.0 - rate) / float(binary_entropy(qber))


def _box_plus_power(
    dens: npt.NDArray[np.float64], count: int, table: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Density of the box-plus of ``count`` independent messages of density ``dens``."""
    from euroqci.postprocessing import _ldpc_kernels as kernels

    out: npt.NDArray[np.float64] | None = None
    base = dens
    while count:
        if count & 1:
            out = base.copy() if out is None else kernels.de_box_plus(out, base, table)
        count >>= 1
        if count:
            base = kernels.de_box_plus(base, base, table)
    assert out is not None
    return out


def bsc_density_evolution(
    lam: Mapping[int, float],
    rho: Mapping[int, float],
    qber: float,
    *,
    step: float = STEP,
    max_llr: float = MAX_LLR,
    max_iterations: int = 1000,
    target_error: float = TARGET_ERROR,
) -> DensityEvolution:
    """Run discretised density evolution of belief propagation on BSC(``qber``).

    Parameters
    ----------
    lam, rho : mapping of int to float
        Edge-perspective variable and check degree distributions, ``{node degree: fraction of
        edges}`` (normalised here).
    qber : float
        Crossover probability of the BSC, in (0, 0.5).
    step : float
        Nominal LLR bin width; moved so that the channel LLR ``ln((1 - p) / p)`` is a bin.
    max_llr : float
        Saturation of the messages.
    max_iterations : int
        Iterations before giving up (a finite-iteration threshold when the decoder is slow).
    target_error : float
        Success when the probability that a variable-to-check message has the wrong sign
        (half of the mass at 0 counted wrong) falls below this.

    Returns
    -------
    DensityEvolution
        Whether it converged, after how many iterations, and the last error probability.
    """
    from euroqci.postprocessing import _ldpc_kernels as kernels

    lam = _normalised(lam, "lam")
    rho = _normalised(rho, "rho")
    if not 0.0 < qber < 0.5:
        raise ValueError(f"qber: {qber}, expected in (0, 0.5)")
    if step <= 0 or max_llr <= step:
        raise ValueError(f"step, max_llr: {step}, {max_llr}, expected 0 < step < max_llr")
    if min(lam) < 2 or min(rho) < 2:
        raise ValueError("lam, rho: node degrees must be >= 2")
    if max_iterations < 1:
        raise ValueError(f"max_iterations: {max_iterations}, expected >= 1")
    channel_llr = math.log((1.0 - qber) / qber)
    k_ch = max(1, round(channel_llr / step))
    step = channel_llr / k_ch
    levels = math.ceil(max_llr / step)
    k_ch = min(k_ch, levels)
    size = 2 * levels + 1
    table = kernels.de_box_plus_table(levels, step)

    channel = np.zeros(size)
    channel[levels + k_ch] = 1.0 - qber
    channel[levels - k_ch] = qber
    var_degrees = sorted(lam)
    chk_degrees = sorted(rho)
    # Linear convolution of (i - 1) check densities and the channel, by FFT.
    span = (var_degrees[-1] - 1) * (size - 1) + 2 * k_ch + 1
    fft_size = 1 << math.ceil(math.log2(span))
    ch_short = np.zeros(2 * k_ch + 1)
    ch_short[-1] = 1.0 - qber
    ch_short[0] = qber
    ch_spec = np.fft.rfft(ch_short, fft_size)

    v2c = channel.copy()
    prev = 1.0
    for it in range(1, max_iterations + 1):
        # Check nodes: box-plus powers of the variable density (binary exponentiation).
        c2v = np.zeros(size)
        acc: npt.NDArray[np.float64] | None = None
        have = 0
        for j in chk_degrees:
            more = _box_plus_power(v2c, j - 1 - have, table)
            acc = more if acc is None else kernels.de_box_plus(acc, more, table)
            have = j - 1
            c2v += rho[j] * acc
        c2v = np.maximum(c2v, 0.0)
        c2v /= c2v.sum()
        # Variable nodes: channel plus (i - 1) check messages, saturated at +-levels.
        spec = np.fft.rfft(c2v, fft_size)
        new = np.zeros(size)
        for i in var_degrees:
            full = np.fft.irfft(spec ** (i - 1) * ch_spec, fft_size)
            offset = (i - 1) * levels + k_ch  # index of LLR 0 in ``full``
            low = offset - levels
            high = offset + levels
            dens = np.empty(size)
            dens[:] = full[low : high + 1]
            dens[0] += full[:low].sum() if low > 0 else 0.0
            dens[-1] += full[high + 1 : span].sum()
            new += lam[i] * dens
        new = np.maximum(new, 0.0)
        v2c = new / new.sum()
        error = float(v2c[:levels].sum() + 0.5 * v2c[levels])
        if error < target_error:
            return DensityEvolution(True, it, error)
        # A fixed point (no progress) is a failure; slow progress runs on to max_iterations.
        if it > 20 and error > prev * (1.0 - 1e-7):
            return DensityEvolution(False, it, error)
        prev = error
    return DensityEvolution(False, max_iterations, error)


def bsc_threshold(
    lam: Mapping[int, float],
    rho: Mapping[int, float],
    *,
    low: float = 1e-3,
    high: float = 0.2,
    tolerance: float = 2e-5,
    step: float = STEP,
    max_llr: float = MAX_LLR,
    max_iterations: int = 1000,
) -> float:
    """BSC threshold ``p*`` of belief propagation on the ensemble ``(lam, rho)``.

    Bisection between ``low`` (must converge) and ``high`` down to ``tolerance``: the largest
    crossover probability tried at which :func:`bsc_density_evolution` converged. Returns
    ``low`` if nothing above it converged.
    """
    if not 0.0 < low < high < 0.5:
        raise ValueError(f"low, high: {low}, {high}, expected 0 < low < high < 0.5")
    good, bad = low, high
    while bad - good > tolerance:
        mid = 0.5 * (good + bad)
        res = bsc_density_evolution(
            lam, rho, mid, step=step, max_llr=max_llr, max_iterations=max_iterations
        )
        if res.converged:
            good = mid
        else:
            bad = mid
    return good
