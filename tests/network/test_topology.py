"""Trusted-node insertion and corridors."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest

from euroqci.network.geo import great_circle_km
from euroqci.network.rates import KeyRateEngine, LinkRateModel
from euroqci.network.scenario import FibreLink, Site, SiteKind
from euroqci.network.scenario_file import load_scenario
from euroqci.network.topology import build_topology, split_link

LISBON = Site("PT", "Lisbon", "PT", 38.72509, -9.14980, SiteKind.CAPITAL)
MADRID = Site("ES", "Madrid", "ES", 40.41650, -3.70256, SiteKind.CAPITAL)


@pytest.mark.parametrize("max_span_km", [100.0, 188.7, 377.0, 800.0])
def test_split_link_spans_never_exceed_the_maximum(max_span_km: float) -> None:
    link = FibreLink("ES-PT", "ES", "PT", "p", 754.8)
    nodes, spans = split_link(link, MADRID, LISBON, max_span_km=max_span_km)
    assert len(spans) == math.ceil(754.8 / max_span_km - 1e-9)
    assert len(nodes) == len(spans) - 1
    assert all(s.length_km <= max_span_km + 1e-3 for s in spans)
    assert sum(s.length_km for s in spans) == pytest.approx(754.8, abs=0.01)
    assert [s.a for s in spans] == ["ES", *[n.id for n in nodes]]
    assert [s.b for s in spans] == [*[n.id for n in nodes], "PT"]
    assert all(s.parent == "ES-PT" for s in spans) or len(spans) == 1


def test_trusted_nodes_sit_along_the_great_circle_and_are_named_by_position() -> None:
    link = FibreLink("ES-PT", "ES", "PT", "p", 754.8)
    nodes, _ = split_link(link, MADRID, LISBON, max_span_km=200.0)
    gc = great_circle_km(MADRID.lat_deg, MADRID.lon_deg, LISBON.lat_deg, LISBON.lon_deg)
    for k, node in enumerate(nodes, start=1):
        fraction = k / 4
        assert node.id == f"TN-ES-PT-{fraction * 754.8:.0f}km"
        assert node.kind is SiteKind.TRUSTED_NODE
        from_madrid = great_circle_km(MADRID.lat_deg, MADRID.lon_deg, node.lat_deg, node.lon_deg)
        assert from_madrid == pytest.approx(fraction * gc, abs=0.01)


def test_corridors_fold_relay_chains_and_keep_hubs(
    benelux_path: Path, engine: KeyRateEngine
) -> None:
    scenario = load_scenario(benelux_path)
    rates = LinkRateModel(scenario.profiles, accumulation_time_s=600.0, engine=engine)
    topology = build_topology(scenario, rates)
    assert topology.inserted_trusted_nodes  # 120 km spans: the long links were cut
    assert all(s.link.length_km <= 120.0 + 1e-3 for s in topology.spans)
    corridors = {c.id: c for c in topology.corridors()}
    # Declared links become one corridor each; the Arlon hub has degree 2, so BE-ARLON and
    # ARLON-LU fold into one corridor through it.
    assert set(corridors) == {"BE-NL", "BE-ARLON+ARLON-LU", "BE-LU", "BE-FR", "FR-LU", "BE-DC1"}
    arlon = corridors["BE-ARLON+ARLON-LU"]
    assert "TN-ARLON" in arlon.trusted_nodes
    assert arlon.length_km == pytest.approx(220.0)
    g = topology.graph()
    spans_capacity = [
        g[u][v]["capacity"]
        for u, v in zip(
            [arlon.a, *arlon.trusted_nodes], [*arlon.trusted_nodes, arlon.b], strict=True
        )
    ]
    assert arlon.capacity_bps == min(spans_capacity)
    assert nx.is_connected(g)


def test_a_profile_with_almost_no_reach_is_refused() -> None:
    from euroqci.errors import ConfigurationError

    link = FibreLink("ES-PT", "ES", "PT", "p", 754.8)
    with pytest.raises(ConfigurationError, match="would need 1509 trusted nodes"):
        split_link(link, MADRID, LISBON, max_span_km=0.5)
    with pytest.raises(ConfigurationError, match="gives no key at any length"):
        split_link(link, MADRID, LISBON, max_span_km=0.0)
