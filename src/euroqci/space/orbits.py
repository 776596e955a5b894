"""Satellites (from a TLE or circular-orbit elements) and optical ground stations.

A satellite wraps an sgp4 ``Satrec``: sgp4 propagates it, skyfield's GMST and UT1 (from the
``skyfield-data`` files) turn its TEME positions into Earth-fixed ones. A ground station is a
WGS84 position, from the built-in list of EuroQCI optical ground stations or given directly.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.space import _kernels
from euroqci.space._skyfield import TimeGrid, ensure_utc

__all__ = [
    "DEFAULT_CLOUD_PROBABILITY",
    "GroundStation",
    "Satellite",
    "builtin_stations",
    "parse_station",
    "raan_for_local_time_deg",
]

FloatArray = npt.NDArray[np.float64]

#: WGS72 constants that sgp4 is defined with (Vallado et al., AIAA 2006-6753, Table 1):
#: Earth's gravitational parameter and equatorial radius.
_MU_WGS72_KM3_S2 = 398_600.8
_RADIUS_WGS72_KM = 6378.135
#: Sgp4 needs a non-zero eccentricity for its Brouwer mean elements; 1e-7 is a circle to 1 m.
_CIRCULAR_ECCENTRICITY = 1e-7
#: Epoch origin of ``sgp4init``: days since 1949 December 31 00:00 UT (sgp4 documentation).
_JD_SGP4_EPOCH_ORIGIN = 2_433_281.5

#: Cloud probability of a station when none is given: a planning assumption, not a measurement.
#: Mountain observatories (above 1500 m, often above the inversion layer) are taken to be clear
#: more often than lowland sites. Give each station its own figure from a site climatology
#: (e.g. satellite cloud-fraction records) for a real study.
DEFAULT_CLOUD_PROBABILITY = 0.6
_MOUNTAIN_CLOUD_PROBABILITY = 0.3
_MOUNTAIN_ALTITUDE_M = 1500.0


@dataclass(frozen=True)
class Satellite:
    """A satellite propagated with sgp4.

    Build it with :meth:`from_tle`, :meth:`from_tle_file` or :meth:`from_circular_orbit`.

    >>> from datetime import UTC, datetime
    >>> epoch = datetime(2027, 3, 21, tzinfo=UTC)
    >>> sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=epoch)
    >>> round(sat.period_s / 60, 1)
    94.6
    """

    name: str
    satrec: Any = field(repr=False, compare=False)

    @classmethod
    def from_tle(cls, line1: str, line2: str, *, name: str = "") -> Satellite:
        """A satellite from the two lines of a NORAD two-line element set."""
        from sgp4.api import Satrec

        line1, line2 = line1.strip(), line2.strip()
        if not (line1.startswith("1 ") and line2.startswith("2 ")):
            raise ConfigurationError(
                "tle: expected two lines starting with '1 ' and '2 ' (NORAD two-line elements)",
                field="tle",
            )
        try:
            satrec = Satrec.twoline2rv(line1, line2)
        except (ValueError, IndexError) as exc:
            raise ConfigurationError(
                f"tle: cannot parse the element set: {exc}", field="tle"
            ) from None
        if satrec.error:
            raise ConfigurationError(f"tle: sgp4 rejects the elements (code {satrec.error})")
        return cls(name=name or f"NORAD {satrec.satnum}", satrec=satrec)

    @classmethod
    def from_tle_file(cls, path: Path) -> Satellite:
        """The first satellite of a TLE file (two lines, or three with a name line first)."""
        try:
            lines = [ln.rstrip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
        except OSError as exc:
            raise ConfigurationError(
                f"tle: cannot read {path}: {exc.strerror}", field="tle"
            ) from None
        lines = [ln for ln in lines if ln.strip()]
        for i, line in enumerate(lines[:-1]):
            if line.startswith("1 ") and lines[i + 1].startswith("2 "):
                name = lines[i - 1].strip() if i > 0 else ""
                return cls.from_tle(line, lines[i + 1], name=name.removeprefix("0 "))
        raise ConfigurationError(f"tle: no two-line element set found in {path}", field="tle")

    @classmethod
    def from_circular_orbit(
        cls,
        *,
        altitude_km: float,
        inclination_deg: float,
        raan_deg: float = 0.0,
        phase_deg: float = 0.0,
        epoch: datetime,
        name: str = "",
        satnum: int = 99_999,
    ) -> Satellite:
        """A satellite on a circular orbit, as sgp4 mean elements at ``epoch``.

        Parameters
        ----------
        altitude_km
            Altitude above the WGS72 equatorial radius, 150-40 000 km.
        inclination_deg
            Inclination in [0, 180] degrees (97-98 for a Sun-synchronous LEO).
        raan_deg
            Right ascension of the ascending node, degrees.
        phase_deg
            Argument of latitude at ``epoch`` (angle from the ascending node), degrees.
        epoch
            Epoch of the elements (UTC).

        The mean motion is Kepler's ``n = sqrt(mu / a^3)`` with ``a = R + h`` (WGS72 constants,
        as sgp4 uses); sgp4 then adds the J2 secular drift of the node (Sun-synchronous orbits
        precess as they should) and of the argument of latitude.
        """
        from sgp4.api import WGS72, Satrec

        _check_range("orbit.altitude_km", altitude_km, 150.0, 40_000.0, "km")
        _check_range("orbit.inclination_deg", inclination_deg, 0.0, 180.0, "degrees")
        _check_range("orbit.raan_deg", raan_deg, -360.0, 360.0, "degrees")
        _check_range("orbit.phase_deg", phase_deg, -360.0, 360.0, "degrees")
        epoch = ensure_utc(epoch, name="orbit.epoch")
        a_km = _RADIUS_WGS72_KM + altitude_km
        n_rad_per_min = math.sqrt(_MU_WGS72_KM3_S2 / a_km**3) * 60.0
        grid = TimeGrid(start=epoch, offsets_s=np.zeros(1))
        epoch_days = grid.jd_utc_whole - _JD_SGP4_EPOCH_ORIGIN + float(grid.jd_utc_fraction[0])
        satrec = Satrec()
        satrec.sgp4init(
            WGS72,
            "i",
            satnum,
            epoch_days,
            0.0,  # bstar: no drag
            0.0,  # ndot
            0.0,  # nddot
            _CIRCULAR_ECCENTRICITY,
            0.0,  # argument of perigee: the phase is carried by the mean anomaly
            math.radians(inclination_deg),
            math.radians(phase_deg % 360.0),
            n_rad_per_min,
            math.radians(raan_deg % 360.0),
        )
        if satrec.error:
            raise ConfigurationError(f"orbit: sgp4 rejects the elements (code {satrec.error})")
        label = name or f"circular {altitude_km:g} km / {inclination_deg:g} deg"
        return cls(name=label, satrec=satrec)

    @property
    def period_s(self) -> float:
        """Orbital period from the sgp4 mean motion (Kozai), seconds."""
        return float(2.0 * math.pi / self.satrec.no_kozai * 60.0)

    def positions_itrs_km(self, grid: TimeGrid) -> FloatArray:
        """Earth-fixed positions at the instants of ``grid``, shape ``(3, n)`` in km.

        Instants where sgp4 reports an error (decayed orbit) come back as NaN.
        """
        from skyfield.sgp4lib import theta_GMST1982

        n = grid.offsets_s.size
        err, r_teme, _ = self.satrec.sgp4_array(np.full(n, grid.jd_utc_whole), grid.jd_utc_fraction)
        r_teme = np.asarray(r_teme, dtype=np.float64)
        r_teme[err != 0] = np.nan
        ut1_whole, ut1_fraction = grid.ut1()
        theta, _ = theta_GMST1982(ut1_whole, ut1_fraction)
        return np.asarray(_kernels.teme_to_pef(r_teme.T, theta), dtype=np.float64)

    def epoch_offset_days(self, moment: datetime) -> float:
        """Days from the element epoch to ``moment`` (TLEs age: a few days is typical)."""
        grid = TimeGrid(start=moment, offsets_s=np.zeros(1))
        epoch_jd = self.satrec.jdsatepoch + self.satrec.jdsatepochF
        return float(grid.jd_utc_whole + grid.jd_utc_fraction[0] - epoch_jd)


def raan_for_local_time_deg(*, epoch: datetime, ltan_h: float) -> float:
    """Right ascension of the ascending node that puts it at local time ``ltan_h`` at ``epoch``.

    The local time of the ascending node (LTAN) is the hour angle of the node from the mean Sun:
    ``RAAN = RA_sun + 15 deg/h (LTAN - 12 h)`` (e.g. Wertz, *Space Mission Analysis and Design*,
    Sec. 6.2 on Sun-synchronous orbits). A Sun-synchronous orbit keeps its LTAN; LTAN 0 h puts
    the ascending passes at local midnight (night-time QKD), 6 h or 18 h gives a dawn-dusk orbit.
    The Sun's apparent right ascension comes from the DE421 ephemeris via skyfield.
    """
    from euroqci.space._skyfield import load_ephemeris

    _check_range("orbit.ltan_h", ltan_h, 0.0, 24.0, "hours")
    grid = TimeGrid(start=ensure_utc(epoch, name="orbit.epoch"), offsets_s=np.zeros(1))
    eph = load_ephemeris()
    try:
        ra, _, _ = eph["earth"].at(grid.skyfield_time()[0]).observe(eph["sun"]).radec("date")
    finally:
        eph.close()
    return float((ra.hours * 15.0 + 15.0 * (ltan_h - 12.0)) % 360.0)


@dataclass(frozen=True)
class GroundStation:
    """An optical ground station at a WGS84 position.

    ``cloud_probability`` is the chance that a given pass is lost to clouds (0-1).

    >>> st = GroundStation(station_id="X", latitude_deg=0.0, longitude_deg=0.0, altitude_m=0.0)
    >>> [round(float(v), 3) for v in st.itrs_km]
    [6378.137, 0.0, 0.0]
    """

    station_id: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    name: str = ""
    country_iso2: str = ""
    cloud_probability: float | None = None

    def __post_init__(self) -> None:
        _check_range("station.latitude_deg", self.latitude_deg, -90.0, 90.0, "degrees")
        _check_range("station.longitude_deg", self.longitude_deg, -180.0, 360.0, "degrees")
        _check_range("station.altitude_m", self.altitude_m, -500.0, 9000.0, "m")
        if self.cloud_probability is not None:
            _check_range("station.cloud_probability", self.cloud_probability, 0.0, 1.0, "fraction")

    @property
    def effective_cloud_probability(self) -> float:
        """The given cloud probability, or the documented default for the site's altitude."""
        if self.cloud_probability is not None:
            return self.cloud_probability
        if self.altitude_m >= _MOUNTAIN_ALTITUDE_M:
            return _MOUNTAIN_CLOUD_PROBABILITY
        return DEFAULT_CLOUD_PROBABILITY

    @property
    def itrs_km(self) -> FloatArray:
        """Earth-fixed position (WGS84 ellipsoid, via skyfield), km, shape ``(3,)``."""
        return _itrs_km(self.latitude_deg, self.longitude_deg, self.altitude_m)

    @property
    def up_unit(self) -> FloatArray:
        """Unit vector of the local geodetic vertical in the Earth-fixed frame."""
        lat, lon = math.radians(self.latitude_deg), math.radians(self.longitude_deg)
        return np.array(
            [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
        )

    def look_angles(self, positions_itrs_km: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Elevation (deg) and slant range (km) of Earth-fixed positions ``(3, n)``."""
        el, rng = _kernels.look_angles(positions_itrs_km, self.itrs_km, self.up_unit)
        return np.asarray(el, dtype=np.float64), np.asarray(rng, dtype=np.float64)


@lru_cache(maxsize=256)
def _itrs_km(latitude_deg: float, longitude_deg: float, altitude_m: float) -> FloatArray:
    from skyfield.api import wgs84

    position = wgs84.latlon(latitude_deg, longitude_deg, elevation_m=altitude_m)
    return np.asarray(position.itrs_xyz.km, dtype=np.float64)


def _check_range(name: str, value: float, low: float, high: float, unit: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise ConfigurationError(
            f"{name}: expected a number in [{low:g}, {high:g}] {unit}, got {value!r}", field=name
        )


@lru_cache(maxsize=1)
def _builtin_rows() -> tuple[dict[str, str], ...]:
    text = resources.files("euroqci.space").joinpath("data/eu_ogs.csv").read_text("utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def builtin_stations() -> dict[str, GroundStation]:
    """The optical ground stations of ``data/eu_ogs.csv``, by ID (e.g. ``"OGS-ES-TEIDE"``)."""
    stations = {}
    for row in _builtin_rows():
        stations[row["ogs_id"]] = GroundStation(
            station_id=row["ogs_id"],
            name=row["name"],
            country_iso2=row["country_iso2"],
            latitude_deg=float(row["lat"]),
            longitude_deg=float(row["lon"]),
            altitude_m=float(row["altitude_m"] or 0.0),
        )
    return stations


def parse_station(text: str) -> GroundStation:
    """A station from a built-in ID (``OGS-IT-MATERA``) or ``LAT,LON,ALT_M`` in degrees and m."""
    stations = builtin_stations()
    key = text.strip()
    if key.upper() in stations:
        return stations[key.upper()]
    parts = key.split(",")
    if len(parts) == 3:
        try:
            lat, lon, alt = (float(p) for p in parts)
        except ValueError:
            pass
        else:
            return GroundStation(
                station_id=f"{lat:.4f},{lon:.4f}",
                latitude_deg=lat,
                longitude_deg=lon,
                altitude_m=alt,
            )
    raise ConfigurationError(
        f"station: {text!r} is neither a built-in ID ({', '.join(sorted(stations))}) nor "
        "LAT,LON,ALT_M in degrees and metres",
        field="station",
    )
