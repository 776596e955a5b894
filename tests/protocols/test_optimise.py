from __future__ import annotations

import numpy as np

from euroqci.protocols.optimise import minimize_batched


def test_batched_problems_are_solved_independently() -> None:
    centres = np.array([[1.0, -2.0], [3.0, 0.5], [-1.0, -1.0]])

    def fun(x: np.ndarray, problems: np.ndarray) -> np.ndarray:
        return np.sum((x - centres[problems]) ** 2, axis=1)

    x, f = minimize_batched(fun, np.zeros((3, 2)), xtol=1e-7, ftol_rel=1e-12)
    np.testing.assert_allclose(x, centres, atol=1e-5)
    assert np.all(f < 1e-9)


def test_rosenbrock_reaches_the_valley_minimum() -> None:
    def fun(x: np.ndarray, problems: np.ndarray) -> np.ndarray:
        return (1 - x[:, 0]) ** 2 + 100 * (x[:, 1] - x[:, 0] ** 2) ** 2

    x, _ = minimize_batched(fun, np.array([[-1.2, 1.0]]), max_iter=2000, xtol=1e-8, ftol_rel=1e-14)
    np.testing.assert_allclose(x[0], [1.0, 1.0], atol=1e-3)


def test_nan_values_count_as_infinite() -> None:
    def fun(x: np.ndarray, problems: np.ndarray) -> np.ndarray:
        return np.where(x[:, 0] < 0, np.nan, (x[:, 0] - 2) ** 2)

    x, _ = minimize_batched(fun, np.array([[0.5]]), xtol=1e-7, ftol_rel=1e-12)
    assert abs(x[0, 0] - 2) < 1e-4
