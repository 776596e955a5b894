"""Scenario files: the example loads, round-trips, and every error names line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.geo import great_circle_km
from euroqci.network.scenario import LengthSource, LinkMedium, SiteKind
from euroqci.network.scenario_file import dump_scenario, load_scenario, parse_scenario

GOOD = """\
format = "euroqci-scenario"
version = 1
name = "two"

[profiles.p.spec]
protocol = "bb84-decoy"

[profiles.p.spec.detector]
efficiency = 0.2

[[sites]]
id = "A"
lat_deg = 50.0
lon_deg = 4.0
kind = "capital"

[[sites]]
id = "B"
lat_deg = 51.0
lon_deg = 5.0
kind = "data_centre"

[[links]]
a = "A"
b = "B"
profile = "p"
length_km = 80.0
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse_scenario(text, source="s.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_documented_example_loads(benelux_path: Path) -> None:
    s = load_scenario(benelux_path)
    assert s.name == "benelux"
    assert len(s.sites) == 6
    assert s.sites_by_id["TN-ARLON"].kind is SiteKind.TRUSTED_NODE
    assert s.options.accumulation_time_s == 600.0
    links = {link.id: link for link in s.links}
    assert links["BE-ARLON"].length_source is LengthSource.GIVEN
    be, nl = s.sites_by_id["CAP-BE"], s.sites_by_id["CAP-NL"]
    gc = great_circle_km(be.lat_deg, be.lon_deg, nl.lat_deg, nl.lon_deg)
    assert links["BE-NL"].length_km == pytest.approx(1.5 * gc, abs=1e-3)
    assert links["BE-LU"].route_factor == 1.4
    assert links["BE-NL"].medium is LinkMedium.TERRESTRIAL


def test_dump_and_parse_round_trip(benelux_path: Path) -> None:
    s = load_scenario(benelux_path)
    assert parse_scenario(dump_scenario(s)) == s


def test_unknown_site_names_line_and_field() -> None:
    message = _error(GOOD.replace('b = "B"', 'b = "C"'))
    assert message.startswith("s.toml:25: links[0].b: unknown site 'C'")


def test_duplicate_site_id() -> None:
    message = _error(GOOD.replace('id = "B"', 'id = "A"'))
    assert message.startswith("s.toml:18: sites[1].id: duplicate site id 'A'")


def test_bad_unit_is_named_with_the_expected_field() -> None:
    message = _error(GOOD.replace("length_km = 80.0", "length_m = 80000.0"))
    assert message.startswith("s.toml:27: links[0].length_m: bad unit: give length_km")
    message = _error(GOOD.replace("lat_deg = 51.0", "lat_rad = 0.89"))
    assert "sites[1].lat_rad: bad unit: give lat_deg" in message


def test_duplicate_link_id_and_link_named_like_a_site() -> None:
    two_links = GOOD + '\n[[links]]\nid = "L"\na = "A"\nb = "B"\nprofile = "p"\nlength_km = 9.0\n'
    message = _error(two_links.replace("length_km = 80.0", 'length_km = 80.0\nid = "L"'))
    assert message.startswith("s.toml:31: links[1].id: duplicate link id 'L'")
    message = _error(GOOD.replace("length_km = 80.0", 'length_km = 80.0\nid = "A"'))
    assert "links[0].id: link id 'A' is also a site id" in message


def test_value_out_of_range_names_the_unit() -> None:
    message = _error(GOOD.replace("lat_deg = 51.0", "lat_deg = 151.0"))
    assert message.startswith("s.toml:19: sites[1].lat_deg: expected a value in [-90, 90] degrees")
    message = _error(GOOD.replace("length_km = 80.0", 'length_km = "80 km"'))
    assert "links[0].length_km: expected a number in km" in message


def test_unknown_field_suggests_the_closest() -> None:
    message = _error(GOOD.replace('kind = "data_centre"', 'knd = "data_centre"'))
    assert "sites[1].knd: unknown field; did you mean 'kind'?" in message


def test_bad_kind_lists_the_choices() -> None:
    message = _error(GOOD.replace('kind = "data_centre"', 'kind = "datacenter"'))
    assert "sites[1].kind: expected one of capital, government, data_centre" in message


def test_unknown_profile_and_version() -> None:
    assert "links[0].profile: unknown profile 'q'" in _error(
        GOOD.replace('profile = "p"', 'profile = "q"')
    )
    assert _error(GOOD.replace("version = 1", "version = 7")).startswith("s.toml:2: version:")


def test_profile_spec_errors_come_from_the_key_rate_engine_with_the_line() -> None:
    message = _error(GOOD.replace("efficiency = 0.2", "efficiency = 2.0"))
    assert message.startswith("s.toml:9: profiles.p.spec.detector.efficiency:")


def test_length_and_route_factor_are_exclusive() -> None:
    message = _error(GOOD.replace("length_km = 80.0", "length_km = 80.0\nroute_factor = 1.2"))
    assert "links[0].route_factor: give either length_km or route_factor" in message


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in _error("sites = [")
    with pytest.raises(ConfigurationError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.toml")
