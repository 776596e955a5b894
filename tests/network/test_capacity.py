"""Capacity algorithms against slow, obviously correct versions (oracle tests)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from euroqci.network.capacity import (
    all_pairs_capacity_bps,
    capacity_graph,
    n_node_disjoint_paths,
    pair_index,
    split_paths,
    widest_path,
)


def _random_graph(rng: np.random.Generator, n: int, p: float) -> nx.Graph:
    edges = [
        (u, v, float(rng.integers(1, 50)))
        for u, v in itertools.combinations(range(n), 2)
        if rng.random() < p
    ]
    g = capacity_graph(range(n), edges)
    for u, v in g.edges:
        g[u][v]["length_km"] = float(rng.integers(10, 100))
    return g


@pytest.mark.parametrize("seed", range(4))
def test_all_pairs_capacity_equals_max_flow_per_pair(seed: int) -> None:
    g = _random_graph(np.random.default_rng(seed), 12, 0.25)
    terminals = [0, 2, 3, 5, 7, 11]
    fast = all_pairs_capacity_bps(g, terminals)
    for k, (i, j) in enumerate(pair_index(terminals)):
        a, b = terminals[i], terminals[j]
        slow = nx.maximum_flow_value(g, a, b) if nx.has_path(g, a, b) else 0.0
        assert fast[k] == pytest.approx(slow)


def _bottleneck(g: nx.Graph, path: list[int]) -> float:
    return min(g[u][v]["capacity"] for u, v in itertools.pairwise(path))


@pytest.mark.parametrize("seed", range(4))
def test_widest_path_is_widest_and_shortest_among_the_widest(seed: int) -> None:
    g = _random_graph(np.random.default_rng(seed), 9, 0.4)
    for a, b in [(0, 8), (1, 5), (2, 7)]:
        paths = list(nx.all_simple_paths(g, a, b))
        found = widest_path(g, a, b)
        if not paths:
            assert found is None
            continue
        best = max(_bottleneck(g, p) for p in paths)
        assert _bottleneck(g, found) == best
        shortest = min(
            nx.path_weight(g, p, "length_km") for p in paths if _bottleneck(g, p) == best
        )
        assert nx.path_weight(g, found, "length_km") == pytest.approx(shortest)


@pytest.mark.parametrize("seed", range(4))
def test_split_paths_are_disjoint_and_optimal_for_two_shares(seed: int) -> None:
    g = _random_graph(np.random.default_rng(seed), 8, 0.45)
    a, b = 0, 7
    split = split_paths(g, a, b, shares=2)
    paths = list(nx.all_simple_paths(g, a, b)) if nx.has_path(g, a, b) else []
    best = 0.0
    for p, q in itertools.combinations(paths, 2):
        if set(p[1:-1]) & set(q[1:-1]) or (len(p) == 2 and len(q) == 2):
            continue
        best = max(best, min(_bottleneck(g, p), _bottleneck(g, q)))
    assert split.capacity_bps == pytest.approx(best)
    if split.paths:
        p, q = split.paths
        assert not set(p[1:-1]) & set(q[1:-1])
        assert split.capacity_bps == min(_bottleneck(g, list(p)), _bottleneck(g, list(q)))


def test_disjoint_path_count_counts_a_direct_edge() -> None:
    g = capacity_graph("abcd", [("a", "b", 1), ("a", "c", 1), ("c", "b", 1), ("a", "d", 1)])
    assert n_node_disjoint_paths(g, "a", "b") == 2
    assert n_node_disjoint_paths(g, "a", "d") == 1
    assert split_paths(g, "a", "d", shares=2).paths == ()


def test_parallel_edges_add_and_zero_edges_drop() -> None:
    g = capacity_graph("ab", [("a", "b", 2.0), ("b", "a", 3.0), ("a", "b", 0.0)])
    assert g["a"]["b"]["capacity"] == 5.0
    assert all_pairs_capacity_bps(capacity_graph("abc", [("a", "b", 0.0)]), "abc").tolist() == [
        0,
        0,
        0,
    ]
