"""Speed of the terrestrial-segment planner.

    PYTHONPATH=src python benchmarks/network.py [--repeat 3] [--nodes 500]

1. Planning the built-in EU scenario (trusted-node insertion, span key rates with the project's
   finite-key engine, all-pairs capacity and routes, single-failure table), from a cold rate
   cache each time.
2. All-pairs capacity (Gomory-Hu tree) on a synthetic network of N nodes: a random geometric
   graph in a 2000 km square, spans up to 150 km, rate 1e6 * 10**(-0.02 L) bit/s (a synthetic
   0.2 dB/km curve: the benchmark measures the graph algorithms, not the key-rate engine).
3. The double-failure sweep of the EU corridor graph, locally and on a local Dask cluster
   (2 worker processes), checking that both give the same results.

Prints one line per measurement; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import networkx as nx
import numpy as np

from euroqci.network.builtin import builtin_scenario
from euroqci.network.capacity import all_pairs_capacity_bps, capacity_graph
from euroqci.network.executor import Executor, ExecutorKind
from euroqci.network.planning import plan_network
from euroqci.network.resilience import ReducedNetwork, double_failure_sweep


def bench_eu_plan(repeat: int) -> ReducedNetwork:
    times, plan = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = plan_network(builtin_scenario("eu"))
        times.append(time.perf_counter() - t0)
    assert plan is not None
    t = plan.topology
    connected = sum(p.capacity_bps > 0 for p in plan.pairs)
    print(
        f"eu plan: median {statistics.median(times):.2f} s over {repeat} runs "
        f"(min {min(times):.2f}, max {max(times):.2f}); last run stages "
        + ", ".join(f"{k} {v:.2f} s" for k, v in plan.timings_s.items())
    )
    print(
        f"  {len(t.sites)} sites ({len(t.inserted_trusted_nodes)} trusted nodes inserted), "
        f"{len(t.spans)} spans, {connected} connected site pairs, "
        f"{len(plan.single_failures or ())} single failures"
    )
    return ReducedNetwork.from_topology(t)


def bench_all_pairs(n_nodes: int) -> None:
    rng = np.random.default_rng(500)
    side_km, radius_km = 2000.0, 150.0
    positions = {i: tuple(p) for i, p in enumerate(rng.uniform(0, side_km, size=(n_nodes, 2)))}
    geo = nx.random_geometric_graph(n_nodes, radius_km, pos=positions)
    edges = []
    for u, v in geo.edges:
        length_km = float(np.hypot(*np.subtract(positions[u], positions[v])))
        edges.append((u, v, 1e6 * 10 ** (-0.02 * length_km)))
    g = capacity_graph(range(n_nodes), edges)
    terminals = list(range(n_nodes))
    t0 = time.perf_counter()
    capacities = all_pairs_capacity_bps(g, terminals)
    elapsed = time.perf_counter() - t0
    print(
        f"all-pairs capacity: {n_nodes} nodes, {g.number_of_edges()} spans, "
        f"{capacities.size} pairs ({np.count_nonzero(capacities)} connected) in {elapsed:.2f} s"
    )


def bench_double_failures(network: ReducedNetwork) -> None:
    n_elements = len(network.elements())
    t0 = time.perf_counter()
    local = double_failure_sweep(network)
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    on_dask = double_failure_sweep(
        network, executor=Executor(kind=ExecutorKind.DASK_LOCAL_CLUSTER, n_workers=2)
    )
    t_dask = time.perf_counter() - t0
    same = on_dask == local
    print(
        f"double-failure sweep: {n_elements} elements, {len(local)} failure pairs; "
        f"local {t_local:.2f} s, Dask LocalCluster (2 workers, incl. start-up) {t_dask:.2f} s; "
        f"identical results: {same}"
    )
    if not same:
        raise SystemExit("Dask and local results differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=500)
    args = parser.parse_args()
    print(
        "command: PYTHONPATH=src python benchmarks/network.py "
        f"--repeat {args.repeat} --nodes {args.nodes}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, networkx {nx.__version__}"
    )
    network = bench_eu_plan(args.repeat)
    bench_all_pairs(args.nodes)
    bench_double_failures(network)


if __name__ == "__main__":
    main()
