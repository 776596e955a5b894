"""Links whose rate the caller gives (e.g. satellite links) join planning as plain edges."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.planning import plan_network, route_between
from euroqci.network.rates import KeyRateEngine
from euroqci.network.scenario import Site, SiteKind
from euroqci.network.scenario_file import load_scenario
from euroqci.network.topology import ExtraLink

ISLAND = Site("ISLAND", "Island", "LU", 49.0, 7.0, SiteKind.DATA_CENTRE)
RELAY = Site("RELAY", "Relay", "", 49.5, 6.5, SiteKind.TRUSTED_NODE)


def _links(rate_bps: float) -> list[ExtraLink]:
    return [
        ExtraLink("X1", "ISLAND", "RELAY", rate_bps, kind="external", details={"note": "a"}),
        ExtraLink("X2", "RELAY", "CAP-LU", 2 * rate_bps, kind="external"),
    ]


def test_extra_links_are_edges_of_their_rate(benelux_path: Path, engine: KeyRateEngine) -> None:
    scenario = load_scenario(benelux_path)
    alone = plan_network(scenario, engine=engine, extra_sites=[ISLAND], failures=False)
    assert [u["id"] for u in alone.unreachable] == ["ISLAND"]
    plan = plan_network(
        scenario, engine=engine, extra_sites=[ISLAND, RELAY], extra_links=_links(5.0)
    )
    assert plan.unreachable == ()
    pairs = {frozenset((p.a, p.b)): p for p in plan.pairs}
    to_paris = pairs[frozenset(("ISLAND", "CAP-FR"))]
    assert to_paris.capacity_bps == pytest.approx(5.0)  # the weaker extra link
    assert "RELAY" in to_paris.trusted_nodes and "CAP-LU" in to_paris.trusted_nodes
    g = plan.topology.graph()
    for p in plan.pairs:
        assert p.capacity_bps == pytest.approx(nx.maximum_flow_value(g, p.a, p.b, "capacity"))
    doc = plan.to_dict()
    extra = [x for x in doc["links"] if x["kind"] == "external"]
    assert [x["id"] for x in extra] == ["X1", "X2"] and extra[0]["note"] == "a"
    # RELAY has two links: the chain folds into one corridor that fails as a whole.
    failed = {f.failed[0]: f for f in plan.single_failures or ()}
    endpoints = [s for s in scenario.sites if not s.is_trusted_node]
    assert failed["X2+X1"].n_pairs_disconnected == len(endpoints)  # ISLAND from each of them
    route = route_between(plan.topology, "ISLAND", "CAP-BE")
    assert route.path[:3] == ("ISLAND", "RELAY", "CAP-LU")


def test_bad_extra_links_are_refused(benelux_path: Path, engine: KeyRateEngine) -> None:
    scenario = load_scenario(benelux_path)
    with pytest.raises(ConfigurationError, match="unknown site 'RELAY'"):
        plan_network(scenario, engine=engine, extra_sites=[ISLAND], extra_links=_links(1.0))
    with pytest.raises(ConfigurationError, match="secret_key_rate_bps"):
        plan_network(scenario, engine=engine, extra_sites=[ISLAND, RELAY], extra_links=_links(-1))
    with pytest.raises(ConfigurationError, match="unique"):
        plan_network(scenario, engine=engine, extra_sites=[scenario.sites[0]])
