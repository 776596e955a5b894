"""Pure numeric kernels of the space segment: frames, look angles, closed-form geometry.

Each function takes and returns numpy arrays; the public wrappers in ``orbits``, ``passes`` and
``link_budget`` validate inputs first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def teme_to_pef(r_teme_km: FloatArray, theta_gmst_rad: FloatArray) -> FloatArray:
    """Rotate TEME positions (3, n) into the pseudo-Earth-fixed frame by the GMST angle.

    ``r_PEF = R_z(-theta_GMST) r_TEME`` (Vallado, Crawford, Hujsak, Kelso, "Revisiting
    Spacetrack Report #3", AIAA 2006-6753, Sec. on coordinate frames; the same rotation as
    skyfield's ``TEME_to_ITRF``). Polar motion (< 20 m at the surface) is neglected, so PEF is
    taken as ITRS.
    """
    c = np.cos(theta_gmst_rad)
    s = np.sin(theta_gmst_rad)
    x, y, z = r_teme_km
    return np.stack((c * x + s * y, -s * x + c * y, z))


def look_angles(
    r_sat_km: FloatArray, r_station_km: FloatArray, up_unit: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Elevation (deg) and slant range (km) of satellite positions (3, n) seen from a station.

    ``sin(el) = (rho . u) / |rho|`` with ``rho = r_sat - r_station`` and ``u`` the local
    geodetic vertical (Vallado, Fundamentals of Astrodynamics, 4th ed., Sec. 4.4).
    """
    rho = r_sat_km - r_station_km[:, None]
    range_km = np.sqrt(np.einsum("ij,ij->j", rho, rho))
    sin_el = (up_unit @ rho) / range_km
    return np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0))), range_km


def slant_range_km(
    elevation_deg: FloatArray | float, altitude_km: FloatArray | float, earth_radius_km: float
) -> FloatArray:
    """Slant range from a spherical Earth to a satellite at ``altitude_km``.

    ``d = sqrt((R + h)^2 - R^2 cos^2(el)) - R sin(el)`` (law of cosines in the Earth-centre /
    station / satellite triangle).
    """
    el = np.radians(elevation_deg)
    r = earth_radius_km
    return np.sqrt((r + altitude_km) ** 2 - (r * np.cos(el)) ** 2) - r * np.sin(el)


def earth_central_angle_rad(
    elevation_deg: FloatArray | float, altitude_km: FloatArray | float, earth_radius_km: float
) -> FloatArray:
    """Earth-central angle between station and satellite seen at ``elevation_deg``.

    ``lambda = arccos(R cos(el) / (R + h)) - el`` (spherical Earth).
    """
    el = np.radians(elevation_deg)
    return np.arccos(earth_radius_km * np.cos(el) / (earth_radius_km + altitude_km)) - el


def sign_changes(values: FloatArray) -> tuple[IntArray, IntArray]:
    """Indices ``i`` where ``values[i] < 0 <= values[i+1]`` (rise) and the reverse (set)."""
    above = values >= 0.0
    rises = np.flatnonzero(~above[:-1] & above[1:])
    sets = np.flatnonzero(above[:-1] & ~above[1:])
    return rises, sets
