"""Satellite links in network planning: rates from the space functions, capacity, routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.builtin import builtin_scenario
from euroqci.network.geo import great_circle_km
from euroqci.network.planning import NetworkPlan, plan_network, route_between
from euroqci.network.scenario import DEFAULT_ROUTE_FACTOR, Scenario, SiteKind
from euroqci.network.scenario_file import load_scenario
from euroqci.space.link_budget import LINK_PRESETS
from euroqci.space.network_links import (
    SatelliteLinks,
    add_ground_stations,
    ground_stations_of,
    satellite_links,
    space_scenario_from_network,
)
from euroqci.space.orbits import Satellite, builtin_stations
from euroqci.space.pass_key import DownlinkProtocol, QKDSystem
from euroqci.space.planning import relay_pair_bits_per_day, station_average_key_rate_bps
from euroqci.space.spec import builtin_scenario as space_builtin
from euroqci.space.statistics import station_pass_keys

TENERIFE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "tenerife.toml"
START = datetime(2027, 1, 1, tzinfo=UTC)
DAYS = 3.0
SEED = 11
RELAY_TRIALS = 4
LINK = LINK_PRESETS["micius-2017-qkd"]
#: Fixed intensities and basis choice: the engine only evaluates, which keeps these tests fast.
FAST = QKDSystem(
    intensities=(0.6, 0.2, 0.0),
    intensity_probabilities=(0.7, 0.2, 0.1),
    basis_probability_x=0.8,
)


@dataclass(frozen=True)
class Setup:
    scenario: Scenario
    satellite: Satellite
    links: SatelliteLinks
    plan: NetworkPlan
    fibre_only: NetworkPlan


@pytest.fixture(scope="module")
def setup() -> Setup:
    scenario = load_scenario(TENERIFE)
    satellite = space_builtin("eu", start=START).satellite
    links = satellite_links(
        scenario, satellite, start=START, days=DAYS, rng=np.random.default_rng(SEED),
        link=LINK, system=FAST, relay_trials=RELAY_TRIALS,
    )  # fmt: skip
    plan = plan_network(
        scenario, extra_sites=[links.node], extra_links=links.extra_links(), failures=True
    )
    return Setup(scenario, satellite, links, plan, plan_network(scenario, failures=False))


def test_link_rates_are_the_space_planning_figures(setup: Setup) -> None:
    stations = {s.station_id: s for s in ground_stations_of(setup.scenario)}
    assert set(stations) == {"OGS-ES-TEIDE", "GS-ES-YEBES"}
    assert stations["OGS-ES-TEIDE"].altitude_m == 2400.0  # a built-in id takes its altitude
    for link in setup.links.links:
        # The two stations are in different altitude groups: each has its own reference passes,
        # so the one-station planning function sees the same passes and keys.
        expected = station_average_key_rate_bps(
            setup.satellite, stations[link.station], link=LINK, system=FAST, start=START,
            days=DAYS,
        )  # fmt: skip
        assert expected > 0
        assert link.secret_key_rate_bps == pytest.approx(expected, rel=1e-12)
        clear = 1.0 - stations[link.station].effective_cloud_probability
        burst_bits = sum(b.bits for b in link.bursts)
        assert burst_bits * clear / (DAYS * 86400.0) == pytest.approx(expected, rel=1e-12)
        assert all(b.start < b.end and b.bits > 0 for b in link.bursts)
        assert all(START <= b.start for b in link.bursts)


def test_relayed_pair_rates_are_the_relay_schedule(setup: Setup) -> None:
    stations = ground_stations_of(setup.scenario)
    tables = station_pass_keys(
        setup.satellite, stations, LINK, FAST, start=START, duration_s=DAYS * 86400.0
    )
    pairs = [("OGS-ES-TEIDE", "GS-ES-YEBES")]
    per_day = relay_pair_bits_per_day(
        tables, stations, pairs, start=START, days=DAYS, rng=np.random.default_rng(SEED),
        relay_trials=RELAY_TRIALS,
    )  # fmt: skip
    ((pair, rate),) = setup.links.pair_rates_bps.items()
    assert rate == pytest.approx(per_day[pair] / 86400.0, rel=1e-12)
    # A relay never delivers more than the weaker station's clear-sky key.
    weakest = min(t.total_bits for t in tables.values()) / (DAYS * 86400.0)
    assert 0 < rate <= weakest


def test_unreachable_pair_becomes_reachable_through_the_satellite(setup: Setup) -> None:
    before = {(p.a, p.b): p for p in setup.fibre_only.pairs}
    after = {(p.a, p.b): p for p in setup.plan.pairs}
    key = ("CAP-ES", "OR-ESCN-SCT")
    assert before[key].capacity_bps == 0.0
    assert {u["id"] for u in setup.fibre_only.unreachable} == {"OR-ESCN-SCT", "OGS-ES-TEIDE"}
    assert setup.plan.unreachable == ()
    bottleneck = min(link.secret_key_rate_bps for link in setup.links.links)
    assert after[key].capacity_bps == pytest.approx(bottleneck, rel=1e-9)
    assert after[key].widest_route_bps == pytest.approx(bottleneck, rel=1e-9)
    assert setup.links.node.id in after[key].trusted_nodes
    # Fibre pairs keep their fibre capacity (no satellite path between them).
    assert after[("CAP-ES", "CAP-PT")].capacity_bps == pytest.approx(
        before[("CAP-ES", "CAP-PT")].capacity_bps
    )


def test_route_lists_the_satellite_among_trusted_nodes(setup: Setup) -> None:
    route = route_between(setup.plan.topology, "OR-ESCN-SCT", "CAP-PT")
    node = setup.links.node.id
    assert node in route.trusted_nodes
    assert route.path[:3] == ("OR-ESCN-SCT", "OGS-ES-TEIDE", node)
    assert route.capacity_bps == pytest.approx(
        min(link.secret_key_rate_bps for link in setup.links.links), rel=1e-9
    )


def test_plan_json_and_failures_carry_the_satellite_links(setup: Setup) -> None:
    doc = setup.plan.to_dict()
    satellite = [link for link in doc["links"] if link["kind"] == "satellite"]
    rates = {link.station: link.secret_key_rate_bps for link in setup.links.links}
    assert {link["a"]: link["secret_key_rate_bps"] for link in satellite} == rates
    assert all(link["b"] == setup.links.node.id for link in satellite)
    assert {link["kind"] for link in doc["links"]} == {"fibre", "satellite"}
    # With two stations the satellite relays only between them: its two links fold into one
    # corridor, which can fail like any other.
    failed = {f.failed[0]: f for f in setup.plan.single_failures or ()}
    assert failed["SAT:OGS-ES-TEIDE+SAT:GS-ES-YEBES"].n_pairs_disconnected > 0
    summary = setup.links.to_dict(bursts=True)
    assert summary["relayed_pairs"] and all(link["bursts"] for link in summary["links"])


def test_builtin_eu_gains_the_ground_stations() -> None:
    scenario, unserved = add_ground_stations(builtin_scenario("eu"))
    ogs = builtin_stations()
    sites = scenario.sites_by_id
    assert {s.id for s in scenario.sites if s.kind is SiteKind.GROUND_STATION} == set(ogs)
    joined = {link.a: link for link in scenario.links if link.a in ogs}
    assert set(joined) == set(ogs)
    assert joined["OGS-ES-TEIDE"].b == "OR-ESCN-SCT"  # on Tenerife, not joined to Madrid
    assert joined["OGS-DE-OP"].b == "CAP-DE"
    for station_id, link in joined.items():
        st, end = ogs[station_id], sites[link.b]
        gc = great_circle_km(st.latitude_deg, st.longitude_deg, end.lat_deg, end.lon_deg)
        assert link.length_km == pytest.approx(DEFAULT_ROUTE_FACTOR * gc, abs=1e-3)
    left = {u["id"] for u in unserved}
    assert "OR-ESCN-SCT" not in left
    assert {"OR-ESCN-LPA", "OR-RE", "OR-PT20"} <= left
    assert len(left) == 9


def test_space_scenario_from_a_network_scenario(setup: Setup) -> None:
    sc = space_scenario_from_network(setup.scenario, start=START)
    assert [s.station_id for s in sc.stations] == ["OGS-ES-TEIDE", "GS-ES-YEBES"]
    assert sc.satellite.name == setup.satellite.name
    with pytest.raises(ConfigurationError, match="ground_station"):
        space_scenario_from_network(builtin_scenario("eu"), start=START)


def test_bad_inputs_are_refused(setup: Setup) -> None:
    with pytest.raises(ConfigurationError, match="ground_station"):
        satellite_links(builtin_scenario("eu"), setup.satellite, start=START, days=1.0,
                        rng=np.random.default_rng(1))  # fmt: skip
    with pytest.raises(ConfigurationError, match="days"):
        satellite_links(setup.scenario, setup.satellite, start=START, days=0.0,
                        rng=np.random.default_rng(1))  # fmt: skip
    with pytest.raises(ConfigurationError, match="bb84"):
        bbm92 = QKDSystem(protocol=DownlinkProtocol.BBM92)
        satellite_links(setup.scenario, setup.satellite, start=START, days=1.0,
                        rng=np.random.default_rng(1), system=bbm92)  # fmt: skip
    with pytest.raises(ConfigurationError, match="already a site"):
        satellite_links(setup.scenario, setup.satellite, start=START, days=1.0,
                        rng=np.random.default_rng(1), node_id="CAP-ES")  # fmt: skip
