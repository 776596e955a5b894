"""Plan a scenario: key rate per span, capacity per site pair, routes, unreachable sites.

``plan_network`` is the one call behind ``euroqci plan``: it inserts trusted nodes, evaluates
every span with the key-rate engine, computes the end-to-end capacity (max-flow) and the widest
route for every pair of sites, lists the sites that no fibre reaches, and optionally the
single-failure table and the double-failure sweep.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from euroqci.errors import ConfigurationError
from euroqci.network.capacity import (
    capacity_graph,
    n_node_disjoint_paths,
    pair_index,
    split_paths,
    widest_path,
    widest_paths,
)
from euroqci.network.executor import Executor
from euroqci.network.rates import KeyRateEngine, LinkRateModel
from euroqci.network.resilience import (
    FailureImpact,
    ReducedNetwork,
    double_failure_sweep,
    single_failures,
)
from euroqci.network.scenario import Scenario, Site
from euroqci.network.topology import ExtraLink, Topology, build_topology

__all__ = [
    "NetworkPlan",
    "PairCapacity",
    "Route",
    "check_site",
    "plan_network",
    "route_between",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairCapacity:
    """Key between two sites: max-flow capacity and the widest single route."""

    a: str
    b: str
    capacity_bps: float
    widest_route_bps: float
    route: tuple[str, ...]
    trusted_nodes: tuple[str, ...]
    #: Rate of XOR key splitting over node-disjoint paths (None when not asked for).
    split_capacity_bps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out = {
            "a": self.a,
            "b": self.b,
            "capacity_bps": self.capacity_bps,
            "widest_route_bps": self.widest_route_bps,
            "hops": max(0, len(self.route) - 1),
            "route": list(self.route),
            "trusted_nodes": list(self.trusted_nodes),
        }
        if self.split_capacity_bps is not None:
            out["split_capacity_bps"] = self.split_capacity_bps
        return out


@dataclass(frozen=True)
class Route:
    """Everything about the key between two sites (``euroqci route``)."""

    source: str
    target: str
    path: tuple[str, ...]
    widest_route_bps: float
    capacity_bps: float
    length_km: float
    trusted_nodes: tuple[str, ...]
    max_disjoint_paths: int
    shares: int
    disjoint_paths: tuple[tuple[str, ...], ...]
    split_capacity_bps: float
    split_bottlenecks_bps: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "from": self.source,
            "to": self.target,
            "route": list(self.path),
            "widest_route_bps": self.widest_route_bps,
            "capacity_bps": self.capacity_bps,
            "length_km": self.length_km,
            "trusted_nodes": list(self.trusted_nodes),
            "max_disjoint_paths": self.max_disjoint_paths,
            "shares": self.shares,
            "disjoint_paths": [list(p) for p in self.disjoint_paths],
            "split_capacity_bps": self.split_capacity_bps,
            "split_bottlenecks_bps": list(self.split_bottlenecks_bps),
        }


@dataclass(frozen=True)
class NetworkPlan:
    """The result of planning a scenario."""

    topology: Topology
    pairs: tuple[PairCapacity, ...]
    unreachable: tuple[dict[str, Any], ...]
    single_failures: tuple[FailureImpact, ...] | None = None
    double_failures: tuple[FailureImpact, ...] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``euroqci plan --json``."""
        t = self.topology
        out: dict[str, Any] = {
            "scenario": t.scenario.name,
            "options": {
                "accumulation_time_s": t.scenario.options.accumulation_time_s,
                "max_span_fraction": t.scenario.options.max_span_fraction,
                "insert_trusted_nodes": t.scenario.options.insert_trusted_nodes,
            },
            "sites": [s.to_dict() for s in t.sites],
            "links": [s.to_dict() for s in t.spans] + [x.to_dict() for x in t.extra_links],
            "pairs": [p.to_dict() for p in self.pairs],
            "unreachable": list(self.unreachable),
            "inserted_trusted_nodes": list(t.inserted_trusted_nodes),
        }
        if self.single_failures is not None:
            out["single_failures"] = [f.to_dict() for f in self.single_failures]
        if self.double_failures is not None:
            out["double_failures"] = [f.to_dict(with_losses=False) for f in self.double_failures]
        out["timings_s"] = dict(self.timings_s)
        return out


