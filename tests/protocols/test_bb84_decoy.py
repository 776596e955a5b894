"""Decoy-state BB84: published numbers and properties."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.physics.detectors import Detector
from euroqci.protocols import bb84_decoy as bb84
from euroqci.protocols.evaluate import evaluate_link, max_reach_km
from euroqci.protocols.link_spec import parse_link_spec

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _gys(decoy: str) -> dict[str, Any]:
    v = tomllib.loads((VECTORS / "ma2005_gys.toml").read_text())["system"]
    return {
        "channel": {"length_km": 50.0, "attenuation_db_per_km": v["attenuation_db_per_km"]},
        "detector": {
            "efficiency": v["detector_efficiency"],
            "dark_count_probability": v["dark_count_probability"],
        },
        "misalignment_error": v["misalignment_error"],
        "error_correction_efficiency": v["error_correction_efficiency"],
        "decoy": decoy,
    }


def test_ma2005_gys_maximum_distance_infinite_decoy() -> None:
    ref = tomllib.loads((VECTORS / "ma2005_gys.toml").read_text())["infinite_decoy"]
    reach = max_reach_km(parse_link_spec(_gys("infinite")))
    assert abs(reach - ref["max_distance_km"]) <= ref["tolerance_km"]


def test_vacuum_weak_approaches_infinite_decoy_from_below() -> None:
    inf = max_reach_km(parse_link_spec(_gys("infinite")))
    vw = max_reach_km(parse_link_spec(_gys("vacuum+weak")))
    assert inf - 2.0 < vw <= inf + 0.1


def test_gllp_rate_by_hand_at_one_point() -> None:
    det = Detector(efficiency=0.045, dark_count_probability=8.5e-7)
    t = 10 ** (-0.21 * 50 / 10)
    mu = 0.48
    r = bb84.gllp_infinite_decoy(
        t,
        mu=mu,
        detector=det,
        misalignment_error=0.033,
        error_correction_efficiency=1.22,
        sifting=0.5,
    )
    eta = t * 0.045
    y0 = 2 * 8.5e-7
    q = 1 - (1 - y0) * np.exp(-eta * mu)
    e = (8.5e-7 + 0.033 * (1 - np.exp(-eta * mu))) / q
    y1 = 1 - (1 - y0) * (1 - eta)
    e1 = (8.5e-7 + 0.033 * eta) / y1

    def h(x: float) -> float:
        return float(-x * np.log2(x) - (1 - x) * np.log2(1 - x))

    expected = 0.5 * (y1 * mu * np.exp(-mu) * (1 - h(e1)) - 1.22 * q * h(e))
    assert float(r.secret_bits_per_pulse) == pytest.approx(expected, rel=1e-9)


def test_asymptotic_sweep_shape_and_monotonic() -> None:
    lengths_km = np.linspace(0.0, 250.0, 501)
    spec = parse_link_spec(
        {
            "channel": {"length_km": lengths_km},
            "source": {"intensities": [0.5, 0.1, 0.0], "intensity_probabilities": [0.8, 0.1, 0.1]},
        }
    )
    r = evaluate_link(spec)
    assert r.secret_key_rate_bps.shape == (501,)
    assert np.all(r.secret_key_rate_bps >= 0)
    assert np.all(np.diff(r.secret_key_rate_bps) <= 1e-9 * r.secret_key_rate_bps[:-1])
    assert r.secret_key_rate_bps[-1] == 0.0
    assert np.all(r.secret_key_rate_bps <= r.plob_bound_bps)


@settings(max_examples=25, deadline=None)
@given(
    loss_db=st.lists(st.floats(0.0, 60.0), min_size=2, max_size=6),
    eff=st.floats(0.05, 0.9),
    dark=st.floats(1e-8, 1e-5),
    e_mis=st.floats(0.0, 0.05),
)
def test_rate_is_non_negative_and_non_increasing_with_loss(
    loss_db: list[float], eff: float, dark: float, e_mis: float
) -> None:
    losses = np.sort(np.asarray(loss_db))
    spec = parse_link_spec(
        {
            "channel": {"loss_db": losses},
            "detector": {"efficiency": eff, "dark_count_probability": dark},
            "misalignment_error": e_mis,
            "decoy": "infinite",
        }
    )
    r = evaluate_link(spec).secret_key_rate_bps
    assert np.all(r >= 0)
    # Each point is optimised separately; allow the optimiser's tolerance.
    assert np.all(np.diff(r) <= 1e-6 * np.maximum(r[:-1], 1e-12))
