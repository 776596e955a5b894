"""Downlink budget per time slot: diffraction, pointing, atmosphere, turbulence, optics, background.

Every term is a transmittance in [0, 1] that depends on the slot's slant range and elevation;
``loss_db`` of :class:`LinkBudget` is their product in dB. The detector efficiency is kept apart
(``detector_efficiency``) because the key-rate engine applies it in its click model: the loss
handed to the engine is the channel up to the detector.

Model and sources
-----------------
- Gaussian-beam diffraction and the collected fraction ``1 - exp(-2 a^2 / w^2)`` of a receiver of
  radius ``a`` (Bourgoin et al., NJP 15, 023006 (2013), Sec. 3.1; Siegman, *Lasers* (1986),
  Ch. 17 for ``w(L) = w0 sqrt(1 + (L / z_R)^2)``, ``z_R = pi w0^2 / lambda``).
- Pointing jitter: a Gaussian pointing error of ``sigma`` rad per axis, averaged over the pass,
  broadens the mean intensity profile to ``w_eff^2 = w^2 + 4 sigma^2 L^2`` (the convolution of two
  Gaussians; Bourgoin et al. 2013 treat pointing error the same way).
- Atmosphere: ``T(el) = T_zen^X`` with the airmass ``X`` of Kasten & Young, Appl. Opt. 28, 4735
  (1989), Eq. (3); the zenith transmittance comes from Rayleigh scattering (Hansen & Travis,
  Space Sci. Rev. 16, 527 (1974)) and Angstrom-law aerosols, each scaled by its scale height
  to the site altitude; molecular absorption is neglected (use window wavelengths).
- Turbulence (optional): Fried parameter ``r0 = r0_zen (lambda / 500 nm)^(6/5) cos(z)^(3/5)``
  (Fried, JOSA 56, 1372 (1966)); residual phase variance after correcting ``J`` Zernike modes from
  Noll, JOSA 66, 207 (1976), Table IV and Eq. (27); single-mode coupling ~ Strehl
  ``exp(-sigma^2)`` (Marechal approximation).
- Background: ``N = L_sky Omega A dlambda eta_rx / (h c / lambda)`` counts per second from sky
  radiance ``L_sky`` into the field of view ``Omega`` (Miao et al., NJP 7, 215 (2005); Bourgoin
  et al. 2013, Sec. 3.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.units import transmittance_to_loss_db

__all__ = [
    "LINK_PRESETS",
    "LinkBudget",
    "OpticalLink",
    "airmass",
    "atmospheric_transmittance",
    "background_count_rate_hz",
    "beam_radius_m",
    "collection_efficiency",
    "link_budget",
    "zenith_transmittance",
]

FloatArray = npt.NDArray[np.float64]

#: Planck constant (exact, SI 2019) and speed of light (exact), for photon energies.
_PLANCK_J_S = 6.626_070_15e-34
_C_M_PER_S = 299_792_458.0
#: Scale heights of the molecular atmosphere and of boundary-layer aerosols (US Standard
#: Atmosphere 1976 pressure scale height near 8.4 km; aerosol scale height about 1.2 km).
_RAYLEIGH_SCALE_HEIGHT_M = 8_400.0
_AEROSOL_SCALE_HEIGHT_M = 1_200.0
#: Angstrom turbidity (optical depth at 1 um) and exponent of a clear continental atmosphere
#: (Angstrom, Geogr. Ann. 11, 156 (1929): beta about 0.1, alpha about 1.3).
_ANGSTROM_BETA = 0.1
_ANGSTROM_ALPHA = 1.3
#: Residual phase variance (rad^2, times (D/r0)^(5/3)) after removing the first J Zernike modes,
#: Noll (1976), Table IV; beyond J = 21 Noll's Eq. (27): 0.2944 J^(-sqrt(3)/2).
_NOLL_RESIDUAL = (1.0299, 0.582, 0.134, 0.111, 0.0880, 0.0648, 0.0587, 0.0525, 0.0463, 0.0401,
                  0.0377, 0.0352, 0.0328, 0.0304, 0.0279, 0.0267, 0.0255, 0.0243, 0.0232, 0.0220,
                  0.0208)  # fmt: skip


def _fraction(name: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ConfigurationError(f"optics.{name}: expected a fraction in (0, 1], got {value!r}",
                                 field=f"optics.{name}")  # fmt: skip


def _positive(name: str, value: float | None, unit: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        message = f"optics.{name}: expected a number {bound} in {unit}, got {value!r}"
        raise ConfigurationError(message, field=f"optics.{name}")


@dataclass(frozen=True)
class OpticalLink:
    """Terminals and atmosphere of a satellite-to-ground optical link.

    Defaults follow the Micius downlink to Xinglong (Liao et al., Nature 549, 43 (2017), Methods:
    300 mm transmitter, about 10 urad full-angle divergence, 1.0 m receiver, 850 nm source).
    ``beam_divergence_urad`` is the far-field 1/e^2 half angle (5 urad by default); when given
    it sets the waist (``w0 = lambda / (pi theta)``); give ``None`` to use a diffraction-limited
    beam filling the transmitter aperture (``w0`` = aperture radius).
    Sky radiances are planning assumptions (dark rural night, clear day near 850 nm); measure
    them at the site for a real study.
    """

    wavelength_nm: float = 850.0
    transmitter_aperture_m: float = 0.3
    beam_divergence_urad: float | None = 5.0
    receiver_aperture_m: float = 1.0
    pointing_jitter_urad: float = 1.0
    zenith_transmittance: float | None = None
    angstrom_turbidity: float = _ANGSTROM_BETA
    r0_zenith_cm: float | None = None
    corrected_zernike_modes: int = 0
    transmitter_efficiency: float = 1.0
    receiver_efficiency: float = 0.5
    detector_efficiency: float = 0.5
    extra_loss_db: float = 0.0
    field_of_view_urad: float = 100.0
    filter_bandwidth_nm: float = 1.0
    sky_radiance_night_w_per_m2_sr_nm: float = 1e-8
    sky_radiance_day_w_per_m2_sr_nm: float = 1e-2

    def __post_init__(self) -> None:
        _positive("wavelength_nm", self.wavelength_nm, "nm")
        _positive("transmitter_aperture_m", self.transmitter_aperture_m, "m")
        _positive("beam_divergence_urad", self.beam_divergence_urad, "urad")
        _positive("receiver_aperture_m", self.receiver_aperture_m, "m")
        _positive("pointing_jitter_urad", self.pointing_jitter_urad, "urad", allow_zero=True)
        _positive("r0_zenith_cm", self.r0_zenith_cm, "cm")
        _positive("angstrom_turbidity", self.angstrom_turbidity, "(optical depth at 1 um)",
                  allow_zero=True)  # fmt: skip
        _positive("extra_loss_db", self.extra_loss_db, "dB", allow_zero=True)
        _positive("field_of_view_urad", self.field_of_view_urad, "urad")
        _positive("filter_bandwidth_nm", self.filter_bandwidth_nm, "nm")
        _positive("sky_radiance_night_w_per_m2_sr_nm", self.sky_radiance_night_w_per_m2_sr_nm,
                  "W m^-2 sr^-1 nm^-1", allow_zero=True)  # fmt: skip
        _positive("sky_radiance_day_w_per_m2_sr_nm", self.sky_radiance_day_w_per_m2_sr_nm,
                  "W m^-2 sr^-1 nm^-1", allow_zero=True)  # fmt: skip
        for name in ("transmitter_efficiency", "receiver_efficiency", "detector_efficiency"):
            _fraction(name, getattr(self, name))
        if self.zenith_transmittance is not None:
            _fraction("zenith_transmittance", self.zenith_transmittance)
        if not (
            isinstance(self.corrected_zernike_modes, int) and self.corrected_zernike_modes >= 0
        ):
            raise ConfigurationError("optics.corrected_zernike_modes: expected an integer >= 0",
                                     field="optics.corrected_zernike_modes")  # fmt: skip

    @property
    def waist_m(self) -> float:
        """Beam waist ``w0`` at the transmitter (1/e^2 radius), metres."""
        if self.beam_divergence_urad is not None:
            return self.wavelength_nm * 1e-9 / (math.pi * self.beam_divergence_urad * 1e-6)
        return self.transmitter_aperture_m / 2.0


@dataclass(frozen=True)
class LinkBudget:
    """Per-slot terms of a downlink budget; each ``*_db`` array has one value per slot."""

    elevation_deg: FloatArray
    range_km: FloatArray
    diffraction_db: FloatArray
    pointing_db: FloatArray
    atmosphere_db: FloatArray
    turbulence_db: FloatArray
    optics_db: float
    extra_db: float
    detector_efficiency: float
    background_count_rate_hz: float
    components: dict[str, FloatArray] = field(default_factory=dict, repr=False)

    @property
    def loss_db(self) -> FloatArray:
        """Channel loss up to the detector (detector efficiency excluded), dB per slot."""
        return np.asarray(
            self.diffraction_db
            + self.pointing_db
            + self.atmosphere_db
            + self.turbulence_db
            + self.optics_db
            + self.extra_db,
            dtype=np.float64,
        )

    @property
    def total_loss_db(self) -> FloatArray:
        """Loss including the detector efficiency, dB per slot (the "link loss" papers quote)."""
        return np.asarray(
            self.loss_db + transmittance_to_loss_db(self.detector_efficiency), dtype=np.float64
        )


#: Links calibrated on published Micius data: the model's terms plus one fitted constant
#: (``extra_loss_db``) that lumps the receiver losses the papers do not break down. Fitted in
#: tests/space/test_validation_micius.py and test_validation_yin.py (see docs/space.md).
LINK_PRESETS: dict[str, OpticalLink] = {
    # Liao et al., Nature 549, 43 (2017): Micius to Xinglong (1 m), decoy-state QKD at 850 nm;
    # fitted to the digitised link loss of 29.8 dB at 645-695 km.
    "micius-2017-qkd": OpticalLink(
        beam_divergence_urad=5.0, receiver_aperture_m=1.0, pointing_jitter_urad=0.5,
        receiver_efficiency=1.0, extra_loss_db=15.9,
    ),
    # Yin et al., PRL 119, 200501 (2017) and Nature 582, 501 (2020): Micius entangled-photon
    # downlinks to 1.2 m telescopes, 29 dB at 530 km in 2017, 3 dB better per link in 2020.
    "micius-2020-entanglement": OpticalLink(
        wavelength_nm=810.0, beam_divergence_urad=5.0, receiver_aperture_m=1.2,
        pointing_jitter_urad=0.5, receiver_efficiency=1.0, extra_loss_db=15.6,
    ),
}  # fmt: skip


def beam_radius_m(range_km: npt.ArrayLike, *, waist_m: float, wavelength_nm: float) -> FloatArray:
    """1/e^2 radius of a Gaussian beam after ``range_km``: ``w0 sqrt(1 + (L/z_R)^2)`` (Siegman).

    >>> round(float(beam_radius_m(500.0, waist_m=0.15, wavelength_nm=850.0)), 3)
    0.914
    """
    length_m = np.asarray(range_km, dtype=np.float64) * 1e3
    z_r = math.pi * waist_m**2 / (wavelength_nm * 1e-9)
    return np.asarray(waist_m * np.sqrt(1.0 + (length_m / z_r) ** 2), dtype=np.float64)


def collection_efficiency(beam_radius: npt.ArrayLike, *, aperture_m: float) -> FloatArray:
    """Fraction of a Gaussian beam of 1/e^2 radius ``beam_radius`` (m) on a centred aperture.

    ``1 - exp(-2 a^2 / w^2)`` with ``a = aperture_m / 2`` (Bourgoin et al. 2013, Sec. 3.1).
    """
    w = np.asarray(beam_radius, dtype=np.float64)
    return np.asarray(-np.expm1(-2.0 * (aperture_m / 2.0) ** 2 / w**2), dtype=np.float64)


def airmass(elevation_deg: npt.ArrayLike) -> FloatArray:
    """Relative optical airmass, Kasten & Young, Appl. Opt. 28, 4735 (1989), Eq. (3).

    ``X = 1 / (sin(el) + 0.50572 (el + 6.07995)^-1.6364)``; 1 at the zenith, about 5.6 at 10 deg.

    >>> round(float(airmass(90.0)), 3), round(float(airmass(10.0)), 2)
    (1.0, 5.59)
    """
    el = np.clip(np.asarray(elevation_deg, dtype=np.float64), 0.0, 90.0)
    return np.asarray(
        1.0 / (np.sin(np.radians(el)) + 0.50572 * (el + 6.07995) ** -1.6364), dtype=np.float64
    )


def zenith_transmittance(
    *, wavelength_nm: float, altitude_m: float = 0.0, angstrom_turbidity: float = _ANGSTROM_BETA
) -> float:
    """Clear-sky zenith transmittance at ``wavelength_nm`` for a site at ``altitude_m``.

    Rayleigh optical depth ``0.008569 l^-4 (1 + 0.0113 l^-2 + 0.00013 l^-4)`` (``l`` in um;
    Hansen & Travis 1974) scaled by ``exp(-h / 8.4 km)``, plus Angstrom aerosols
    ``beta l^-1.3`` (``beta = angstrom_turbidity``, 0.1 for a clear sky, 0.2-0.4 for haze)
    scaled by ``exp(-h / 1.2 km)``. Molecular absorption bands are not modelled.

    >>> round(zenith_transmittance(wavelength_nm=850.0), 3)
    0.869
    """
    lam_um = wavelength_nm / 1000.0
    tau_rayleigh = 0.008569 * lam_um**-4 * (1.0 + 0.0113 * lam_um**-2 + 0.00013 * lam_um**-4)
    tau_aerosol = angstrom_turbidity * lam_um**-_ANGSTROM_ALPHA
    tau = tau_rayleigh * math.exp(-altitude_m / _RAYLEIGH_SCALE_HEIGHT_M) + tau_aerosol * math.exp(
        -altitude_m / _AEROSOL_SCALE_HEIGHT_M
    )
    return math.exp(-tau)


def atmospheric_transmittance(elevation_deg: npt.ArrayLike, *, zenith: float) -> FloatArray:
    """``T_zen ** airmass(el)`` (Beer-Lambert along the slant path; Bourgoin et al. 2013)."""
    return np.asarray(zenith ** airmass(elevation_deg), dtype=np.float64)


def residual_phase_variance(
    aperture_m: float, r0_m: npt.ArrayLike, *, corrected_modes: int
) -> FloatArray:
    """Residual wavefront variance (rad^2) after correcting the first ``corrected_modes`` Zernike
    modes (piston counts as mode 1), Noll (1976), Table IV and Eq. (27)."""
    j = max(corrected_modes, 1)
    coeff = _NOLL_RESIDUAL[j - 1] if j <= len(_NOLL_RESIDUAL) else 0.2944 * j ** (-math.sqrt(3) / 2)
    return np.asarray(coeff * (aperture_m / np.asarray(r0_m)) ** (5.0 / 3.0), dtype=np.float64)


def background_count_rate_hz(link: OpticalLink, *, daytime: bool) -> float:
    """Sky background counts per second at the detectors (Miao et al., NJP 7, 215 (2005)).

    ``N = L_sky Omega A dlambda eta_rx eta_det / (h c / lambda)`` with ``Omega = pi (FOV/2)^2``
    (full-angle field of view) and ``A = pi (D_R / 2)^2``.
    """
    radiance = (
        link.sky_radiance_day_w_per_m2_sr_nm if daytime else link.sky_radiance_night_w_per_m2_sr_nm
    )
    omega_sr = math.pi * (link.field_of_view_urad * 1e-6 / 2.0) ** 2
    area_m2 = math.pi * (link.receiver_aperture_m / 2.0) ** 2
    photon_j = _PLANCK_J_S * _C_M_PER_S / (link.wavelength_nm * 1e-9)
    power_w = radiance * omega_sr * area_m2 * link.filter_bandwidth_nm
    return power_w / photon_j * link.receiver_efficiency * link.detector_efficiency


def link_budget(
    link: OpticalLink,
    *,
    elevation_deg: npt.ArrayLike,
    range_km: npt.ArrayLike,
    station_altitude_m: float = 0.0,
    daytime: bool = False,
) -> LinkBudget:
    """The budget of each slot from its elevation (deg) and slant range (km), arrays of one shape.

    Returns
    -------
    LinkBudget
        ``loss_db`` per slot (detector excluded), the terms it is made of, and the background
        count rate (day or night).
    """
    el = np.asarray(elevation_deg, dtype=np.float64)
    rng = np.asarray(range_km, dtype=np.float64)
    if el.shape != rng.shape:
        raise ConfigurationError("elevation_deg and range_km: expected arrays of the same shape")
    if np.any(~np.isfinite(rng)) or np.any(rng <= 0):
        raise ConfigurationError("range_km: expected slant ranges > 0 in km", field="range_km")
    w = beam_radius_m(rng, waist_m=link.waist_m, wavelength_nm=link.wavelength_nm)
    eta_diff = collection_efficiency(w, aperture_m=link.receiver_aperture_m)
    jitter_m = link.pointing_jitter_urad * 1e-6 * rng * 1e3
    eta_point = collection_efficiency(np.sqrt(w**2 + 4.0 * jitter_m**2),
                                      aperture_m=link.receiver_aperture_m) / eta_diff  # fmt: skip
    t_zen = link.zenith_transmittance
    if t_zen is None:
        t_zen = zenith_transmittance(
            wavelength_nm=link.wavelength_nm,
            altitude_m=station_altitude_m,
            angstrom_turbidity=link.angstrom_turbidity,
        )
    eta_atm = atmospheric_transmittance(el, zenith=t_zen)
    if link.r0_zenith_cm is None:
        eta_turb = np.ones_like(el)
    else:
        zenith_rad = np.radians(90.0 - np.clip(el, 1.0, 90.0))
        r0_m = (
            link.r0_zenith_cm
            * 1e-2
            * (link.wavelength_nm / 500.0) ** 1.2
            * np.cos(zenith_rad) ** 0.6
        )
        sigma2 = residual_phase_variance(
            link.receiver_aperture_m, r0_m, corrected_modes=link.corrected_zernike_modes
        )
        eta_turb = np.exp(-sigma2)
    optics = link.transmitter_efficiency * link.receiver_efficiency
    return LinkBudget(
        elevation_deg=el,
        range_km=rng,
        diffraction_db=transmittance_to_loss_db(eta_diff),
        pointing_db=transmittance_to_loss_db(eta_point),
        atmosphere_db=transmittance_to_loss_db(eta_atm),
        turbulence_db=transmittance_to_loss_db(eta_turb),
        optics_db=float(transmittance_to_loss_db(optics)),
        extra_db=link.extra_loss_db,
        detector_efficiency=link.detector_efficiency,
        background_count_rate_hz=background_count_rate_hz(link, daytime=daytime),
    )
