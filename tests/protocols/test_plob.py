from __future__ import annotations

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.protocols.plob import plob_bound


def test_plob_matches_definition() -> None:
    eta = np.array([0.5, 0.1, 1e-3])
    np.testing.assert_allclose(plob_bound(eta), -np.log2(1 - eta), rtol=1e-14)


@pytest.mark.parametrize("eta", [1e-12, 1e-20, 1e-40, 1e-300])
def test_plob_is_stable_at_tiny_transmittance(eta: float) -> None:
    # -log2(1 - eta) = eta / ln 2 + O(eta^2); a naive log2(1 - eta) returns 0 below 1e-16.
    assert float(plob_bound(eta)) == pytest.approx(eta / np.log(2), rel=1e-12)


def test_lossless_channel_has_no_bound() -> None:
    assert float(plob_bound(1.0)) == float("inf")


@pytest.mark.parametrize("eta", [-0.1, 1.5, float("nan")])
def test_plob_rejects_bad_transmittance(eta: float) -> None:
    with pytest.raises(ConfigurationError):
        plob_bound(eta)
