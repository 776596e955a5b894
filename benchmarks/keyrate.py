"""Speed of the key-rate engine (issue targets in docs/benchmarks.md).

Run: python benchmarks/keyrate.py
Prints one line per measurement: the best of several repeats, in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from euroqci.protocols.evaluate import evaluate_link
from euroqci.protocols.link_spec import parse_link_spec

REPEATS = 5


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    lengths_km = np.linspace(0.0, 250.0, 100_000)
    fixed = parse_link_spec(
        {
            "channel": {"length_km": lengths_km},
            "source": {
                "intensities": [0.5, 0.1, 0.0002],
                "intensity_probabilities": [0.8, 0.1, 0.1],
            },
        }
    )
    gllp = parse_link_spec({"channel": {"length_km": lengths_km}, "decoy": "infinite"})
    link = parse_link_spec({"channel": {"length_km": 80.0}, "finite_key": {"block_size": 1e8}})
    x = np.linspace(-1.0, 1.0, 300)
    pass_spec = parse_link_spec(
        {
            "channel": {"loss_db_per_slot": (30.0 + 15.0 * x**2).tolist(), "slot_s": 1.0},
            "source": {"repetition_rate_hz": 1e8},
            "detector": {"efficiency": 0.5, "dark_count_probability": 1e-6},
            "misalignment_error": 0.01,
            "finite_key": {"epsilon_sec": 1e-10},
        }
    )
    sweep_fk = parse_link_spec(
        {"channel": {"length_km": np.linspace(0, 200, 100)}, "finite_key": {"block_size": 1e8}}
    )
    rows = [
        ("asymptotic sweep, 1e5 lengths, fixed intensities", best_of(lambda: evaluate_link(fixed))),
        (
            "asymptotic sweep, 1e5 lengths, GLLP mu optimised per point",
            best_of(lambda: evaluate_link(gllp), 2),
        ),
        (
            "one optimised finite-key link (Lim 2014, 5 parameters)",
            best_of(lambda: evaluate_link(link)),
        ),
        (
            "one optimised satellite pass, 300 slots, with window",
            best_of(lambda: evaluate_link(pass_spec)),
        ),
        (
            "finite-key sweep, 100 lengths, each optimised",
            best_of(lambda: evaluate_link(sweep_fk), 2),
        ),
    ]
    print("command: python benchmarks/keyrate.py")
    for name, seconds in rows:
        print(f"{name}: {seconds:.4f} s")


if __name__ == "__main__":
    main()
