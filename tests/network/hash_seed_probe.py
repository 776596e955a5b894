"""Run in a subprocess by test_resilience: print a digest of capacities after a failure.

A 30-node network with an 8-node island tied to it by two corridors; failing both leaves the
island as a small component whose all-pairs capacities sum several float rates. Run under
different PYTHONHASHSEED values, the digest must not change (Dask workers are separate
processes with their own string-hash salt).
"""

from __future__ import annotations

import hashlib
import itertools
import sys

import numpy as np

from euroqci.network.resilience import ReducedNetwork
from euroqci.network.topology import Corridor


def _corridor(a: str, b: str, capacity: float) -> Corridor:
    return Corridor(f"{a}={b}", a, b, (f"{a}={b}",), (), capacity, 1.0)


def probe() -> str:
    rng = np.random.default_rng(11)
    main = [f"site-{i}" for i in range(30)]
    island = [f"isle-{i}" for i in range(8)]
    corridors = [
        _corridor(a, b, float(rng.uniform(0.1, 1e4)))
        for a, b in itertools.combinations(main, 2)
        if rng.random() < 0.15
    ]
    corridors += [
        _corridor(a, b, float(rng.uniform(0.1, 1e4))) for a, b in itertools.combinations(island, 2)
    ]
    corridors += [_corridor("site-0", "isle-0", 5.0), _corridor("site-1", "isle-1", 7.0)]
    nodes = tuple(main + island)
    network = ReducedNetwork(nodes=nodes, corridors=tuple(corridors), terminals=nodes)
    failed = frozenset({"site-0=isle-0", "site-1=isle-1"})
    return hashlib.sha256(network.capacities_bps(failed).tobytes()).hexdigest()


if __name__ == "__main__":
    sys.stdout.write(probe() + "\n")
