"""Validation against the Micius downlink of Liao et al., Nature 549, 43 (2017).

Reference numbers and their provenance: tests/vectors/space_micius_2017.toml. Modelling
differences and the measured agreement are discussed in docs/space.md.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from euroqci.space import _kernels
from euroqci.space.link_budget import OpticalLink, link_budget
from euroqci.space.pass_key import QKDSystem, key_from_loss_curve

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "space_micius_2017.toml"


@pytest.fixture(scope="module")
def micius() -> dict:
    with VECTOR.open("rb") as fh:
        return tomllib.load(fh)


def _system(v: dict) -> QKDSystem:
    s = v["source"]
    # Micius chose the basis with a passive 50:50 beam splitter; misalignment 1 % gives the
    # reported QBER of about 1.1 %; dark counts of ~50 per second in a 2 ns gate.
    return QKDSystem(
        repetition_rate_hz=s["repetition_rate_hz"],
        intensities=tuple(s["intensities"]),
        intensity_probabilities=tuple(s["intensity_probabilities"]),
        basis_probability_x=0.5,
        dark_count_probability=1e-7,
        misalignment_error=0.01,
    )


def _loss_at(v: dict, distance_km: float) -> float:
    table = v["loss_vs_distance"]
    return float(np.interp(distance_km, table["distance_km"], table["loss_db"]))


@pytest.mark.parametrize(
    ("distance_km", "key"),
    [(645.0, "sifted_rate_bps_at_645_km"), (1200.0, "sifted_rate_bps_at_1200_km")],
)
def test_sifted_rate_against_range(micius: dict, distance_km: float, key: str) -> None:
    # One slot at the link loss of that range: detections per second times the 1/2 sifting.
    result = key_from_loss_curve(
        [_loss_at(micius, distance_km)],
        detector_efficiency=micius["source"]["detector_efficiency"],
        system=_system(micius),
        optimise_window=False,
    )
    sifted_rate_bps = result.detections * 0.5
    assert sifted_rate_bps == pytest.approx(micius["paper"][key], rel=0.15)


def test_final_key_of_the_pass(micius: dict) -> None:
    track = micius["track"]
    t = np.arange(0.5, micius["paper"]["pass_duration_s"], 1.0)
    distance = np.interp(t, track["time_s"], track["distance_km"])
    loss = [_loss_at(micius, d) for d in distance]
    result = key_from_loss_curve(
        loss,
        detector_efficiency=micius["source"]["detector_efficiency"],
        system=_system(micius),
    )
    assert result.qber == pytest.approx(micius["paper"]["qber"], abs=0.002)
    # The engine (Lim et al. 2014) keys only the X basis and bounds fluctuations with
    # Hoeffding's inequality at epsilon_sec = 1e-10; Liao et al. keyed both bases with a
    # Gaussian fluctuation analysis. We measure 0.63 of their final key; require 0.5-1.5.
    ratio = result.secret_bits / micius["paper"]["final_key_bits"]
    assert 0.5 < ratio < 1.5


def test_link_budget_shape_against_range(micius: dict) -> None:
    # Micius-like optics: 300 mm transmitter with about 10 urad full-angle divergence (5 urad
    # 1/e^2 half angle), 1 m receiver at about 900 m altitude (Xinglong). One constant, the
    # extra loss, is fitted at 645 km; the loss at 1200 km is then predicted.
    h_km, r_km = 500.0, 6371.0

    def elevation_deg(d_km: float) -> float:
        sin_el = ((r_km + h_km) ** 2 - r_km**2 - d_km**2) / (2 * r_km * d_km)
        return math.degrees(math.asin(sin_el))

    ranges = np.array([645.0, 1200.0])
    el = np.array([elevation_deg(d) for d in ranges])
    np.testing.assert_allclose(_kernels.slant_range_km(el, h_km, r_km), ranges)
    link = OpticalLink(beam_divergence_urad=5.0, pointing_jitter_urad=0.5, receiver_efficiency=1.0)
    model = link_budget(link, elevation_deg=el, range_km=ranges, station_altitude_m=900.0).loss_db
    measured = np.array([_loss_at(micius, 645.0), _loss_at(micius, 1200.0)])
    # Average the digitised curve over 50 km inside its span to smooth its wiggles.
    smooth = np.array(
        [
            np.mean([_loss_at(micius, 645.0 + s) for s in np.linspace(0, 50, 11)]),
            np.mean([_loss_at(micius, 1200.0 - s) for s in np.linspace(0, 50, 11)]),
        ]
    )
    assert measured.shape == smooth.shape
    predicted_rise_db = model[1] - model[0]
    measured_rise_db = smooth[1] - smooth[0]
    # Measured: the model rises 5.8 dB from 645 to 1200 km, the smoothed data 8.8 dB. The model
    # has no low-elevation penalty beyond the clear-sky airmass (beam wander, tracking
    # degradation, haze near the horizon); see docs/space.md.
    assert predicted_rise_db == pytest.approx(measured_rise_db, abs=3.5)
    assert 5.0 < predicted_rise_db < measured_rise_db
