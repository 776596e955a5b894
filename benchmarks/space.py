"""Speed of the space segment: a year of passes over 10 stations, one optimised pass, a plan.

Run from the repository root:

    PYTHONPATH=src python benchmarks/space.py

Prints wall-clock times (best of ``REPEAT`` runs after one warm-up) and what was computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from euroqci.space.channel import pass_channel
from euroqci.space.link_budget import OpticalLink
from euroqci.space.orbits import GroundStation, Satellite, builtin_stations
from euroqci.space.pass_key import QKDSystem, pass_key
from euroqci.space.passes import find_passes, find_passes_many
from euroqci.space.spec import builtin_scenario, plan_from_scenario

REPEAT = 3
START = datetime(2027, 1, 1, tzinfo=UTC)


def best_of(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    fn()  # warm-up: imports, numba compilation, file loads
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    sat = Satellite.from_circular_orbit(altitude_km=500.0, inclination_deg=97.4, epoch=START)
    stations = list(builtin_stations().values())
    stations.append(GroundStation(station_id="GRAZ", latitude_deg=47.0671,
                                  longitude_deg=15.4933, altitude_m=539.4))  # fmt: skip

    t, found = best_of(
        lambda: find_passes_many(sat, stations, start=START, duration_s=365.0 * 86400.0)
    )
    n = sum(len(v) for v in found.values())
    print(f"year of passes, 1 satellite x {len(stations)} stations (mask 10 deg): "
          f"{t:.2f} s, {n} passes")  # fmt: skip
    t, night = best_of(
        lambda: find_passes_many(
            sat, stations, start=START, duration_s=365.0 * 86400.0, night_only=True
        )
    )
    n = sum(len(v) for v in night.values())
    print(f"same, night only (Sun below -12 deg): {t:.2f} s, {n} passes")

    station = builtin_stations()["OGS-IT-MATERA"]
    p = max(find_passes(sat, station, start=START, duration_s=3 * 86400.0),
            key=lambda q: q.max_elevation_deg)  # fmt: skip
    link = OpticalLink()
    t, ch = best_of(lambda: pass_channel(sat, station, p, link, daytime=False))
    print(f"link budget of one pass ({ch.n_slots} slots of 1 s): {t * 1e3:.1f} ms")
    for slot_s in (1.0, 5.0):
        ch = pass_channel(sat, station, p, link, slot_s=slot_s, daytime=False)
        t, key = best_of(lambda ch=ch: pass_key(ch, QKDSystem()))
        print(f"one optimised pass (BB84 decoy, finite key, intensities + basis + window), "
              f"{ch.n_slots} slots of {slot_s:g} s: {t:.3f} s, "
              f"{key.secret_bits:.4g} bits")  # fmt: skip
    fixed = QKDSystem(intensities=(0.6, 0.2, 0.0), intensity_probabilities=(0.7, 0.2, 0.1),
                      basis_probability_x=0.8)  # fmt: skip
    ch = pass_channel(sat, station, p, link, daytime=False)
    t, key = best_of(lambda: pass_key(ch, fixed))
    print(f"one pass with fixed intensities and basis (window only), {ch.n_slots} slots: "
          f"{t:.3f} s, {key.secret_bits:.4g} bits")  # fmt: skip

    scenario = builtin_scenario("eu", start=START)
    t, plan = best_of(
        lambda: plan_from_scenario(scenario, days=30.0, rng=np.random.default_rng(1), trials=200),
        repeat=1,
    )
    print(f"space-plan --builtin eu --days 30 ({len(plan.stations)} stations, "
          f"{len(plan.pair_bits_per_day)} pairs, 200 weather trials): {t:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
