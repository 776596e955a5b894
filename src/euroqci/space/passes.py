"""Pass prediction: when a satellite is above a station's elevation mask, optionally at night.

Positions are computed on a time grid in one vectorised sgp4 call; each rise and set found
between two grid points is refined by bisection on the exact sgp4 elevation and a final linear
interpolation, and each culmination by a golden-section search. This is what skyfield's
``find_events`` does point by point; the vectorised form handles a year of 10 stations at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.space import _kernels
from euroqci.space._skyfield import TimeGrid, ensure_utc, load_ephemeris
from euroqci.space.orbits import GroundStation, Satellite
from euroqci.units import DAY_S

__all__ = [
    "DEFAULT_MIN_ELEVATION_DEG",
    "DEFAULT_SUN_MAX_ELEVATION_DEG",
    "Pass",
    "Track",
    "find_passes",
    "find_passes_many",
    "sun_elevation_deg",
    "track",
]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Elevation mask of a QKD downlink: Micius kept to about 10 deg and above (Liao et al., Nature
#: 549, 43 (2017)), and Sidhu et al., npj QI 8, 18 (2022) use 10 deg as their lowest mask.
DEFAULT_MIN_ELEVATION_DEG = 10.0
#: Astronomical night: the Sun 12 deg or more below the horizon (nautical twilight ends).
DEFAULT_SUN_MAX_ELEVATION_DEG = -12.0
#: Coarse grid step. A 500 km pass above 10 deg lasts minutes; passes whose time above the mask
#: is shorter than one step may be missed (they carry almost no key).
DEFAULT_STEP_S = 30.0
_CHUNK_S = 10 * DAY_S
_BISECTIONS = 10
_GOLDEN_STEPS = 24


@dataclass(frozen=True)
class Pass:
    """One pass of a satellite above a station's elevation mask (times in UTC)."""

    station_id: str
    rise: datetime
    culmination: datetime
    set: datetime
    max_elevation_deg: float
    min_elevation_deg: float

    @property
    def duration_s(self) -> float:
        """Time above the mask, seconds."""
        return (self.set - self.rise).total_seconds()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields: ISO-8601 times, ``max_elevation_deg``, ``duration_s``."""
        return {
            "station_id": self.station_id,
            "start": self.rise.isoformat(),
            "culmination": self.culmination.isoformat(),
            "end": self.set.isoformat(),
            "max_elevation_deg": round(self.max_elevation_deg, 3),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class Track:
    """Look angles of a satellite from a station at the instants ``offsets_s`` after ``start``."""

    start: datetime
    offsets_s: FloatArray
    elevation_deg: FloatArray
    range_km: FloatArray


def track(
    satellite: Satellite, station: GroundStation, *, start: datetime, offsets_s: npt.ArrayLike
) -> Track:
    """Elevation and slant range at each instant (``offsets_s`` seconds after ``start``)."""
    grid = TimeGrid(start=ensure_utc(start), offsets_s=np.asarray(offsets_s, dtype=np.float64))
    el, rng = station.look_angles(satellite.positions_itrs_km(grid))
    return Track(start=grid.start, offsets_s=grid.offsets_s, elevation_deg=el, range_km=rng)


def find_passes(
    satellite: Satellite,
    station: GroundStation,
    *,
    start: datetime,
    duration_s: float,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    night_only: bool = False,
    sun_max_elevation_deg: float = DEFAULT_SUN_MAX_ELEVATION_DEG,
    step_s: float = DEFAULT_STEP_S,
) -> list[Pass]:
    """Passes of ``satellite`` over ``station`` between ``start`` and ``start + duration_s``.

    Parameters
    ----------
    min_elevation_deg
        Elevation mask, degrees in [0, 90).
    night_only
        Keep only passes with the Sun below ``sun_max_elevation_deg`` at rise and at set.
    step_s
        Coarse grid step in seconds (passes shorter than this above the mask may be missed).

    Returns
    -------
    list of Pass, in time order. A pass cut by the period's ends starts or ends there.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from euroqci.space.orbits import Satellite, builtin_stations
    >>> t0 = datetime(2027, 3, 21, tzinfo=UTC)
    >>> sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=t0)
    >>> passes = find_passes(sat, builtin_stations()["OGS-IT-MATERA"], start=t0, duration_s=86400.0)
    >>> len(passes), round(max(p.max_elevation_deg for p in passes))
    (4, 27)
    """
    return find_passes_many(
        satellite,
        [station],
        start=start,
        duration_s=duration_s,
        min_elevation_deg=min_elevation_deg,
        night_only=night_only,
        sun_max_elevation_deg=sun_max_elevation_deg,
        step_s=step_s,
    )[station.station_id]


def find_passes_many(
    satellite: Satellite,
    stations: Sequence[GroundStation],
    *,
    start: datetime,
    duration_s: float,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    night_only: bool = False,
    sun_max_elevation_deg: float = DEFAULT_SUN_MAX_ELEVATION_DEG,
    step_s: float = DEFAULT_STEP_S,
) -> dict[str, list[Pass]]:
    """Passes over several stations, sharing one propagation of the satellite (see find_passes)."""
    start = ensure_utc(start)
    _check(duration_s, "duration_s", 1.0, 50 * 366 * DAY_S, "s")
    _check(min_elevation_deg, "min_elevation_deg", 0.0, 89.0, "degrees")
    _check(sun_max_elevation_deg, "sun_max_elevation_deg", -90.0, 90.0, "degrees")
    _check(step_s, "step_s", 1.0, 600.0, "s")
    ensure_utc(start + timedelta(seconds=duration_s), name="end of period")
    result: dict[str, list[Pass]] = {st.station_id: [] for st in stations}
    chunk_start = 0.0
    while chunk_start < duration_s:
        chunk_end = min(chunk_start + _CHUNK_S, duration_s)
        offsets = np.arange(chunk_start, chunk_end, step_s)
        offsets = np.append(offsets, chunk_end) if offsets[-1] < chunk_end else offsets
        grid = TimeGrid(start=start, offsets_s=offsets)
        positions = satellite.positions_itrs_km(grid)
        for st in stations:
            result[st.station_id].extend(
                _passes_on_grid(satellite, st, start, offsets, positions, min_elevation_deg)
            )
        chunk_start = chunk_end
    for sid, passes in result.items():
        result[sid] = _merge_chunk_edges(passes)
    if night_only:
        by_id = {st.station_id: st for st in stations}
        for sid, passes in result.items():
            result[sid] = _night_passes(by_id[sid], passes, sun_max_elevation_deg)
    return result


def _passes_on_grid(
    satellite: Satellite,
    station: GroundStation,
    start: datetime,
    offsets: FloatArray,
    positions: FloatArray,
    mask_deg: float,
) -> list[Pass]:
    el, _ = station.look_angles(positions)
    above = np.nan_to_num(el - mask_deg, nan=-1.0)
    rises, sets = _kernels.sign_changes(above)
    if above[0] >= 0:
        rises = np.concatenate(([-1], rises))
    if above[-1] >= 0:
        sets = np.concatenate((sets, [offsets.size - 1]))
    if rises.size == 0:
        return []

    def elevation(t: FloatArray) -> FloatArray:
        pos = satellite.positions_itrs_km(TimeGrid(start=start, offsets_s=t))
        return station.look_angles(pos)[0] - mask_deg

    inner_r = rises >= 0
    t_rise = np.full(rises.size, offsets[0])
    t_rise[inner_r] = _refine_crossing(
        elevation, offsets[rises[inner_r]], offsets[rises[inner_r] + 1]
    )
    inner_s = sets < offsets.size - 1
    t_set = np.full(sets.size, offsets[-1])
    t_set[inner_s] = _refine_crossing(elevation, offsets[sets[inner_s]], offsets[sets[inner_s] + 1])
    # Culmination: bracket the grid maximum inside each pass and refine it.
    lo = np.maximum(rises, 0)
    peak = np.array([lo[k] + int(np.argmax(above[lo[k] : sets[k] + 1])) for k in range(rises.size)])
    a = np.maximum(offsets[np.maximum(peak - 1, 0)], t_rise)
    b = np.minimum(offsets[np.minimum(peak + 1, offsets.size - 1)], t_set)
    t_max, el_max = _golden_max(elevation, a, b)
    el_max = np.maximum(el_max, above[peak]) + mask_deg
    passes = []
    for k in range(rises.size):
        passes.append(
            Pass(
                station_id=station.station_id,
                rise=start + timedelta(seconds=float(t_rise[k])),
                culmination=start + timedelta(seconds=float(t_max[k])),
                set=start + timedelta(seconds=float(t_set[k])),
                max_elevation_deg=float(el_max[k]),
                min_elevation_deg=mask_deg,
            )
        )
    return passes


def _refine_crossing(f, a: FloatArray, b: FloatArray) -> FloatArray:  # type: ignore[no-untyped-def]
    """Zero of ``f`` in each bracket ``[a, b]`` (sign change): bisection, then one secant step."""
    if a.size == 0:
        return a
    fa = f(a)
    for _ in range(_BISECTIONS):
        m = 0.5 * (a + b)
        fm = f(m)
        same = np.sign(fm) == np.sign(fa)
        a = np.where(same, m, a)
        fa = np.where(same, fm, fa)
        b = np.where(same, b, m)
    fb = f(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = a - fa * (b - a) / (fb - fa)
    return np.where(np.isfinite(t), np.clip(t, a, b), 0.5 * (a + b))


def _golden_max(f, a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:  # type: ignore[no-untyped-def]
    """Maximum of a unimodal ``f`` in each ``[a, b]`` by golden-section search."""
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    c = b - inv_phi * (b - a)
    d = a + inv_phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(_GOLDEN_STEPS):
        left = fc > fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - inv_phi * (b - a)
        d_new = a + inv_phi * (b - a)
        f_new = f(np.where(left, c_new, d_new))
        fd, fc = np.where(left, fc, f_new), np.where(left, f_new, fd)
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
    t = 0.5 * (a + b)
    return t, f(t)


def _merge_chunk_edges(passes: list[Pass]) -> list[Pass]:
    """Join a pass split in two at a chunk boundary (set of one == rise of the next)."""
    merged: list[Pass] = []
    for p in passes:
        if merged and abs((p.rise - merged[-1].set).total_seconds()) < 1e-3:
            q = merged.pop()
            best = q if q.max_elevation_deg >= p.max_elevation_deg else p
            p = Pass(
                station_id=p.station_id,
                rise=q.rise,
                culmination=best.culmination,
                set=p.set,
                max_elevation_deg=best.max_elevation_deg,
                min_elevation_deg=p.min_elevation_deg,
            )
        merged.append(p)
    return merged


def sun_elevation_deg(station: GroundStation, moments: Sequence[datetime]) -> FloatArray:
    """Elevation of the Sun's centre seen from ``station`` at each moment, degrees (no refraction).

    The Sun's apparent right ascension and declination of date come from skyfield and the
    DE421 ephemeris on a daily grid (they move about 1 deg per day, so linear interpolation is
    good to about 0.01 deg); the hour angle uses GMST from skyfield's ``theta_GMST1982`` and
    ``sin(el) = sin(phi) sin(dec) + cos(phi) cos(dec) cos(H)`` (Meeus, *Astronomical
    Algorithms*, Eq. 13.6). We do this by hand rather than call skyfield's ``altaz`` per instant
    because it is about a hundred times faster for a year of passes; the difference from
    skyfield (parallax, equation of the equinoxes) is below 0.02 deg, as a test checks.
    """
    from skyfield.sgp4lib import theta_GMST1982

    if len(moments) == 0:
        return np.zeros(0)
    t0 = ensure_utc(min(moments))
    offsets = np.array([(ensure_utc(m) - t0).total_seconds() for m in moments])
    grid_offsets, ra_rad, dec_rad = _sun_radec_of_date(t0, float(np.max(offsets)))
    ra = np.interp(offsets, grid_offsets, ra_rad)
    dec = np.interp(offsets, grid_offsets, dec_rad)
    whole, fraction = TimeGrid(start=t0, offsets_s=offsets).ut1()
    theta, _ = theta_GMST1982(whole, fraction)
    hour_angle = theta + math.radians(station.longitude_deg) - ra
    lat = math.radians(station.latitude_deg)
    sin_el = math.sin(lat) * np.sin(dec) + math.cos(lat) * np.cos(dec) * np.cos(hour_angle)
    return np.asarray(np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0))), dtype=np.float64)


def _sun_radec_of_date(t0: datetime, span_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Apparent RA (unwrapped) and declination of the Sun, radians, daily from ``t0 - 1 day``."""
    offsets = np.arange(-1.0, math.ceil(span_s / DAY_S) + 2.0) * DAY_S
    t = TimeGrid(start=t0, offsets_s=offsets).skyfield_time()
    eph = load_ephemeris()
    try:
        ra, dec, _ = eph["earth"].at(t).observe(eph["sun"]).apparent().radec("date")
    finally:
        eph.close()
    return offsets, np.unwrap(np.asarray(ra.radians)), np.asarray(dec.radians)


def _night_passes(station: GroundStation, passes: list[Pass], sun_max_deg: float) -> list[Pass]:
    """Passes with the Sun below ``sun_max_deg`` at rise and at set.

    Within a pass of minutes the Sun's elevation is monotonic except near its daily extremes,
    where it is far from any twilight threshold, so the two ends decide for the whole pass.
    """
    if not passes:
        return []
    moments = [p.rise for p in passes] + [p.set for p in passes]
    sun = sun_elevation_deg(station, moments)
    n = len(passes)
    return [p for k, p in enumerate(passes) if sun[k] < sun_max_deg and sun[n + k] < sun_max_deg]


def _check(value: float, name: str, low: float, high: float, unit: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise ConfigurationError(
            f"{name}: expected a number in [{low:g}, {high:g}] {unit}, got {value!r}", field=name
        )
