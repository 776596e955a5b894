"""From a scenario to a graph: trusted nodes on long links, spans with key rates, corridors.

Long links are cut into equal spans by trusted nodes placed along the great circle between the
ends, so that no span is longer than its device profile supports. The ``Topology`` holds the
expanded sites and spans with their key rates; ``corridors`` folds chains of relay-only trusted
nodes back into one edge (a chain fails as a whole and carries its weakest span's rate), which
is what capacity and failure studies work on.

Links whose key rate the caller computes (``ExtraLink``: a satellite link, a leased link)
join the graph as edges with their average rate; planning knows nothing else about them.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from euroqci.errors import ConfigurationError
from euroqci.network.geo import intermediate_point
from euroqci.network.rates import LinkRateModel
from euroqci.network.scenario import FibreLink, LengthSource, Scenario, Site, SiteKind

__all__ = [
    "MAX_SPANS_PER_LINK",
    "Corridor",
    "ExtraLink",
    "Span",
    "Topology",
    "build_topology",
    "split_link",
]

logger = logging.getLogger(__name__)

#: More spans than this on one link means a profile that barely gives key: refuse, say why.
MAX_SPANS_PER_LINK = 200


@dataclass(frozen=True)
class Span:
    """A fibre span as planned: its link, loss and secret key rate."""

    link: FibreLink
    loss_db: float
    secret_key_rate_bps: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return self.link.to_dict() | {
            "kind": "fibre",
            "loss_db": self.loss_db,
            "secret_key_rate_bps": self.secret_key_rate_bps,
        }


@dataclass(frozen=True)
class ExtraLink:
    """A link whose average key rate the caller supplies (e.g. a satellite link).

    Planning adds it to the graph as an edge of capacity ``secret_key_rate_bps`` between two
    sites of the topology; ``kind`` labels it in the plan (``"satellite"``), ``length_km`` is
    its fibre length (0 for a free-space link) and ``details`` adds fields to its JSON.
    """

    id: str
    a: str
    b: str
    secret_key_rate_bps: float
    kind: str
    length_km: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "id": self.id,
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "length_km": self.length_km,
            "secret_key_rate_bps": self.secret_key_rate_bps,
            **self.details,
        }


@dataclass(frozen=True)
class _Edge:
    """What corridors need of a span or an extra link."""

    id: str
    corridor: str
    a: str
    b: str
    length_km: float
    rate_bps: float


@dataclass(frozen=True)
class Corridor:
    """A chain of spans between two nodes whose interior nodes are relay-only trusted nodes."""

    id: str
    a: str
    b: str
    spans: tuple[str, ...]
    trusted_nodes: tuple[str, ...]
    capacity_bps: float
    length_km: float


@dataclass(frozen=True)
class Topology:
    """The expanded network: declared and inserted sites, spans with key rates."""

    scenario: Scenario
    sites: tuple[Site, ...]
    spans: tuple[Span, ...]
    inserted_trusted_nodes: tuple[str, ...] = ()
    extra_links: tuple[ExtraLink, ...] = ()
    _graph: Any = field(default=None, repr=False, compare=False)

    @property
    def sites_by_id(self) -> dict[str, Site]:
        """All sites (declared and inserted) by id."""
        return {s.id: s for s in self.sites}

    @property
    def endpoints(self) -> list[str]:
        """Sites between which key is wanted: every site that is not a relay-only trusted node."""
        return [s.id for s in self.sites if not s.is_trusted_node]

    def graph(self) -> nx.Graph:
        """Undirected graph: nodes are site ids, edges spans (and extra links) with a positive
        key rate.

        Parallel spans between the same two sites are merged: capacities add up and ``spans``
        lists their ids. Edge attribute ``capacity`` is the key rate in bit/s.
        """
        if self._graph is None:
            g = nx.Graph()
            g.add_nodes_from(self.sites_by_id)
            for e in self._edges():
                if g.has_edge(e.a, e.b):
                    g[e.a][e.b]["capacity"] += e.rate_bps
                    g[e.a][e.b]["spans"].append(e.id)
                    g[e.a][e.b]["parents"].append(e.corridor)
                else:
                    g.add_edge(
                        e.a,
                        e.b,
                        capacity=e.rate_bps,
                        spans=[e.id],
                        parents=[e.corridor],
                        length_km=e.length_km,
                    )
            object.__setattr__(self, "_graph", g)
        return self._graph

    def _edges(self) -> list[_Edge]:
        """Spans and extra links with a positive key rate, in that order."""
        spans = [
            _Edge(s.link.id, s.link.corridor, s.link.a, s.link.b, s.link.length_km,
                  s.secret_key_rate_bps)
            for s in self.spans
        ]  # fmt: skip
        extra = [_Edge(x.id, x.id, x.a, x.b, x.length_km, x.secret_key_rate_bps)
                 for x in self.extra_links]  # fmt: skip
        return [e for e in spans + extra if e.rate_bps > 0]

    def corridors(self) -> list[Corridor]:
        """Fold chains through relay-only trusted nodes into corridors between the other nodes.

        A relay is a trusted node with exactly two spans. Spans are kept apart here (a multigraph),
        so two parallel links are two corridors that fail independently.
        """
        spans = {e.id: e for e in self._edges()}
        mg = nx.MultiGraph()
        mg.add_nodes_from(self.sites_by_id)
        mg.add_edges_from((e.a, e.b, key) for key, e in spans.items())
        relay = {n for n in mg if self.sites_by_id[n].is_trusted_node and mg.degree(n) == 2}
        corridors: list[Corridor] = []
        seen: set[str] = set()
        for start in (n for n in mg if n not in relay):
            for _, first, key in mg.edges(start, keys=True):
                if key in seen:
                    continue
                path, keys = [start, first], [key]
                while path[-1] in relay and path[-1] != start:
                    _, nxt, k = next(e for e in mg.edges(path[-1], keys=True) if e[2] != keys[-1])
                    path.append(nxt)
                    keys.append(k)
                seen.update(keys)
                if path[0] != path[-1]:  # a loop back to its start carries no key anywhere
                    corridors.append(_corridor(path, [spans[k] for k in keys]))
        # A ring made only of relay trusted nodes reaches no endpoint: irrelevant for key supply.
        return corridors


def _corridor(path: list[str], edges: list[_Edge]) -> Corridor:
    parents = dict.fromkeys(e.corridor for e in edges)
    return Corridor(
        id="+".join(parents),
        a=path[0],
        b=path[-1],
        spans=tuple(e.id for e in edges),
        trusted_nodes=tuple(path[1:-1]),
        capacity_bps=min(e.rate_bps for e in edges),
        length_km=sum(e.length_km for e in edges),
    )


def split_link(
    link: FibreLink, a: Site, b: Site, *, max_span_km: float
) -> tuple[list[Site], list[FibreLink]]:
    """Cut ``link`` into equal spans no longer than ``max_span_km`` with trusted nodes.

    The trusted nodes sit along the great circle from ``a`` to ``b`` at the same fraction of the
    way as along the fibre, and are named by their position: ``TN-<link>-<km>km`` is the node
    ``km`` fibre kilometres from ``a``.

    >>> from euroqci.network.scenario import SiteKind
    >>> vie = Site("V", "Vienna", "AT", 48.2, 16.37, SiteKind.CAPITAL)
    >>> prg = Site("P", "Prague", "CZ", 50.09, 14.42, SiteKind.CAPITAL)
    >>> nodes, spans = split_link(FibreLink("V-P", "V", "P", "std", 380.0), vie, prg,
    ...                           max_span_km=150.0)
    >>> [n.id for n in nodes], [s.length_km for s in spans]
    (['TN-V-P-127km', 'TN-V-P-253km'], [126.667, 126.667, 126.667])
    """
    if not max_span_km > 0:
        raise ConfigurationError(
            f"links.{link.id}: profile {link.profile!r} gives no key at any length; "
            "check its detector and source figures",
            field=f"links.{link.id}.profile",
        )
    n_spans = max(1, math.ceil(link.length_km / max_span_km - 1e-9))
    if n_spans > MAX_SPANS_PER_LINK:
        raise ConfigurationError(
            f"links.{link.id}: {link.length_km:.1f} km would need {n_spans - 1} trusted nodes "
            f"with spans of at most {max_span_km:.2f} km (profile {link.profile!r}); check the "
            "profile's figures or its max_span_km",
            field=f"links.{link.id}",
        )
    if n_spans == 1:
        return [], [link]
    span_km = round(link.length_km / n_spans, 3)
    nodes = [a]
    for k in range(1, n_spans):
        fraction = k / n_spans
        lat, lon = intermediate_point(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg, fraction=fraction)
        position_km = fraction * link.length_km
        nodes.append(
            Site(
                id=f"TN-{link.id}-{position_km:.0f}km",
                name=f"{a.name}-{b.name} km {position_km:.0f}",
                country=a.country if fraction <= 0.5 else b.country,
                lat_deg=lat,
                lon_deg=lon,
                kind=SiteKind.TRUSTED_NODE,
                notes=f"inserted on {link.id} at {position_km:.1f} km of {link.length_km:.1f} km",
            )
        )
    nodes.append(b)
    spans = [
        FibreLink(
            id=f"{link.id}#{k + 1}",
            a=u.id,
            b=v.id,
            profile=link.profile,
            length_km=span_km,
            length_source=LengthSource.SPLIT,
            route_factor=link.route_factor,
            medium=link.medium,
            parent=link.id,
        )
        for k, (u, v) in enumerate(itertools.pairwise(nodes))
    ]
    return nodes[1:-1], spans


def build_topology(
    scenario: Scenario,
    rates: LinkRateModel,
    *,
    extra_sites: Sequence[Site] = (),
    extra_links: Sequence[ExtraLink] = (),
) -> Topology:
    """Insert trusted nodes (when the scenario asks for it) and evaluate every span's key rate.

    ``extra_sites`` (e.g. a satellite as a trusted node) join the sites; ``extra_links`` join
    the graph with the key rate they carry (see :class:`ExtraLink`).
    """
    sites = list(scenario.sites) + list(extra_sites)
    by_id = scenario.sites_by_id
    _check_extra(by_id | {s.id: s for s in extra_sites}, len(sites), extra_links)
    links: list[FibreLink] = []
    inserted: list[str] = []
    for link in scenario.links:
        if not scenario.options.insert_trusted_nodes:
            links.append(link)
            continue
        max_span = rates.max_span_km(link.profile, fraction=scenario.options.max_span_fraction)
        nodes, spans = split_link(link, by_id[link.a], by_id[link.b], max_span_km=max_span)
        sites += nodes
        inserted += [n.id for n in nodes]
        links += spans
    logger.info(
        "%d links became %d spans with %d trusted nodes",
        len(scenario.links),
        len(links),
        len(inserted),
    )
    return Topology(
        scenario=scenario,
        sites=tuple(sites),
        spans=tuple(_evaluate(links, rates)),
        inserted_trusted_nodes=tuple(inserted),
        extra_links=tuple(extra_links),
    )


def _check_extra(known: Mapping[str, Site], n_sites: int, extra_links: Sequence[ExtraLink]) -> None:
    if len(known) != n_sites:
        raise ConfigurationError(
            "extra_sites: site ids must be unique and differ from the scenario's",
            field="extra_sites",
        )
    for x in extra_links:
        for end in (x.a, x.b):
            if end not in known:
                raise ConfigurationError(
                    f"extra_links.{x.id}: unknown site {end!r}", field=f"extra_links.{x.id}"
                )
        if not (math.isfinite(x.secret_key_rate_bps) and x.secret_key_rate_bps >= 0):
            raise ConfigurationError(
                f"extra_links.{x.id}.secret_key_rate_bps: expected a rate >= 0 in bit/s",
                field=f"extra_links.{x.id}.secret_key_rate_bps",
            )


def _evaluate(links: Iterable[FibreLink], rates: LinkRateModel) -> list[Span]:
    links = list(links)
    by_profile: dict[str, list[int]] = {}
    for i, link in enumerate(links):
        by_profile.setdefault(link.profile, []).append(i)
    values = [0.0] * len(links)
    for profile, indices in by_profile.items():
        lengths = [links[i].length_km for i in indices]
        for i, rate in zip(indices, rates.rates_bps(profile, lengths), strict=True):
            values[i] = float(rate)
    return [
        Span(
            link=link,
            loss_db=round(rates.loss_db(link.profile, link.length_km), 6),
            secret_key_rate_bps=values[i],
        )
        for i, link in enumerate(links)
    ]
