"""Validation against the Micius entanglement downlinks of Yin et al. (2017, 2020).

Numbers and provenance: tests/vectors/space_yin_2017_2020.toml; discussion in docs/space.md.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from euroqci.space.double_downlink import double_downlink, double_downlink_key
from euroqci.space.link_budget import OpticalLink, link_budget
from euroqci.space.orbits import GroundStation, Satellite, raan_for_local_time_deg
from euroqci.space.pass_key import QKDSystem

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "space_yin_2017_2020.toml"
#: Earth radius and Micius altitude for the spherical elevation of a given range.
R_KM, H_KM = 6371.0, 500.0


@pytest.fixture(scope="module")
def yin() -> dict:
    with VECTOR.open("rb") as fh:
        return tomllib.load(fh)


def _elevation_deg(range_km: float) -> float:
    return math.degrees(
        math.asin(((R_KM + H_KM) ** 2 - R_KM**2 - range_km**2) / (2 * R_KM * range_km))
    )


def _link(yin: dict) -> OpticalLink:
    o = yin["optics"]
    return OpticalLink(
        beam_divergence_urad=o["beam_divergence_full_angle_urad"] / 2.0,
        receiver_aperture_m=o["receiver_aperture_m"],
        pointing_jitter_urad=0.5,
        receiver_efficiency=1.0,
    )


def test_downlink_attenuation_rise_with_range(yin: dict) -> None:
    att = yin["attenuation_2017"]
    ranges = np.array(att["distance_km"])
    el = np.array([_elevation_deg(d) for d in ranges])
    station = yin["stations"]["delingha"]
    model = link_budget(
        _link(yin), elevation_deg=el, range_km=ranges, station_altitude_m=station["altitude_m"]
    ).loss_db
    measured_rise = att["loss_db"][1] - att["loss_db"][0]
    # Measured: the model rises 5.5 dB from 530 to 1000 km (diffraction; the thin air above
    # Delingha adds little), the 2017 attenuation 7.0 dB: the model has no low-elevation
    # penalty beyond the clear-sky airmass (as for the Micius QKD downlink). The absolute level
    # differs by a constant, 18.6 dB at 530 km (receiver optics, filters, fibre coupling and
    # detection that the model leaves to extra_loss_db).
    assert model[1] - model[0] == pytest.approx(measured_rise, abs=2.0)
    offset_db = att["loss_db"][0] - model[0]
    assert offset_db == pytest.approx(18.6, abs=0.5)


def test_delingha_nanshan_common_view_and_bbm92_key(yin: dict) -> None:
    start = datetime(2027, 1, 10, tzinfo=UTC)
    satellite = Satellite.from_circular_orbit(
        altitude_km=H_KM,
        inclination_deg=97.4,
        raan_deg=raan_for_local_time_deg(epoch=start, ltan_h=0.0),
        epoch=start,
    )
    s = yin["stations"]
    a = GroundStation(station_id="DELINGHA", **s["delingha"])
    b = GroundStation(station_id="NANSHAN", **s["nanshan"])
    # Calibrated link: the 2017 offset less the 2020 gain of 3 dB per link.
    gain_db = yin["improvement_2020"]["collection_gain_db_per_link"]
    link = OpticalLink(
        beam_divergence_urad=5.0,
        receiver_aperture_m=1.2,
        pointing_jitter_urad=0.5,
        receiver_efficiency=1.0,
        extra_loss_db=18.6 - gain_db,
    )
    windows = double_downlink(satellite, a, b, link, start=start, duration_s=3 * 86400.0)
    assert windows, "Delingha and Nanshan (1120 km apart) share view of a 500 km satellite"
    best = max(windows, key=lambda w: w.n_slots)
    assert 100 < best.n_slots < 500
    two_arm = best.budget_a.loss_db + best.budget_b.loss_db
    # Two-arm loss of the 2020 system: each arm 26-33 dB between 530 and 1000 km, and in
    # common view both arms are far (800-1200 km): 55-70 dB.
    assert 55.0 < float(np.min(two_arm)) < 70.0
    key = double_downlink_key(best, QKDSystem(repetition_rate_hz=1e8, misalignment_error=0.02))
    # One window of minutes gives a few hundred sifted bits at most: like Yin et al. 2020, a
    # positive finite key needs many passes (they collected 3100 s of common view).
    assert key.sifted_bits < 2000
    assert key.secret_bits == 0.0


def test_entanglement_plan_accumulates_common_view(yin: dict, rng: np.random.Generator) -> None:
    from euroqci.space.planning import plan_space_segment

    start = datetime(2027, 1, 10, tzinfo=UTC)
    satellite = Satellite.from_circular_orbit(
        altitude_km=H_KM,
        inclination_deg=97.4,
        raan_deg=raan_for_local_time_deg(epoch=start, ltan_h=0.0),
        epoch=start,
    )
    s = yin["stations"]
    stations = [
        GroundStation(station_id="DELINGHA", cloud_probability=0.0, **s["delingha"]),
        GroundStation(station_id="NANSHAN", cloud_probability=0.0, **s["nanshan"]),
    ]
    from euroqci.space.link_budget import LINK_PRESETS

    system = QKDSystem(protocol="bbm92", repetition_rate_hz=1e8, misalignment_error=0.02,
                       dark_count_probability=1e-7)  # type: ignore[arg-type]  # fmt: skip
    plan = plan_space_segment(
        satellite, stations, start=start, days=20.0, rng=rng,
        link=LINK_PRESETS["micius-2020-entanglement"], system=system, relay_trials=1,
    )  # fmt: skip
    assert plan.pair_mode == "double-downlink" and plan.stations == {}
    # One window gives no finite key (test above); twenty clear nights of common view do, at
    # the order of the paper's 372 bits from about 3100 s of data.
    bits = plan.pair_bits_per_day[("DELINGHA", "NANSHAN")] * 20.0
    assert 10.0 < bits < 5000.0
