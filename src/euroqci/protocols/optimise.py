"""Batched Nelder-Mead: many independent small optimisations in one vectorised loop.

A sweep over 10^3 fibre lengths, each with its own optimal intensities, is one call: every
point keeps its own simplex and the objective is evaluated for all points at once. Written by
hand because scipy's minimisers optimise one problem per call; the update rules are those of
Nelder and Mead, Comput. J. 7, 308 (1965), with the standard coefficients (reflection 1,
expansion 2, contraction 1/2, shrink 1/2) as in Gao and Han, Comput. Optim. Appl. 51, 259
(2012), Sec. 2.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["minimize_batched"]

FloatArray = npt.NDArray[np.float64]


Objective = Callable[[FloatArray, npt.NDArray[np.intp]], FloatArray]


def _evaluate(fun: Objective, x: FloatArray, problems: npt.NDArray[np.intp]) -> FloatArray:
    values = np.asarray(fun(x, problems), dtype=np.float64)
    return np.where(np.isfinite(values), values, np.inf)


def minimize_batched(
    fun: Objective,
    x0: FloatArray,
    *,
    step: float = 0.8,
    max_iter: int = 400,
    xtol: float = 1e-3,
    ftol_rel: float = 1e-7,
) -> tuple[FloatArray, FloatArray]:
    """Minimise ``fun`` independently for each row of ``x0``.

    Parameters
    ----------
    fun : ``fun(x, problems)`` maps points ``x``, shape ``(n, n_vars)``, to values, shape
        ``(n,)``; ``problems[i]`` is the index (row of ``x0``) of the problem that row ``i``
        belongs to. Rows must not mix. Non-finite values count as +inf.
    x0 : starting points, shape ``(n_problems, n_vars)``.
    step : size of the initial simplex along each axis.
    max_iter : iteration limit.
    xtol, ftol_rel : a problem stops when its simplex is smaller than ``xtol`` and its values
        agree to ``ftol_rel`` (relative).

    Returns
    -------
    (x_best, f_best) with shapes ``(n_problems, n_vars)`` and ``(n_problems,)``.
    """
    x0 = np.atleast_2d(np.asarray(x0, dtype=np.float64))
    n_prob, n_var = x0.shape
    simplex = np.repeat(x0[:, None, :], n_var + 1, axis=1)
    simplex[:, 1:, :] += step * np.eye(n_var)[None, :, :]
    all_rows = np.arange(n_prob)
    fvals = _evaluate(fun, simplex.reshape(-1, n_var), np.repeat(all_rows, n_var + 1)).reshape(
        n_prob, n_var + 1
    )
    active = np.ones(n_prob, dtype=bool)
    for _ in range(max_iter):
        order = np.argsort(fvals, axis=1)
        simplex = np.take_along_axis(simplex, order[:, :, None], axis=1)
        fvals = np.take_along_axis(fvals, order, axis=1)
        spread_f = np.abs(fvals[:, -1] - fvals[:, 0]) <= ftol_rel * (np.abs(fvals[:, 0]) + 1e-300)
        spread_x = np.max(np.abs(simplex[:, 1:, :] - simplex[:, :1, :]), axis=(1, 2)) <= xtol
        active &= ~(spread_f & spread_x)
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        s = simplex[idx]
        f = fvals[idx]
        worst = s[:, -1, :]
        centroid = s[:, :-1, :].mean(axis=1)
        candidates = np.stack(
            [
                2.0 * centroid - worst,  # reflection
                3.0 * centroid - 2.0 * worst,  # expansion
                1.5 * centroid - 0.5 * worst,  # outside contraction
                0.5 * centroid + 0.5 * worst,  # inside contraction
            ],
            axis=1,
        )
        fc = _evaluate(fun, candidates.reshape(-1, n_var), np.repeat(idx, 4)).reshape(idx.size, 4)
        fr, fe, foc, fic = fc[:, 0], fc[:, 1], fc[:, 2], fc[:, 3]
        f_best, f_second, f_worst = f[:, 0], f[:, -2], f[:, -1]
        choice = np.full(idx.size, -1)  # -1 means shrink
        choice[(fr < f_best) & (fe < fr)] = 1
        choice[(fr < f_best) & ~(fe < fr)] = 0
        choice[(fr >= f_best) & (fr < f_second)] = 0
        outside = (fr >= f_second) & (fr < f_worst)
        choice[outside & (foc <= fr)] = 2
        inside = fr >= f_worst
        choice[inside & (fic < f_worst)] = 3
        take = choice >= 0
        rows = np.flatnonzero(take)
        s[rows, -1, :] = candidates[rows, choice[rows], :]
        f[rows, -1] = fc[rows, choice[rows]]
        shrink = np.flatnonzero(~take)
        if shrink.size:
            best = s[shrink, :1, :]
            s[shrink, 1:, :] = best + 0.5 * (s[shrink, 1:, :] - best)
            f[shrink, 1:] = _evaluate(
                fun, s[shrink, 1:, :].reshape(-1, n_var), np.repeat(idx[shrink], n_var)
            ).reshape(shrink.size, n_var)
        simplex[idx] = s
        fvals[idx] = f
    best = np.argmin(fvals, axis=1)
    x_best = simplex[np.arange(n_prob), best, :]
    return x_best, fvals[np.arange(n_prob), best]
