"""Capacity of key relay between sites: max-flow, widest routes, node-disjoint paths.

Key relay through trusted nodes is a flow problem: each span supplies key at its secret key rate,
and a relayed key consumes the same number of key bits on every span it crosses (one-time pad
hop by hop). The end-to-end capacity between two sites is therefore the max-flow (= min-cut)
between them (Ford & Fulkerson, Canad. J. Math. 8, 399 (1956)); all pairs at once come from a
Gomory-Hu tree (Gomory & Hu, J. SIAM 9, 551 (1961)), computed by networkx.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

__all__ = [
    "SplitPaths",
    "all_pairs_capacity_bps",
    "capacity_graph",
    "n_node_disjoint_paths",
    "pair_index",
    "split_paths",
    "widest_path",
    "widest_paths",
]

FloatArray = npt.NDArray[np.float64]


def capacity_graph(
    nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable, float]]
) -> nx.Graph:
    """An undirected graph with ``capacity`` on edges; parallel edges add up, zero ones drop."""
    g = nx.Graph()
    g.add_nodes_from(nodes)
    for u, v, capacity in edges:
        if capacity <= 0 or u not in g or v not in g:
            continue
        if g.has_edge(u, v):
            g[u][v]["capacity"] += capacity
        else:
            g.add_edge(u, v, capacity=capacity)
    return g


def pair_index(terminals: Sequence[Hashable]) -> list[tuple[int, int]]:
    """The fixed order of unordered terminal pairs ``(i, j)``, ``i < j``, used by vectors."""
    n = len(terminals)
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def all_pairs_capacity_bps(g: nx.Graph, terminals: Sequence[Hashable]) -> FloatArray:
    """Max-flow value between every pair of terminals, in the order of ``pair_index``.

    One Gomory-Hu tree per connected component (n - 1 max-flows instead of one per pair); the
    capacity between two terminals is the smallest edge on their path in the tree. Terminals
    missing from ``g`` or in another component get 0.
    """
    # Integer labels make every set that networkx iterates ordered the same way in every
    # process (string hashes are salted per process): a Dask worker then computes bit for bit
    # what the local run computes.
    label = {node: i for i, node in enumerate(g)}
    h = nx.relabel_nodes(g, label, copy=True)
    position = {label[t]: i for i, t in enumerate(terminals) if t in label}
    n = len(terminals)
    matrix = np.zeros((n, n), dtype=np.float64)
    for component in nx.connected_components(h):
        members = sorted(m for m in component if m in position)
        if len(members) < 2:
            continue
        sub = nx.Graph()
        sub.add_nodes_from(sorted(component))
        sub.add_edges_from(sorted(h.subgraph(component).edges(data=True)))
        tree = nx.gomory_hu_tree(sub, capacity="capacity")
        for source in members:
            for target, value in _path_minima(tree, source).items():
                if target in position:
                    matrix[position[source], position[target]] = value
    rows, cols = np.triu_indices(n, k=1)
    return matrix[rows, cols]


def _path_minima(
    tree: nx.Graph, source: Hashable, *, weight: str = "weight"
) -> dict[Hashable, float]:
    """Smallest edge ``weight`` on the tree path from ``source`` to every other node."""
    minima: dict[Hashable, float] = {source: np.inf}
    for parent, child in nx.bfs_edges(tree, source):
        minima[child] = min(minima[parent], tree[parent][child][weight])
    del minima[source]
    return minima


def widest_path(
    g: nx.Graph, source: Hashable, target: Hashable, *, weight: str | None = "length_km"
) -> list[Hashable] | None:
    """The widest (maximum-bottleneck) path, and among the widest the shortest by ``weight``.

    The bottleneck is read off a maximum spanning tree: every tree path is a widest path between
    its ends (Hu, Oper. Res. 9, 898 (1961)). Then Dijkstra on the edges at least that wide picks
    the shortest of the widest paths. None when the two are not connected.
    """
    paths = widest_paths(g, [(source, target)], weight=weight)
    return paths.get((source, target))


def widest_paths(
    g: nx.Graph,
    pairs: Sequence[tuple[Hashable, Hashable]],
    *,
    weight: str | None = "length_km",
) -> dict[tuple[Hashable, Hashable], list[Hashable]]:
    """``widest_path`` for many pairs: one tree, one Dijkstra per (source, bottleneck)."""
    tree = nx.maximum_spanning_tree(g, weight="capacity")
    bottleneck: dict[tuple[Hashable, Hashable], float] = {}
    by_source: dict[Hashable, dict[Hashable, float]] = {}
    for source, target in pairs:
        if source not in by_source:
            by_source[source] = (
                _path_minima(tree, source, weight="capacity") if source in tree else {}
            )
        if target in by_source[source]:
            bottleneck[(source, target)] = by_source[source][target]
    groups: dict[tuple[Hashable, float], list[Hashable]] = {}
    for (source, target), width in bottleneck.items():
        groups.setdefault((source, width), []).append(target)
    out: dict[tuple[Hashable, Hashable], list[Hashable]] = {}
    for (source, width), targets in groups.items():
        wide = nx.subgraph_view(g, filter_edge=lambda u, v, w=width: g[u][v]["capacity"] >= w)
        _, paths = nx.single_source_dijkstra(wide, source, weight=weight)
        for target in targets:
            out[(source, target)] = list(paths[target])
    return out


@dataclass(frozen=True)
class SplitPaths:
    """Node-disjoint paths for XOR key splitting and the key rate they give.

    The key is split into ``len(paths)`` XOR shares, one per path; every share is as long as the
    key, so the rate is the smallest bottleneck among the paths, and no single intermediate
    trusted node sees more than one share.
    """

    paths: tuple[tuple[Hashable, ...], ...]
    bottlenecks_bps: tuple[float, ...]
    capacity_bps: float


def split_paths(g: nx.Graph, source: Hashable, target: Hashable, *, shares: int) -> SplitPaths:
    """The ``shares`` node-disjoint paths whose weakest bottleneck is largest.

    Bisection on the capacity threshold: keep only edges at or above a threshold and ask
    networkx for the local node connectivity (Menger); the largest threshold with at least
    ``shares`` disjoint paths wins. Empty when fewer than ``shares`` disjoint paths exist.
    """
    if shares < 1:
        raise ValueError(f"shares: expected an integer >= 1, got {shares}")
    levels = sorted({c for _, _, c in g.edges(data="capacity")})
    lo, hi, best = 0, len(levels) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        sub = _at_least(g, levels[mid])
        if n_node_disjoint_paths(sub, source, target) >= shares:
            best, lo = levels[mid], mid + 1
        else:
            hi = mid - 1
    if best is None:
        return SplitPaths(paths=(), bottlenecks_bps=(), capacity_bps=0.0)
    sub = _at_least(g, best)
    paths = sorted(nx.node_disjoint_paths(sub, source, target), key=len)[:shares]
    bottlenecks = tuple(min(g[u][v]["capacity"] for u, v in itertools.pairwise(p)) for p in paths)
    return SplitPaths(
        paths=tuple(tuple(p) for p in paths),
        bottlenecks_bps=bottlenecks,
        capacity_bps=min(bottlenecks),
    )


def _at_least(g: nx.Graph, threshold: float) -> nx.Graph:
    return nx.subgraph_view(g, filter_edge=lambda u, v: g[u][v]["capacity"] >= threshold)


def n_node_disjoint_paths(g: nx.Graph, source: Hashable, target: Hashable) -> int:
    """How many node-disjoint paths join the two (Menger: the local node connectivity)."""
    if source not in g or target not in g or not nx.has_path(g, source, target):
        return 0
    if g.has_edge(source, target):
        # Menger's count ignores the direct edge; it is one more disjoint path of its own.
        h = nx.Graph(g)
        h.remove_edge(source, target)
        rest = nx.has_path(h, source, target)
        return 1 + (nx.connectivity.local_node_connectivity(h, source, target) if rest else 0)
    return int(nx.connectivity.local_node_connectivity(g, source, target))