def plan_network(
    scenario: Scenario,
    *,
    engine: KeyRateEngine | None = None,
    executor: Executor | None = None,
    failures: bool = True,
    double_failures: bool = False,
    shares: int | None = None,
    extra_sites: Sequence[Site] = (),
    extra_links: Sequence[ExtraLink] = (),
) -> NetworkPlan:
    """Plan ``scenario``: spans and their key rates, all-pairs capacity, failures.

    Parameters
    ----------
    scenario
        The network scenario.
    engine
        Key-rate engine; the project's ``euroqci.protocols`` when omitted.
    executor
        Where the failure studies run (local by default).
    failures, double_failures
        Whether to compute the single-failure table and the double-failure sweep.
    shares
        When given, the rate of XOR key splitting into this many shares over node-disjoint
        paths is computed for every pair (about 10 ms per pair on the corridor graph).
    extra_sites, extra_links
        Sites and links that the scenario does not hold, with the average key rate the caller
        computed for each link (e.g. satellite links, see ``euroqci.space.network_links``):
        they join the graph as edges of that capacity, for routes, capacity and failures.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rates = LinkRateModel(
        scenario.profiles,
        accumulation_time_s=scenario.options.accumulation_time_s,
        engine=engine,
    )
    topology = build_topology(scenario, rates, extra_sites=extra_sites, extra_links=extra_links)
    timings["key_rates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    reduced = ReducedNetwork.from_topology(topology)
    pairs = _pairs(topology, reduced, shares=shares)
    timings["capacity"] = time.perf_counter() - t0
    singles = doubles = None
    if failures:
        t0 = time.perf_counter()
        singles = tuple(single_failures(reduced, executor=executor))
        timings["single_failures"] = time.perf_counter() - t0
    if double_failures:
        t0 = time.perf_counter()
        doubles = tuple(double_failure_sweep(reduced, executor=executor))
        timings["double_failures"] = time.perf_counter() - t0
    return NetworkPlan(
        topology=topology,
        pairs=pairs,
        unreachable=tuple(_unreachable(topology)),
        single_failures=singles,
        double_failures=doubles,
        timings_s=timings,
    )


def _pairs(
    topology: Topology, reduced: ReducedNetwork, *, shares: int | None
) -> tuple[PairCapacity, ...]:
    g = topology.graph()
    # Disjoint paths on the corridor graph: a corridor's trusted nodes are its own, so paths
    # through different corridors share no node there (parallel corridors count as one).
    corridor_graph = capacity_graph(
        reduced.nodes, [(c.a, c.b, c.capacity_bps) for c in reduced.corridors]
    )
    terminals = reduced.terminals
    capacities = reduced.capacities_bps()
    index = pair_index(terminals)
    connected = [
        (terminals[i], terminals[j]) for (i, j), c in zip(index, capacities, strict=True) if c > 0
    ]
    routes = widest_paths(g, connected)
    out = []
    for (i, j), capacity in zip(index, capacities, strict=True):
        a, b = terminals[i], terminals[j]
        path = routes.get((a, b), [])
        out.append(
            PairCapacity(
                a=a,
                b=b,
                capacity_bps=float(capacity),
                widest_route_bps=_bottleneck(g, path),
                route=tuple(str(n) for n in path),
                trusted_nodes=tuple(str(n) for n in path[1:-1]),
                split_capacity_bps=_split_rate(corridor_graph, a, b, shares, capacity),
            )
        )
    return tuple(out)


def _split_rate(g: nx.Graph, a: str, b: str, shares: int | None, capacity: float) -> float | None:
    if shares is None:
        return None
    return float(split_paths(g, a, b, shares=shares).capacity_bps) if capacity > 0 else 0.0


def _bottleneck(g: nx.Graph, path: list[Hashable]) -> float:
    if len(path) < 2:
        return 0.0
    return float(min(g[u][v]["capacity"] for u, v in itertools.pairwise(path)))


def _unreachable(topology: Topology) -> list[dict[str, Any]]:
    """Endpoints outside the component that holds most endpoints, and why."""
    g = topology.graph()
    endpoints = set(topology.endpoints)
    components = sorted(nx.connected_components(g), key=lambda c: -len(c & endpoints))
    main = components[0] if components else set()
    linked = {s.link.a for s in topology.spans} | {s.link.b for s in topology.spans}
    out = []
    for site in topology.sites:
        if site.id not in endpoints or site.id in main:
            continue
        no_fibre = site.id not in linked
        reason = "no fibre link" if no_fibre else "fibre does not reach the main network"
        out.append(
            {
                "id": site.id,
                "name": site.name,
                "country": site.country,
                "reason": reason,
                "outermost_region": site.outermost_region,
                "space_segment": site.outermost_region or no_fibre,
            }
        )
    return out


def check_site(sites: Mapping[str, Any], site_id: str, *, what: str) -> None:
    """ConfigurationError naming ``what`` and the closest known id when ``site_id`` is unknown."""
    if site_id not in sites:
        close = difflib.get_close_matches(site_id, list(sites), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(f"{what}: unknown site {site_id!r}{hint}", field=what)


def route_between(topology: Topology, source: str, target: str, *, shares: int = 2) -> Route:
    """Widest route, max-flow capacity, trusted nodes and disjoint paths between two sites."""
    check_site(topology.sites_by_id, source, what="FROM")
    check_site(topology.sites_by_id, target, what="TO")
    if source == target:
        raise ConfigurationError("TO: give a site other than FROM", field="TO")
    g = topology.graph()
    path = widest_path(g, source, target) or []
    capacity = 0.0
    if path:
        capacity = float(nx.maximum_flow_value(g, source, target, capacity="capacity"))
    split = split_paths(g, source, target, shares=shares)
    length = sum(g[u][v]["length_km"] for u, v in itertools.pairwise(path))
    return Route(
        source=source,
        target=target,
        path=tuple(str(n) for n in path),
        widest_route_bps=_bottleneck(g, path),
        capacity_bps=capacity,
        length_km=round(float(length), 3),
        trusted_nodes=tuple(str(n) for n in path[1:-1]),
        max_disjoint_paths=n_node_disjoint_paths(g, source, target),
        shares=shares,
        disjoint_paths=tuple(tuple(str(n) for n in p) for p in split.paths),
        split_capacity_bps=float(split.capacity_bps),
        split_bottlenecks_bps=tuple(float(b) for b in split.bottlenecks_bps),
    )
