"""Link budget: each term against its closed form or limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.space.link_budget import (
    OpticalLink,
    airmass,
    background_count_rate_hz,
    beam_radius_m,
    collection_efficiency,
    link_budget,
    residual_phase_variance,
    zenith_transmittance,
)


def test_far_field_beam_grows_linearly_with_the_divergence() -> None:
    link = OpticalLink(beam_divergence_urad=5.0, wavelength_nm=850.0)
    w = beam_radius_m(np.array([500.0, 1000.0]), waist_m=link.waist_m, wavelength_nm=850.0)
    np.testing.assert_allclose(w, [2.5, 5.0], rtol=1e-3)


def test_small_aperture_collects_two_a_squared_over_w_squared() -> None:
    eta = collection_efficiency(10.0, aperture_m=0.2)
    assert float(eta) == pytest.approx(2 * 0.1**2 / 10.0**2, rel=1e-3)
    assert float(collection_efficiency(1e-3, aperture_m=1.0)) == pytest.approx(1.0)


def test_loss_grows_as_range_squared_in_the_far_field() -> None:
    link = OpticalLink(
        beam_divergence_urad=10.0, pointing_jitter_urad=0.0, zenith_transmittance=1.0
    )
    b = link_budget(link, elevation_deg=np.array([90.0, 90.0]), range_km=np.array([600.0, 1200.0]))
    assert b.diffraction_db[1] - b.diffraction_db[0] == pytest.approx(20 * math.log10(2), abs=0.05)
    assert np.all(b.pointing_db == 0.0)
    assert b.loss_db.shape == (2,)
    assert b.total_loss_db[0] - b.loss_db[0] == pytest.approx(-10 * math.log10(0.5))


def test_pointing_jitter_acts_as_beam_broadening() -> None:
    link = OpticalLink(beam_divergence_urad=5.0, pointing_jitter_urad=2.5, zenith_transmittance=1.0)
    b = link_budget(link, elevation_deg=np.array([90.0]), range_km=np.array([1000.0]))
    # Far field: w = 5 m, jitter 2.5 m, w_eff^2 = w^2 + 4 s^2 = 2 w^2, i.e. 3 dB (less a little
    # because the 1 m aperture is not infinitely small against w).
    assert float(b.pointing_db[0]) == pytest.approx(10 * math.log10(2), abs=0.05)


def test_airmass_and_atmosphere() -> None:
    assert float(airmass(90.0)) == pytest.approx(1.0, abs=1e-3)
    x = airmass(np.array([10.0, 30.0, 60.0, 90.0]))
    assert np.all(np.diff(x) < 0)
    # Away from the horizon the Kasten-Young airmass is close to sec(z).
    assert float(airmass(60.0)) == pytest.approx(1 / math.cos(math.radians(30.0)), rel=2e-3)
    t_sea = zenith_transmittance(wavelength_nm=850.0)
    t_mountain = zenith_transmittance(wavelength_nm=850.0, altitude_m=2400.0)
    t_telecom = zenith_transmittance(wavelength_nm=1550.0)
    assert 0.8 < t_sea < t_mountain < 1.0
    assert t_sea < t_telecom
    hazy = zenith_transmittance(wavelength_nm=850.0, angstrom_turbidity=0.3)
    assert hazy < t_sea
    link = OpticalLink(zenith_transmittance=0.8)
    b = link_budget(link, elevation_deg=np.array([30.0]), range_km=np.array([900.0]))
    assert float(b.atmosphere_db[0]) == pytest.approx(-10 * math.log10(0.8) * float(airmass(30.0)))


def test_turbulence_coupling_follows_noll() -> None:
    assert float(residual_phase_variance(1.0, 1.0, corrected_modes=1)) == pytest.approx(1.0299)
    big = residual_phase_variance(1.0, 0.1, corrected_modes=3)
    small = residual_phase_variance(1.0, 0.1, corrected_modes=50)
    assert small < big
    plain = OpticalLink()
    ao = OpticalLink(r0_zenith_cm=10.0, corrected_zernike_modes=200)
    el = np.array([20.0, 80.0])
    rng = np.array([1200.0, 510.0])
    assert np.all(link_budget(plain, elevation_deg=el, range_km=rng).turbulence_db == 0.0)
    turb = link_budget(ao, elevation_deg=el, range_km=rng).turbulence_db
    assert turb[0] > turb[1] > 0.0


def test_background_scales_with_field_of_view_and_daylight() -> None:
    night = background_count_rate_hz(OpticalLink(), daytime=False)
    day = background_count_rate_hz(OpticalLink(), daytime=True)
    assert day / night == pytest.approx(1e6)
    wide = background_count_rate_hz(OpticalLink(field_of_view_urad=200.0), daytime=False)
    assert wide / night == pytest.approx(4.0)


def test_bad_optics_are_rejected_with_the_field_name() -> None:
    with pytest.raises(ConfigurationError, match=r"optics\.receiver_efficiency"):
        OpticalLink(receiver_efficiency=1.5)
    with pytest.raises(ConfigurationError, match=r"optics\.receiver_aperture_m"):
        OpticalLink(receiver_aperture_m=-1.0)
    with pytest.raises(ConfigurationError, match="range_km"):
        link_budget(OpticalLink(), elevation_deg=np.array([10.0]), range_km=np.array([0.0]))
