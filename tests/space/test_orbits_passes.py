"""Orbits and passes: closed-form geometry, an oracle against skyfield, station parsing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sgp4.exporter import export_tle

from euroqci.errors import ConfigurationError
from euroqci.space import _kernels
from euroqci.space._skyfield import load_timescale
from euroqci.space.orbits import GroundStation, Satellite, builtin_stations, parse_station
from euroqci.space.passes import find_passes, find_passes_many, sun_elevation_deg, track

EPOCH = datetime(2027, 3, 21, tzinfo=UTC)
#: Earth's rotation rate (IERS Conventions 2010, Table 1.1), rad/s.
OMEGA_EARTH_RAD_PER_S = 7.292115e-5
EQUATOR = GroundStation(station_id="EQ", latitude_deg=0.0, longitude_deg=0.0, altitude_m=0.0)


def test_circular_orbit_keeps_its_altitude() -> None:
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=EPOCH)
    tr = track(sat, EQUATOR, start=EPOCH, offsets_s=np.arange(0.0, 6000.0, 60.0))
    assert tr.range_km.shape == (100,)
    from euroqci.space._skyfield import TimeGrid

    radius = np.linalg.norm(
        sat.positions_itrs_km(TimeGrid(start=EPOCH, offsets_s=[0.0, 3e3])), axis=0
    )
    # Sgp4 short-period J2 terms move a circular orbit by about +-10 km around R + h.
    assert np.all(np.abs(radius - (6378.135 + 500.0)) < 15.0)
    assert sat.period_s == pytest.approx(2 * math.pi * math.sqrt(6878.135**3 / 398600.8), rel=2e-3)


def test_slant_range_matches_the_spherical_closed_form() -> None:
    # An equatorial orbit over a station on the equator: geodetic and geocentric verticals agree,
    # so range against elevation must follow the law of cosines with the satellite's radius.
    sat = Satellite.from_circular_orbit(altitude_km=600.0, inclination_deg=0.0, epoch=EPOCH)
    passes = find_passes(sat, EQUATOR, start=EPOCH, duration_s=8000.0, min_elevation_deg=5.0)
    p = passes[0]
    offsets = np.linspace(0.0, p.duration_s, 50) + (p.rise - EPOCH).total_seconds()
    tr = track(sat, EQUATOR, start=EPOCH, offsets_s=offsets)
    from euroqci.space._skyfield import TimeGrid

    r_sat = np.linalg.norm(sat.positions_itrs_km(TimeGrid(start=EPOCH, offsets_s=offsets)), axis=0)
    r_station = float(np.linalg.norm(EQUATOR.itrs_km))
    expected = _kernels.slant_range_km(tr.elevation_deg, r_sat - r_station, r_station)
    np.testing.assert_allclose(tr.range_km, expected, rtol=1e-9)
    assert tr.elevation_deg.min() == pytest.approx(5.0, abs=0.01)
    assert _kernels.slant_range_km(90.0, 500.0, 6371.0) == pytest.approx(500.0)


def test_overhead_pass_duration_matches_the_closed_form() -> None:
    # Equatorial prograde orbit, station on the equator: every pass is overhead and lasts
    # 2 lambda / (n - omega_E), lambda = arccos(R cos(el) / (R + h)) - el. Sgp4's J2 secular
    # drift speeds the argument of latitude by about 0.6 %, hence the tolerance.
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=0.0, epoch=EPOCH)
    passes = find_passes(sat, EQUATOR, start=EPOCH, duration_s=86400.0, min_elevation_deg=10.0)
    r_km = 6378.137
    lam = _kernels.earth_central_angle_rad(10.0, 6878.135 - r_km, r_km)
    expected_s = 2 * lam / (2 * math.pi / sat.period_s - OMEGA_EARTH_RAD_PER_S)
    durations = [p.duration_s for p in passes[1:-1]]
    assert np.allclose(durations, expected_s, rtol=0.01)
    assert all(p.max_elevation_deg > 89.99 for p in passes[1:-1])
    synodic_s = 2 * math.pi / (2 * math.pi / sat.period_s - OMEGA_EARTH_RAD_PER_S)
    assert len(passes) == pytest.approx(86400.0 / synodic_s, abs=1.0)


def test_passes_agree_with_skyfield_find_events() -> None:
    from skyfield.api import EarthSatellite, wgs84

    sat = Satellite.from_circular_orbit(
        altitude_km=500.0, inclination_deg=97.4, raan_deg=30.0, epoch=EPOCH
    )
    line1, line2 = export_tle(sat.satrec)
    station = builtin_stations()["OGS-IT-MATERA"]
    ts = load_timescale()
    oracle = EarthSatellite(line1, line2, ts=ts)
    topos = wgs84.latlon(
        station.latitude_deg, station.longitude_deg, elevation_m=station.altitude_m
    )
    t, events = oracle.find_events(
        topos, ts.from_datetime(EPOCH), ts.from_datetime(EPOCH + timedelta(days=2)), 10.0
    )
    mine = find_passes(
        Satellite.from_tle(line1, line2), station, start=EPOCH, duration_s=2 * 86400.0
    )
    expected = [ti.utc_datetime() for ti, e in zip(t, events, strict=True) if e in (0, 2)]
    got = [m for p in mine for m in (p.rise, p.set)]
    assert len(got) == len(expected) > 0
    assert max(abs((g - e).total_seconds()) for g, e in zip(got, expected, strict=True)) < 1.0


def test_night_only_keeps_dark_passes() -> None:
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=EPOCH)
    station = builtin_stations()["OGS-ES-TEIDE"]
    every = find_passes(sat, station, start=EPOCH, duration_s=3 * 86400.0)
    night = find_passes(sat, station, start=EPOCH, duration_s=3 * 86400.0, night_only=True)
    assert 0 < len(night) < len(every)
    sun = sun_elevation_deg(station, [p.culmination for p in night])
    assert np.all(sun < -12.0)


def test_many_stations_share_one_propagation() -> None:
    sat = Satellite.from_circular_orbit(altitude_km=550.0, inclination_deg=53.0, epoch=EPOCH)
    stations = list(builtin_stations().values())[:3]
    many = find_passes_many(sat, stations, start=EPOCH, duration_s=86400.0)
    for st in stations:
        single = find_passes(sat, st, start=EPOCH, duration_s=86400.0)
        assert [p.rise for p in single] == [p.rise for p in many[st.station_id]]


def test_builtin_stations_and_parsing() -> None:
    stations = builtin_stations()
    assert len(stations) == 9
    assert stations["OGS-ES-TEIDE"].altitude_m == 2400.0
    assert parse_station("ogs-it-matera").station_id == "OGS-IT-MATERA"
    custom = parse_station("47.0671,15.4933,539.4")
    assert custom.altitude_m == pytest.approx(539.4)
    with pytest.raises(ConfigurationError, match="LAT,LON,ALT_M"):
        parse_station("nowhere")
    with pytest.raises(ConfigurationError, match="latitude_deg"):
        parse_station("95,0,0")


def test_bad_orbit_and_tle_inputs_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="altitude_km"):
        Satellite.from_circular_orbit(altitude_km=50.0, inclination_deg=97.0, epoch=EPOCH)
    with pytest.raises(ConfigurationError, match="tle"):
        Satellite.from_tle("garbage", "more garbage")
    with pytest.raises(ConfigurationError, match="outside"):
        Satellite.from_circular_orbit(
            altitude_km=500.0, inclination_deg=97.0, epoch=datetime(2077, 1, 1, tzinfo=UTC)
        )


def test_sun_elevation_agrees_with_skyfield_altaz() -> None:
    from skyfield.api import wgs84

    from euroqci.space._skyfield import load_ephemeris

    station = builtin_stations()["OGS-SE-STOCKHOLM"]
    moments = [EPOCH + timedelta(hours=7.3 * k) for k in range(300)]
    mine = sun_elevation_deg(station, moments)
    eph = load_ephemeris()
    try:
        site = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=0.0)
        t = load_timescale().from_datetimes(moments)
        alt, _, _ = (eph["earth"] + site).at(t).observe(eph["sun"]).apparent().altaz()
    finally:
        eph.close()
    assert mine.shape == (300,)
    assert np.max(np.abs(mine - alt.degrees)) < 0.02
