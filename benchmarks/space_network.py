"""Speed of `euroqci plan --builtin eu --with-space`: satellite links, then network planning.

Run from the repository root:

    PYTHONPATH=src python benchmarks/space_network.py [--days 30] [--repeat 3]

Prints the median wall-clock time of each stage over ``--repeat`` runs after one warm-up, and
what was computed. The stages are those of the CLI verb (its own timing adds start-up).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import numpy as np

from euroqci.network.builtin import builtin_scenario
from euroqci.network.planning import plan_network
from euroqci.space.network_links import add_ground_stations, satellite_links
from euroqci.space.spec import builtin_scenario as space_builtin

START = datetime(2027, 1, 1, tzinfo=UTC)


def run(days: float) -> tuple[dict[str, float], dict[str, int]]:
    """One `plan --builtin eu --with-space` in stages: seconds per stage, sizes."""
    t0 = time.perf_counter()
    scenario, _ = add_ground_stations(builtin_scenario("eu"))
    sp = space_builtin("eu", start=START)
    sat = satellite_links(
        scenario, sp.satellite, start=START, days=days, rng=np.random.default_rng(1),
        link=sp.link, system=sp.system, min_elevation_deg=sp.min_elevation_deg,
    )  # fmt: skip
    t1 = time.perf_counter()
    plan = plan_network(scenario, extra_sites=[sat.node], extra_links=sat.extra_links())
    t2 = time.perf_counter()
    stages = {"satellite_links": t1 - t0, "plan_network": t2 - t1, "total": t2 - t0}
    stages |= {f"plan.{k}": v for k, v in plan.timings_s.items()}
    sizes = {
        "sites": len(plan.topology.sites),
        "satellite_links": len(sat.links),
        "passes": sum(len(link.bursts) for link in sat.links),
        "connected_pairs": sum(p.capacity_bps > 0 for p in plan.pairs),
        "pairs": len(plan.pairs),
        "unreachable": len(plan.unreachable),
    }
    return stages, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(1.0)  # warm-up: imports, numba compilation, ephemeris and data files
    runs = [run(args.days) for _ in range(args.repeat)]
    sizes = runs[-1][1]
    print(f"plan --builtin eu --with-space --space-days {args.days:g}: {sizes}")
    for stage in runs[0][0]:
        times = [r[0][stage] for r in runs]
        print(f"  {stage:<24} median {statistics.median(times):6.2f} s  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")  # fmt: skip


if __name__ == "__main__":
    main()
