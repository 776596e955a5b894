"""Planning a small scenario: the JSON contract, routes, failures (stand-in engine)."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.planning import plan_network, route_between
from euroqci.network.rates import KeyRateEngine
from euroqci.network.scenario_file import load_scenario


@pytest.fixture
def plan(benelux_path: Path, engine: KeyRateEngine):  # type: ignore[no-untyped-def]
    return plan_network(load_scenario(benelux_path), engine=engine, double_failures=True)


def test_plan_json_has_the_contract_fields(plan) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
    assert {"sites", "links", "pairs", "unreachable"} <= set(doc)
    for link in doc["links"]:
        assert link["length_km"] > 0
        assert link["loss_db"] == pytest.approx(0.2 * link["length_km"])
        assert link["secret_key_rate_bps"] > 0
    endpoints = [s["id"] for s in doc["sites"] if s["kind"] != "trusted_node"]
    assert len(doc["pairs"]) == len(endpoints) * (len(endpoints) - 1) // 2
    assert doc["unreachable"] == []
    assert len(doc["double_failures"]) > 0 and "losses" not in doc["double_failures"][0]


def test_pair_capacity_is_the_max_flow_on_the_expanded_graph(plan) -> None:  # type: ignore[no-untyped-def]
    g = plan.topology.graph()
    for p in plan.pairs:
        assert p.capacity_bps == pytest.approx(nx.maximum_flow_value(g, p.a, p.b, "capacity"))


def test_route_between_two_capitals(plan) -> None:  # type: ignore[no-untyped-def]
    route = route_between(plan.topology, "CAP-FR", "CAP-NL")
    assert route.path[0] == "CAP-FR" and route.path[-1] == "CAP-NL"
    assert "CAP-BE" in route.trusted_nodes  # every way to Amsterdam crosses Brussels
    assert route.max_disjoint_paths == 1
    assert route.split_capacity_bps == 0.0 and route.disjoint_paths == ()
    assert route.length_km > 400
    to_lu = route_between(plan.topology, "CAP-FR", "CAP-LU", shares=2)
    assert to_lu.max_disjoint_paths >= 2 and len(to_lu.disjoint_paths) == 2
    assert 0 < to_lu.split_capacity_bps <= to_lu.capacity_bps


def test_route_rejects_unknown_sites(plan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="FROM: unknown site 'CAP-XX'"):
        route_between(plan.topology, "CAP-XX", "CAP-BE")


def test_failure_of_brussels_cuts_amsterdam_and_the_data_centre(plan) -> None:  # type: ignore[no-untyped-def]
    impact = {f.failed[0]: f for f in plan.single_failures}["CAP-BE"]
    cut = {(a, b) for a, b, _, after in impact.losses if after == 0}
    assert ("CAP-NL", "CAP-LU") in cut or ("CAP-LU", "CAP-NL") in cut
    assert impact.n_pairs_disconnected == len(cut)


def test_isolated_site_is_unreachable(benelux_path: Path, engine: KeyRateEngine) -> None:
    text = benelux_path.read_text(encoding="utf-8") + (
        '\n[[sites]]\nid = "GS-X"\nlat_deg = 50.0\nlon_deg = 5.0\nkind = "ground_station"\n'
    )
    from euroqci.network.scenario_file import parse_scenario

    plan = plan_network(parse_scenario(text), engine=engine, failures=False)
    assert [u["id"] for u in plan.unreachable] == ["GS-X"]
    assert plan.unreachable[0]["reason"] == "no fibre link"


def test_plan_with_key_splitting(benelux_path: Path, engine: KeyRateEngine) -> None:
    plan = plan_network(load_scenario(benelux_path), engine=engine, failures=False, shares=2)
    pairs = {(p.a, p.b): p for p in plan.pairs}
    fr_lu = pairs[("CAP-LU", "CAP-FR")]
    route = route_between(plan.topology, "CAP-FR", "CAP-LU", shares=2)
    assert fr_lu.split_capacity_bps == pytest.approx(route.split_capacity_bps)
    assert 0 < fr_lu.split_capacity_bps <= fr_lu.capacity_bps
    assert pairs[("CAP-BE", "CAP-NL")].split_capacity_bps == 0.0  # Amsterdam hangs on one link
    assert "split_capacity_bps" in plan.to_dict()["pairs"][0]


def test_parallel_links_fail_independently(engine: KeyRateEngine) -> None:
    from euroqci.network.scenario_file import parse_scenario

    text = """
version = 1
[profiles.p.spec]
protocol = "bb84-decoy"
[[sites]]
id = "A"
lat_deg = 50.0
lon_deg = 4.0
kind = "capital"
[[sites]]
id = "B"
lat_deg = 50.5
lon_deg = 4.5
kind = "hospital"
[[links]]
id = "fibre-1"
a = "A"
b = "B"
profile = "p"
length_km = 60.0
[[links]]
id = "fibre-2"
a = "A"
b = "B"
profile = "p"
length_km = 90.0
"""
    plan = plan_network(parse_scenario(text), engine=engine)
    rate = {s.link.id: s.secret_key_rate_bps for s in plan.topology.spans}
    (pair,) = plan.pairs
    assert pair.capacity_bps == pytest.approx(rate["fibre-1"] + rate["fibre-2"])
    impacts = {f.failed[0]: f for f in plan.single_failures}
    assert impacts["fibre-1"].total_lost_bps == pytest.approx(rate["fibre-1"])
    assert impacts["fibre-2"].total_lost_bps == pytest.approx(rate["fibre-2"])
    assert impacts["fibre-1"].n_pairs_disconnected == 0
