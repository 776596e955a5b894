"""Entanglement-based double downlink (BBM92): one satellite, two stations in common view.

The satellite's pair source sends one photon to each station while both see it above their
elevation masks (Yin et al., Nature 582, 501 (2020): Delingha and Nanshan, 1120 km apart). Each
slot of the common view gets one link budget per arm; the key-rate engine's BBM92 pass model
(``protocol = "bbm92"`` with ``channel`` and ``channel_b``) sums the coincidences over the
window and applies the finite-key bound once. The window is optimised here: the minimum of the
two elevations must reach a mask chosen among a few candidates to maximise the key (the engine
does not cut BBM92 passes itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.space.channel import DAYTIME_SUN_ELEVATION_DEG
from euroqci.space.link_budget import LinkBudget, OpticalLink, link_budget
from euroqci.space.orbits import GroundStation, Satellite
from euroqci.space.pass_key import QKDSystem, _evaluate
from euroqci.space.passes import (
    DEFAULT_MIN_ELEVATION_DEG,
    Pass,
    find_passes_many,
    sun_elevation_deg,
    track,
)
from euroqci.units import DAY_S

__all__ = [
    "DoubleDownlink",
    "DoubleDownlinkKey",
    "common_view_windows",
    "double_downlink",
    "double_downlink_key",
    "pair_block_bits_per_day",
]

FloatArray = npt.NDArray[np.float64]
#: Candidate extra masks (degrees above the base mask) tried by the window optimisation.
_WINDOW_STEPS_DEG = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0)


@dataclass(frozen=True)
class DoubleDownlink:
    """Slots of one common-view window: elevation, range and budget of each arm."""

    station_a: str
    station_b: str
    start: datetime
    slot_s: float
    elevation_a_deg: FloatArray
    elevation_b_deg: FloatArray
    budget_a: LinkBudget
    budget_b: LinkBudget

    @property
    def n_slots(self) -> int:
        """Number of slots in the window."""
        return int(self.elevation_a_deg.size)


@dataclass(frozen=True)
class DoubleDownlinkKey:
    """Key of one common-view window between two stations (BBM92)."""

    station_a: str
    station_b: str
    start: datetime
    duration_s: float
    window_s: float
    window_min_elevation_deg: float
    min_two_arm_loss_db: float
    sifted_bits: float
    qber: float
    secret_bits: float
    parameters: dict[str, Any]

    def to_dict(self, *, slots: bool = False) -> dict[str, Any]:
        """JSON-ready fields (``slots`` is accepted for symmetry with PassKey and ignored)."""
        out = dict(self.__dict__)
        out["start"] = self.start.isoformat()
        return out


def common_view_windows(
    passes_a: list[Pass], passes_b: list[Pass]
) -> list[tuple[datetime, datetime]]:
    """Intervals in which both stations see the satellite above their masks."""
    windows = []
    for a in passes_a:
        for b in passes_b:
            lo, hi = max(a.rise, b.rise), min(a.set, b.set)
            if hi > lo:
                windows.append((lo, hi))
    return sorted(windows)


def double_downlink(
    satellite: Satellite,
    station_a: GroundStation,
    station_b: GroundStation,
    link: OpticalLink,
    *,
    start: datetime,
    duration_s: float,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    night_only: bool = True,
    slot_s: float = 1.0,
    link_b: OpticalLink | None = None,
) -> list[DoubleDownlink]:
    """Every common-view window of the period, cut into slots with a budget per arm."""
    if not (math.isfinite(slot_s) and 0 < slot_s <= 60):
        raise ConfigurationError(
            "slot_s: expected a slot length in (0, 60] seconds", field="slot_s"
        )
    found = find_passes_many(
        satellite,
        [station_a, station_b],
        start=start,
        duration_s=duration_s,
        min_elevation_deg=min_elevation_deg,
        night_only=night_only,
    )
    out = []
    for lo, hi in common_view_windows(found[station_a.station_id], found[station_b.station_id]):
        n = int((hi - lo).total_seconds() // slot_s)
        if n < 1:
            continue
        offsets = (np.arange(n) + 0.5) * slot_s
        arms = []
        for st, lk in ((station_a, link), (station_b, link_b or link)):
            tr = track(satellite, st, start=lo, offsets_s=offsets)
            el = np.maximum(tr.elevation_deg, 0.0)
            sun = sun_elevation_deg(st, [lo + (hi - lo) / 2])[0]
            budget = link_budget(
                lk,
                elevation_deg=el,
                range_km=tr.range_km,
                station_altitude_m=st.altitude_m,
                daytime=bool(sun > DAYTIME_SUN_ELEVATION_DEG),
            )
            arms.append((tr.elevation_deg, budget))
        out.append(
            DoubleDownlink(
                station_a=station_a.station_id,
                station_b=station_b.station_id,
                start=lo,
                slot_s=slot_s,
                elevation_a_deg=arms[0][0],
                elevation_b_deg=arms[1][0],
                budget_a=arms[0][1],
                budget_b=arms[1][1],
            )
        )
    return out


def _bbm92_spec(
    dd: DoubleDownlink, keep: npt.NDArray[np.bool_], system: QKDSystem
) -> dict[str, Any]:
    # Both receivers are taken alike: the detector efficiency and background of arm A serve
    # both (the engine has one detector model for a BBM92 link).
    background = max(dd.budget_a.background_count_rate_hz, dd.budget_b.background_count_rate_hz)
    p_dark = system.dark_count_probability + background * system.gate_width_ns * 1e-9 / 2.0
    source: dict[str, Any] = {"repetition_rate_hz": system.repetition_rate_hz}
    if system.mean_pair_number is not None:
        source["mean_pair_number"] = system.mean_pair_number
    if system.basis_probability_x is not None:
        source["basis_probability_x"] = system.basis_probability_x
    return {
        "protocol": "bbm92",
        "channel": {"loss_db_per_slot": dd.budget_a.loss_db[keep].tolist(), "slot_s": dd.slot_s},
        "channel_b": {"loss_db_per_slot": dd.budget_b.loss_db[keep].tolist(), "slot_s": dd.slot_s},
        "source": source,
        "detector": {
            "efficiency": dd.budget_a.detector_efficiency,
            "dark_count_probability": min(p_dark, 0.49),
        },
        "misalignment_error": system.misalignment_error,
        "error_correction_efficiency": system.error_correction_efficiency,
        "finite_key": {"epsilon_sec": system.epsilon_sec, "epsilon_cor": system.epsilon_cor},
    }


def double_downlink_key(
    dd: DoubleDownlink, system: QKDSystem, *, optimise_window: bool = True
) -> DoubleDownlinkKey:
    """BBM92 key of one common-view window; with ``optimise_window`` the best of a few masks.

    ``system.repetition_rate_hz`` is the source's pulse (or time-bin) rate and
    ``system.mean_pair_number`` its pairs per pulse (``None``: optimised by the engine).
    """
    low = np.minimum(dd.elevation_a_deg, dd.elevation_b_deg)
    base = float(np.min(low))
    steps = _WINDOW_STEPS_DEG if optimise_window else (0.0,)
    best: tuple[float, Any, float, npt.NDArray[np.bool_]] | None = None
    for step in steps:
        keep = low >= base + step
        if keep.sum() < 1 or (best is not None and keep.sum() == best[3].sum()):
            continue
        result = _evaluate(_bbm92_spec(dd, keep, system))
        bits = float(np.asarray(result.secret_bits).reshape(-1)[0])
        if best is None or bits > best[0]:
            best = (bits, result, base + step, keep)
    if best is None:
        raise ConfigurationError("double downlink: the window has no slot")
    bits, result, mask, keep = best
    details = result.details or {}
    loss = dd.budget_a.loss_db + dd.budget_b.loss_db
    return DoubleDownlinkKey(
        station_a=dd.station_a,
        station_b=dd.station_b,
        start=dd.start + timedelta(seconds=float(np.argmax(keep)) * dd.slot_s),
        duration_s=dd.n_slots * dd.slot_s,
        window_s=float(keep.sum()) * dd.slot_s,
        window_min_elevation_deg=mask,
        min_two_arm_loss_db=float(np.min(loss)),
        sifted_bits=float(np.asarray(details.get("sifted_bits", np.nan)).reshape(-1)[0]),
        qber=float(np.asarray(result.qber).reshape(-1)[0]),
        secret_bits=max(bits, 0.0),
        parameters={k: np.asarray(v).tolist() for k, v in (result.parameters or {}).items()},
    )


def pair_block_bits_per_day(
    satellite: Satellite,
    station_a: GroundStation,
    station_b: GroundStation,
    link: OpticalLink,
    system: QKDSystem,
    *,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    trials: int = 5,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    slot_s: float = 5.0,
) -> float:
    """Mean BBM92 key per day of a station pair, all common-view windows of the period as one
    finite-key block (as Yin et al. 2020 accumulated about 3100 s of common view for a key).

    Each Monte Carlo trial keeps the windows of nights that are clear at both stations (see
    :mod:`euroqci.space.statistics` for the weather model) and rates their slots together.
    """
    from euroqci.space.statistics import clear_nights, night_index

    windows = double_downlink(
        satellite, station_a, station_b, link, start=start, duration_s=days * DAY_S,
        min_elevation_deg=min_elevation_deg, slot_s=slot_s,
    )  # fmt: skip
    if not windows:
        return 0.0
    n_nights = math.ceil(days) + 1
    total = 0.0
    for _ in range(trials):
        clear_a = clear_nights(station_a.effective_cloud_probability, n_nights, trials=1, rng=rng)
        clear_b = clear_nights(station_b.effective_cloud_probability, n_nights, trials=1, rng=rng)
        kept = [
            w for w in windows
            if clear_a[0, min(night_index(w.start, start), n_nights - 1)]
            and clear_b[0, min(night_index(w.start, start), n_nights - 1)]
        ]  # fmt: skip
        if not kept:
            continue
        block = _concatenate(kept)
        result = _evaluate(_bbm92_spec(block, np.ones(block.n_slots, dtype=bool), system))
        total += max(float(np.asarray(result.secret_bits).reshape(-1)[0]), 0.0)
    return total / trials / days


def _concatenate(windows: list[DoubleDownlink]) -> DoubleDownlink:
    """Several windows as one block of slots (their order does not matter to the key)."""

    def cat(name: str, arm: str) -> FloatArray:
        return np.concatenate([getattr(getattr(w, arm), name) for w in windows])

    def budget(arm: str) -> LinkBudget:
        first: LinkBudget = getattr(windows[0], arm)
        return LinkBudget(
            elevation_deg=cat("elevation_deg", arm),
            range_km=cat("range_km", arm),
            diffraction_db=cat("diffraction_db", arm),
            pointing_db=cat("pointing_db", arm),
            atmosphere_db=cat("atmosphere_db", arm),
            turbulence_db=cat("turbulence_db", arm),
            optics_db=first.optics_db,
            extra_db=first.extra_db,
            detector_efficiency=first.detector_efficiency,
            background_count_rate_hz=max(getattr(w, arm).background_count_rate_hz for w in windows),
        )

    return DoubleDownlink(
        station_a=windows[0].station_a,
        station_b=windows[0].station_b,
        start=windows[0].start,
        slot_s=windows[0].slot_s,
        elevation_a_deg=np.concatenate([w.elevation_a_deg for w in windows]),
        elevation_b_deg=np.concatenate([w.elevation_b_deg for w in windows]),
        budget_a=budget("budget_a"),
        budget_b=budget("budget_b"),
    )
