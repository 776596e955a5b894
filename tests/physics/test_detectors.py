from __future__ import annotations

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector, click_probability, error_click_probability
from euroqci.physics.sources import poisson_photon_probability, thermal_pair_probability


def test_click_probability_matches_closed_form() -> None:
    det = Detector(efficiency=0.1, dark_count_probability=6e-7, afterpulse_probability=0.04)
    t, mu = 0.01, 0.5
    expected = (1 - (1 - 2 * 6e-7) * np.exp(-t * 0.1 * mu)) * 1.04
    assert float(click_probability(t, mu, det)) == pytest.approx(expected, rel=1e-12)


def test_click_probability_is_accurate_at_tiny_transmittance() -> None:
    det = Detector(efficiency=1.0, dark_count_probability=0.0)
    # 1 - exp(-x) computed naively would return 0 at x = 1e-20.
    assert float(click_probability(1e-20, 1.0, det)) == pytest.approx(1e-20, rel=1e-12)


def test_error_probability_components() -> None:
    det = Detector(efficiency=0.5, dark_count_probability=1e-6, afterpulse_probability=0.0)
    e = error_click_probability(0.1, 0.5, det, 0.01)
    assert float(e) == pytest.approx(1e-6 + 0.01 * (1 - np.exp(-0.025)), rel=1e-12)


def test_broadcasting_transmittance_against_intensities() -> None:
    det = Detector()
    q = click_probability(np.ones((4, 1)) * 0.1, np.array([0.5, 0.1, 0.0]), det)
    assert q.shape == (4, 3)
    assert np.all(q[:, 0] > q[:, 1]) and np.all(q[:, 1] > q[:, 2])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"efficiency": 1.2}, "detector.efficiency"),
        ({"efficiency": 0.0}, "detector.efficiency"),
        ({"dark_count_probability": -1e-7}, "detector.dark_count_probability"),
    ],
)
def test_bad_detector(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Detector(**kwargs)
    assert info.value.field == field


def test_photon_statistics_sum_to_one() -> None:
    n = np.arange(0, 80)
    assert float(np.sum(poisson_photon_probability(n, 0.7))) == pytest.approx(1.0)
    assert float(np.sum(thermal_pair_probability(n, 0.05))) == pytest.approx(1.0)
    assert float(poisson_photon_probability(0, 0.0)) == 1.0
