"""Great-circle geometry on a spherical Earth: distances and points along a route.

Written by hand rather than with pyproj: two closed-form formulas on a sphere of mean radius are
all a planning study needs (fibre routes are modelled as great circle x route factor anyway).
"""

from __future__ import annotations

import math

from euroqci.units import EARTH_RADIUS_KM

__all__ = ["great_circle_km", "intermediate_point"]


def great_circle_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in km by the haversine formula on a sphere of mean Earth radius.

    Sinnott, R. W., "Virtues of the Haversine", Sky and Telescope 68(2), 159 (1984).

    >>> round(great_circle_km(48.20849, 16.37208, 50.08804, 14.42076), 1)  # Vienna-Prague
    252.6
    """
    phi1, phi2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2_deg - lon1_deg)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def intermediate_point(
    lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float, *, fraction: float
) -> tuple[float, float]:
    """The point a ``fraction`` (0..1) of the way along the great circle from point 1 to point 2.

    Spherical linear interpolation of the two unit vectors (Shoemake, "Animating rotation with
    quaternion curves", SIGGRAPH 1985, eq. for slerp). Returns ``(lat_deg, lon_deg)``.

    >>> intermediate_point(0.0, 0.0, 0.0, 90.0, fraction=0.5)
    (0.0, 45.0)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a value in [0, 1], got {fraction}")
    p1 = _unit_vector(lat1_deg, lon1_deg)
    p2 = _unit_vector(lat2_deg, lon2_deg)
    dot = max(-1.0, min(1.0, sum(a * b for a, b in zip(p1, p2, strict=True))))
    omega = math.acos(dot)
    if omega < 1e-12:
        return (lat1_deg, lon1_deg)
    w1 = math.sin((1.0 - fraction) * omega) / math.sin(omega)
    w2 = math.sin(fraction * omega) / math.sin(omega)
    x, y, z = (w1 * a + w2 * b for a, b in zip(p1, p2, strict=True))
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    lon = math.degrees(math.atan2(y, x))
    return (round(lat, 6), round(lon, 6))


def _unit_vector(lat_deg: float, lon_deg: float) -> tuple[float, float, float]:
    phi, lmb = math.radians(lat_deg), math.radians(lon_deg)
    return (math.cos(phi) * math.cos(lmb), math.cos(phi) * math.sin(lmb), math.sin(phi))
