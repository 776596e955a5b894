"""A pass as a slotted channel, and the inputs of the key of a pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.protocols.finite_key import TailBound
from euroqci.space.channel import pass_channel
from euroqci.space.link_budget import LINK_PRESETS, OpticalLink
from euroqci.space.orbits import Satellite, builtin_stations
from euroqci.space.pass_key import DownlinkProtocol, QKDSystem, build_dataclass, pass_key
from euroqci.space.passes import find_passes
from euroqci.space.spec import optics_from_spec

START = datetime(2027, 3, 21, tzinfo=UTC)
FAST = QKDSystem(
    intensities=(0.6, 0.2, 0.0), intensity_probabilities=(0.7, 0.2, 0.1), basis_probability_x=0.8
)


@pytest.fixture(scope="module")
def best_pass():  # type: ignore[no-untyped-def]
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=START)
    station = builtin_stations()["OGS-IT-MATERA"]
    passes = find_passes(sat, station, start=START, duration_s=2 * 86400.0)
    return sat, station, max(passes, key=lambda p: p.max_elevation_deg)


def test_pass_channel_slots_and_window(best_pass) -> None:  # type: ignore[no-untyped-def]
    sat, station, p = best_pass
    ch = pass_channel(sat, station, p, OpticalLink(), slot_s=2.0)
    assert ch.n_slots == int(p.duration_s // 2.0)
    assert ch.loss_db.shape == ch.elevation_deg.shape == (ch.n_slots,)
    # Loss is lowest near culmination, highest at the ends of the pass.
    assert np.argmin(ch.loss_db) == pytest.approx(np.argmax(ch.elevation_deg), abs=2)
    high = ch.above(30.0)
    assert 0 < high.n_slots < ch.n_slots and np.all(high.elevation_deg >= 30.0)
    assert np.max(high.loss_db) <= np.max(ch.loss_db)
    with pytest.raises(ConfigurationError, match="slot_s"):
        pass_channel(sat, station, p, OpticalLink(), slot_s=0.0)


def test_day_and_night_background(best_pass) -> None:  # type: ignore[no-untyped-def]
    sat, station, p = best_pass
    day = pass_channel(sat, station, p, OpticalLink(), daytime=True)
    night = pass_channel(sat, station, p, OpticalLink(), daytime=False)
    assert day.budget.background_count_rate_hz > 1e4 * night.budget.background_count_rate_hz
    assert pass_key(day, FAST).secret_bits < pass_key(night, FAST).secret_bits


def test_calibrated_preset_costs_key(best_pass) -> None:  # type: ignore[no-untyped-def]
    sat, station, p = best_pass
    nominal = pass_key(pass_channel(sat, station, p, OpticalLink(), daytime=False), FAST)
    micius = pass_channel(sat, station, p, LINK_PRESETS["micius-2017-qkd"], daytime=False)
    calibrated = pass_key(micius, FAST)
    assert 0 < calibrated.secret_bits < nominal.secret_bits
    assert calibrated.window_min_elevation_deg is not None
    assert calibrated.window_min_elevation_deg >= nominal.window_min_elevation_deg - 1e-9


def test_system_and_spec_validation() -> None:
    system = QKDSystem(protocol="bbm92", tail_bound="chernoff")  # type: ignore[arg-type]
    assert system.protocol is DownlinkProtocol.BBM92 and system.tail_bound is TailBound.CHERNOFF
    with pytest.raises(ConfigurationError, match=r"system\.protocol"):
        QKDSystem(protocol="e91")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"system\.tail_bound"):
        QKDSystem(tail_bound="gauss")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown field"):
        build_dataclass(QKDSystem, {"laser_power_w": 1.0}, section="system")
    link = optics_from_spec({"preset": "micius-2017-qkd", "extra_loss_db": 3.0})
    assert link.extra_loss_db == 3.0 and link.beam_divergence_urad == 5.0
    with pytest.raises(ConfigurationError, match=r"optics\.preset"):
        optics_from_spec({"preset": "hubble"})


def test_tle_age_is_reported() -> None:
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=START)
    assert sat.epoch_offset_days(START + timedelta(days=3, hours=12)) == pytest.approx(3.5)
