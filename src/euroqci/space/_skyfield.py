"""Skyfield and sgp4 plumbing: the timescale and ephemeris from ``skyfield-data``, time grids.

Nothing here downloads: the loader points at the files that the ``skyfield-data`` package ships.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.units import DAY_S

__all__ = ["TimeGrid", "ensure_utc", "load_ephemeris", "load_timescale"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
#: Julian date of the Unix epoch 1970-01-01T00:00:00 UTC.
_JD_UNIX_EPOCH = 2_440_587.5
#: The ephemeris de421 covers 1899-07-29 to 2053-10-09 (JPL); we accept 1950-2050.
_FIRST_YEAR, _LAST_YEAR = 1950, 2050


@lru_cache(maxsize=1)
def _loader() -> Any:
    from skyfield.api import Loader
    from skyfield_data import get_skyfield_data_path

    with warnings.catch_warnings(record=True) as caught:
        # skyfield-data warns when its Earth-orientation table ends before today; skyfield then
        # extrapolates UT1-UTC, an error well below a second that does not matter for passes.
        warnings.simplefilter("always")
        path = get_skyfield_data_path()
    for warning in caught:
        logger.info("skyfield-data: %s", warning.message)
    return Loader(path, verbose=False)


@lru_cache(maxsize=1)
def load_timescale() -> Any:
    """The skyfield timescale built from ``finals2000A.all`` in ``skyfield-data``."""
    return _loader().timescale(builtin=False)


def load_ephemeris() -> Any:
    """The JPL DE421 ephemeris from ``skyfield-data`` (Sun position for the night-only rule).

    The caller closes it (``.close()``): the file is memory-mapped and cheap to open.
    """
    return _loader()("de421.bsp")


def ensure_utc(moment: datetime, *, name: str = "start") -> datetime:
    """Return ``moment`` as an aware UTC datetime; naive datetimes are read as UTC."""
    if not isinstance(moment, datetime):
        raise ConfigurationError(f"{name}: expected a datetime (ISO-8601, UTC)", field=name)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        raise ConfigurationError(
            f"{name}: {moment.isoformat()} is outside {_FIRST_YEAR}-{_LAST_YEAR}, the span of "
            "the shipped ephemeris",
            field=name,
        )
    return moment


@dataclass(frozen=True)
class TimeGrid:
    """Instants given as offsets in seconds from an aware UTC ``start``.

    ``jd_utc_whole`` and ``jd_utc_fraction`` feed sgp4 (TLE epochs are UTC, Vallado et al.,
    AIAA 2006-6753); ``jd_ut1_whole`` and ``jd_ut1_fraction`` feed Earth rotation. Leap seconds
    inside the grid are ignored (an error of at most one second per leap second).
    """

    start: datetime
    offsets_s: FloatArray
    jd_utc_whole: float = field(init=False)
    jd_utc_fraction: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        start = ensure_utc(self.start)
        offsets = np.atleast_1d(np.asarray(self.offsets_s, dtype=np.float64))
        jd = _JD_UNIX_EPOCH + start.timestamp() / DAY_S
        whole = float(np.floor(jd))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "offsets_s", offsets)
        object.__setattr__(self, "jd_utc_whole", whole)
        object.__setattr__(self, "jd_utc_fraction", (jd - whole) + offsets / DAY_S)

    def skyfield_time(self) -> Any:
        """The same instants as a skyfield ``Time`` (vector)."""
        s = self.start
        return load_timescale().utc(
            s.year,
            s.month,
            s.day,
            s.hour,
            s.minute,
            s.second + s.microsecond * 1e-6 + self.offsets_s,
        )

    def ut1(self) -> tuple[Any, FloatArray]:
        """Julian date UT1 as ``(whole, fraction)`` arrays, from the skyfield timescale."""
        t = self.skyfield_time()
        return t.whole, np.asarray(t.ut1_fraction, dtype=np.float64)
