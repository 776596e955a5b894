"""Key over time: reference-pass interpolation, Monte Carlo clouds, planning figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from euroqci.space.channel import pass_channel
from euroqci.space.link_budget import OpticalLink
from euroqci.space.orbits import GroundStation, Satellite, builtin_stations
from euroqci.space.pass_key import QKDSystem, pass_key
from euroqci.space.passes import Pass
from euroqci.space.planning import plan_space_segment, station_average_key_rate_bps
from euroqci.space.statistics import PassKeyTable, key_statistics, night_index, station_pass_keys

START = datetime(2027, 3, 21, tzinfo=UTC)
#: Fixed intensities and basis choice: the engine only evaluates, which keeps these tests fast.
FAST = QKDSystem(
    intensities=(0.6, 0.2, 0.0),
    intensity_probabilities=(0.7, 0.2, 0.1),
    basis_probability_x=0.8,
)
LINK = OpticalLink(beam_divergence_urad=5.0)


@pytest.fixture(scope="module")
def satellite() -> Satellite:
    return Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=START)


def test_night_index_counts_noon_to_noon() -> None:
    assert night_index(START + timedelta(hours=1), START) == 0
    assert night_index(START + timedelta(hours=23), START) == 1
    assert night_index(START + timedelta(days=1, hours=1), START) == 1


def test_interpolated_pass_keys_match_direct_evaluation(satellite: Satellite) -> None:
    station = builtin_stations()["OGS-IT-MATERA"]
    tables = station_pass_keys(
        satellite, [station], LINK, FAST, start=START, duration_s=4 * 86400.0, n_reference=4
    )
    table = tables[station.station_id]
    assert len(table.passes) == table.secret_bits.size >= 6
    assert np.all(np.diff(table.reference_secret_bits) >= 0)  # more elevation, more key
    refs = set(np.round(table.reference_max_elevation_deg, 9))
    others = [i for i, p in enumerate(table.passes) if round(p.max_elevation_deg, 9) not in refs]
    for i in others[:2]:
        ch = pass_channel(satellite, station, table.passes[i], LINK, slot_s=5.0, daytime=False)
        direct = pass_key(ch, FAST).secret_bits
        assert table.secret_bits[i] == pytest.approx(direct, rel=0.2, abs=2e5)


def _table(station_id: str, bits_per_night: list[float]) -> PassKeyTable:
    passes = []
    for k in range(len(bits_per_night)):
        t = START + timedelta(days=k, hours=23)
        passes.append(Pass(station_id, t, t + timedelta(minutes=3), t + timedelta(minutes=6),
                           60.0, 10.0))  # fmt: skip
    return PassKeyTable(station_id, passes, np.array(bits_per_night), np.zeros(0), np.zeros(0))


def test_monte_carlo_clouds(rng: np.random.Generator) -> None:
    stations = [
        GroundStation(station_id="CLEAR", latitude_deg=40, longitude_deg=0, cloud_probability=0.0),
        GroundStation(station_id="HALF", latitude_deg=40, longitude_deg=0, cloud_probability=0.5),
        GroundStation(station_id="NEVER", latitude_deg=40, longitude_deg=0, cloud_probability=1.0),
    ]
    bits = [1e6] * 10
    tables = {s.station_id: _table(s.station_id, bits) for s in stations}
    stats = key_statistics(tables, stations, start=START, days=10.0, rng=rng, trials=4000)
    assert stats["CLEAR"].mean_bits_per_day == pytest.approx(1e6)
    assert stats["CLEAR"].clear_sky_bits_per_day == pytest.approx(1e6)
    # Binomial: mean 0.5e6 per day; the standard error over 4000 trials of 10 nights is ~2.5e3.
    assert stats["HALF"].mean_bits_per_day == pytest.approx(0.5e6, abs=1.5e4)
    assert stats["NEVER"].mean_bits_per_day == 0.0
    assert stats["HALF"].p05_bits_per_day == 0.0 and stats["HALF"].p95_bits_per_day == 1e6
    assert stats["HALF"].mean_bits_per_year == pytest.approx(
        stats["HALF"].mean_bits_per_day * 365.25
    )
    again = key_statistics(
        tables, stations, start=START, days=10.0, rng=np.random.default_rng(7), trials=50
    )
    same = key_statistics(
        tables, stations, start=START, days=10.0, rng=np.random.default_rng(7), trials=50
    )
    assert again["HALF"].to_dict() == same["HALF"].to_dict()


def test_default_cloud_probability_depends_on_altitude() -> None:
    stations = builtin_stations()
    assert stations["OGS-ES-TEIDE"].effective_cloud_probability == 0.3
    assert stations["OGS-SE-STOCKHOLM"].effective_cloud_probability == 0.6


def test_plan_and_average_rate(satellite: Satellite, rng: np.random.Generator) -> None:
    stations = [builtin_stations()["OGS-ES-TEIDE"], builtin_stations()["OGS-GR-HELMOS"]]
    plan = plan_space_segment(
        satellite, stations, start=START, days=3.0, rng=rng, link=LINK, system=FAST, trials=50,
        relay_trials=5, n_reference=3,
    )  # fmt: skip
    teide, helmos = (plan.stations[s.station_id] for s in stations)
    assert teide.mean_bits_per_day > 0 and helmos.mean_bits_per_day > 0
    pair = ("OGS-ES-TEIDE", "OGS-GR-HELMOS")
    relayed = plan.pair_bits_per_day[pair]
    assert 0 < relayed <= min(teide.clear_sky_bits_per_day, helmos.clear_sky_bits_per_day)
    doc = plan.to_dict()
    assert doc["pairs"][0]["a"] == "OGS-ES-TEIDE"
    rate = station_average_key_rate_bps(
        satellite, stations[0], link=LINK, system=FAST, start=START, days=3.0, n_reference=3
    )
    # The plan pools Teide's and Helmos's passes (same altitude group) for its reference passes;
    # alone, Teide gets its own. The two interpolations agree to a few per cent.
    assert rate == pytest.approx(teide.clear_sky_bits_per_day * 0.7 / 86400.0, rel=0.05)
