"""Optimise variable degree distributions of LDPC mother codes for the BSC by density evolution.

Run: ``PYTHONPATH=src python scripts/design_ldpc_degrees.py --rates 0.85,0.90`` (one core;
about 3-6 minutes per rate with the defaults; ``--json FILE`` writes the results).

For each rate ``R``: the edge-perspective variable distribution ``lambda`` on a fixed support
of node degrees (``SUPPORT``, capped at the ``round((1 - R) * 256)`` base rows of the QC
construction), the check distribution concentrated on two consecutive degrees that give ``R``
(``ldpc_design.check_degrees_for_rate``), maximising the BSC threshold ``p*`` of discretised
density evolution (``ldpc_design.bsc_threshold``, Chung, Forney, Richardson, Urbanke, IEEE
Commun. Lett. 5, 58 (2001)) with at most ``--max-iterations`` iterations: a finite-iteration
threshold, closer to a decoder that stops after some tens of layered sweeps than the
asymptotic one, and penalising distributions that converge slowly. Search: differential
evolution (Storn and Price, J. Global Optim. 11, 341 (1997), DE/rand/1/bin) on the unnormalised
weights; a trial replaces its parent only if density evolution converges at the parent's
threshold, then its own threshold is found by bisection above it (so most trials cost one run).

Finite-length constraint: fewer degree-2 variables than ``DEGREE2_SHARE`` of the checks
(``lambda_2 / 2 <= share * (1 - R) * sum_i lambda_i / i``): more would close cycles of
degree-2 variables, low-weight codewords that density evolution (infinite length) cannot see.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from euroqci.postprocessing.ldpc_design import (
    bsc_density_evolution,
    bsc_threshold,
    check_degrees_for_rate,
    threshold_efficiency,
)

BASE_COLUMNS = 256
#: Candidate node degrees of the variables (those above the number of base rows are dropped).
SUPPORT = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50)
DEGREE2_SHARE = 0.9
#: Grid of the optimisation runs (the final thresholds are recomputed at the finer default).
STEP = 0.1


def binary_entropy(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def qber_at(rate: float, efficiency: float) -> float:
    """Crossover probability ``p`` with ``efficiency * h(p) = 1 - rate``."""
    lo, hi = 1e-6, 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if efficiency * binary_entropy(mid) < 1 - rate:
            lo = mid
        else:
            hi = mid
    return lo


def repair(weights: np.ndarray, support: list[int], rate: float, share: float) -> dict[int, float]:
    """Normalised ``lambda`` from raw weights, degree-2 edges cut to the cap."""
    w = np.maximum(weights, 0.0)
    if w.sum() <= 0:
        w = np.ones_like(w)
    lam = w / w.sum()
    degs = np.array(support, dtype=float)
    if support[0] == 2:
        rest = lam[1:] / degs[1:]
        # lambda_2 / 2 <= share (1 - R) (lambda_2 / 2 + sum_{i>2} lambda_i / i), with the
        # others' total 1 - lambda_2: solve for the largest lambda_2.
        a = share * (1 - rate)
        s_rest = rest.sum() / max(lam[1:].sum(), 1e-300)  # per unit of non-2 mass
        cap = a * s_rest / (0.5 * (1 - a) + a * s_rest)
        if lam[0] > cap:
            lam[1:] *= (1 - cap) / max(lam[1:].sum(), 1e-300)
            lam[0] = cap
    return {d: float(v) for d, v in zip(support, lam, strict=True) if v > 1e-6}


def optimise(
    rate: float,
    *,
    population: int,
    generations: int,
    max_iterations: int,
    seed: int,
    seeds: list[dict[int, float]],
    max_degree: int = max(SUPPORT),
    base_columns: int = BASE_COLUMNS,
    degree2_share: float = DEGREE2_SHARE,
    log: bool = True,
) -> tuple[dict[int, float], float]:
    m_b = round((1 - rate) * base_columns)
    support = [d for d in SUPPORT if d <= min(m_b, max_degree)]
    rng = np.random.default_rng([seed, round(1000 * rate)])
    lo_p, hi_p = qber_at(rate, 1.4), qber_at(rate, 0.999)

    def threshold(lam: dict[int, float], low: float) -> float:
        rho = check_degrees_for_rate(lam, rate)
        return bsc_threshold(
            lam, rho, low=low, high=hi_p, tolerance=1e-5 * low / 0.01, step=STEP,
            max_iterations=max_iterations,
        )  # fmt: skip

    def converges(lam: dict[int, float], p: float) -> bool:
        rho = check_degrees_for_rate(lam, rate)
        return bsc_density_evolution(
            lam, rho, p, step=STEP, max_iterations=max_iterations
        ).converged

    pop = rng.random((population, len(support)))
    # Sparse starts: a third of the weights switched off.
    pop *= rng.random(pop.shape) < 0.67
    for i, lam in enumerate(seeds[:population]):
        pop[i] = [lam.get(d, 0.0) for d in support]
    fit = np.array([threshold(repair(x, support, rate, degree2_share), lo_p) for x in pop])
    t0 = time.perf_counter()
    for gen in range(generations):
        for i in range(population):
            a, b, c = rng.choice([j for j in range(population) if j != i], 3, replace=False)
            mutant = pop[a] + 0.6 * (pop[b] - pop[c])
            cross = rng.random(len(support)) < 0.7
            cross[rng.integers(len(support))] = True
            trial = np.clip(np.where(cross, mutant, pop[i]), 0.0, None)
            lam = repair(trial, support, rate, degree2_share)
            if converges(lam, fit[i] * (1 + 1e-4)):
                fit[i] = threshold(lam, fit[i])
                pop[i] = trial
        best = int(np.argmax(fit))
        if log:
            print(
                f"rate {rate:.2f} generation {gen + 1}: best p* = {fit[best]:.5f}"
                f" (f = {threshold_efficiency(rate, fit[best]):.4f}),"
                f" {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    best = int(np.argmax(fit))
    return repair(pop[best], support, rate, degree2_share), float(fit[best])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="0.80,0.83,0.86,0.88,0.90,0.92,0.94")
    parser.add_argument("--population", type=int, default=14)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--max-iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--max-degree", type=int, default=max(SUPPORT))
    parser.add_argument("--base-columns", type=int, default=BASE_COLUMNS)
    parser.add_argument("--degree2-share", type=float, default=DEGREE2_SHARE)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--start", type=Path, help="a --json file of an earlier run: its designs seed the search"
    )
    args = parser.parse_args()
    earlier = json.loads(args.start.read_text()) if args.start else {}
    results = {}
    for rate in map(float, args.rates.split(",")):
        seeds = [
            {2: 0.2, 3: 0.1, 5: 0.1, 8: 0.1, 20: 0.5},
            {2: 0.15, 3: 0.25, 8: 0.3, 12: 0.3},
        ]
        seeds += [
            {int(d): v for d, v in found["lambda"].items()}
            for r, found in earlier.items()
            if abs(float(r) - rate) < 0.035
        ]
        lam, p_opt = optimise(
            rate,
            population=args.population,
            generations=args.generations,
            max_iterations=args.max_iterations,
            seed=args.seed,
            seeds=seeds,
            max_degree=args.max_degree,
            base_columns=args.base_columns,
            degree2_share=args.degree2_share,
        )
        rho = check_degrees_for_rate(lam, rate)
        # Fine-grid thresholds: finite-iteration and asymptotic.
        p_fin = bsc_threshold(lam, rho, low=0.5 * p_opt, high=1.5 * p_opt, tolerance=2e-6,
                              max_iterations=args.max_iterations)  # fmt: skip
        p_inf = bsc_threshold(lam, rho, low=0.5 * p_opt, high=1.5 * p_opt, tolerance=2e-6)
        results[f"{rate:.2f}"] = {
            "lambda": {str(d): round(v, 5) for d, v in lam.items()},
            "rho": {str(d): round(v, 5) for d, v in rho.items()},
            "threshold_qber": p_inf,
            "threshold_efficiency": threshold_efficiency(rate, p_inf),
            f"threshold_qber_{args.max_iterations}_iterations": p_fin,
            f"threshold_efficiency_{args.max_iterations}_iterations": threshold_efficiency(
                rate, p_fin
            ),
        }
        print(json.dumps({f"{rate:.2f}": results[f"{rate:.2f}"]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
