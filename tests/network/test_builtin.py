"""The built-in EU scenario and its plan (with the stand-in engine)."""

from __future__ import annotations

import networkx as nx
import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.builtin import builtin_scenario
from euroqci.network.geo import great_circle_km
from euroqci.network.planning import plan_network
from euroqci.network.rates import KeyRateEngine, LinkRateModel
from euroqci.network.scenario import LinkMedium


def test_eu_has_the_capitals_outermost_regions_and_existing_links() -> None:
    eu = builtin_scenario("eu")
    capitals = [s for s in eu.sites if not s.outermost_region]
    assert len(capitals) == 27 and len({s.country for s in capitals}) == 27
    assert sum(s.outermost_region for s in eu.sites) == 10
    assert len(eu.links) == 46  # 35 land borders + 11 existing submarine or fixed links
    assert sum(link.medium is LinkMedium.SUBMARINE for link in eu.links) == 10
    assert len(builtin_scenario("eu", include_planned=True).links) == 48
    by_id = eu.sites_by_id
    for link in eu.links:
        a, b = by_id[link.a], by_id[link.b]
        gc = great_circle_km(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
        assert link.length_km == pytest.approx(1.5 * gc, abs=1e-3)


def test_unknown_builtin_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="built-in scenarios: eu"):
        builtin_scenario("mars")


def test_eu_plan_inserts_trusted_nodes_and_flags_the_outermost_regions(
    engine: KeyRateEngine,
) -> None:
    eu = builtin_scenario("eu")
    plan = plan_network(eu, engine=engine, failures=False)
    rates = LinkRateModel(eu.profiles, accumulation_time_s=600.0, engine=engine)
    max_span = rates.max_span_km("backbone", fraction=eu.options.max_span_fraction)
    assert plan.topology.inserted_trusted_nodes
    assert all(s.link.length_km <= max_span + 1e-3 for s in plan.topology.spans)
    assert all(s.secret_key_rate_bps > 0 for s in plan.topology.spans)
    unreachable = {u["id"]: u for u in plan.unreachable}
    assert set(unreachable) == {s.id for s in eu.sites if s.outermost_region}
    assert all(u["space_segment"] for u in unreachable.values())
    capitals = [s.id for s in eu.sites if not s.outermost_region]
    assert nx.is_connected(
        plan.topology.graph().subgraph(
            nx.node_connected_component(plan.topology.graph(), capitals[0])
        )
    )
    connected = [p for p in plan.pairs if p.capacity_bps > 0]
    assert len(connected) == 27 * 26 // 2  # every pair of capitals has key
    for p in connected:
        assert 0 < p.widest_route_bps <= p.capacity_bps * (1 + 1e-12)
        assert p.route[0] == p.a and p.route[-1] == p.b


@pytest.mark.slow
def test_eu_plan_with_the_key_rate_engine() -> None:
    """End to end with euroqci.protocols: Vienna-Bratislava is one span rated by the engine."""
    from euroqci.protocols.evaluate import evaluate_link
    from euroqci.protocols.link_spec import parse_link_spec

    eu = builtin_scenario("eu")
    plan = plan_network(eu, failures=False)
    assert {u["id"] for u in plan.unreachable} == {s.id for s in eu.sites if s.outermost_region}
    assert sum(p.capacity_bps > 0 for p in plan.pairs) == 27 * 26 // 2
    span = next(s for s in plan.topology.spans if s.link.id == "AT-SK")
    assert span.link.parent == ""  # 82 km: no trusted node needed
    rates = LinkRateModel(eu.profiles, accumulation_time_s=eu.options.accumulation_time_s)
    block = rates.block_size("backbone", span.link.length_km)
    spec = rates.spec_for("backbone", span.link.length_km, block_size=block)
    direct = float(evaluate_link(parse_link_spec(spec)).secret_key_rate_bps)
    assert span.secret_key_rate_bps == pytest.approx(direct, rel=0.03)
    assert span.loss_db == pytest.approx(0.2 * span.link.length_km)
    pair = next(p for p in plan.pairs if {p.a, p.b} == {"CAP-AT", "CAP-SK"})
    assert pair.capacity_bps >= span.secret_key_rate_bps
