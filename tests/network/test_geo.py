"""Great-circle geometry against the distances published with the shared data."""

from __future__ import annotations

import pytest

from euroqci.network.builtin import read_data_csv
from euroqci.network.geo import great_circle_km, intermediate_point


def test_haversine_matches_the_capital_distances_of_the_border_table() -> None:
    capitals = {
        r["country_iso2"]: r for r in read_data_csv("eu_sites.csv") if r["site_type"] == "capital"
    }
    rows = read_data_csv("eu_borders.csv")
    assert len(rows) == 48
    for row in rows:
        a, b = capitals[row["a_iso2"]], capitals[row["b_iso2"]]
        d = great_circle_km(float(a["lat"]), float(a["lon"]), float(b["lat"]), float(b["lon"]))
        assert d == pytest.approx(float(row["capital_gc_km"]), abs=0.06), (
            row["a_iso2"] + row["b_iso2"]
        )


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.37, 0.5, 0.9, 1.0])
def test_intermediate_point_lies_on_the_great_circle(fraction: float) -> None:
    lisbon, helsinki = (38.72509, -9.14980), (60.16952, 24.93545)
    total = great_circle_km(*lisbon, *helsinki)
    p = intermediate_point(*lisbon, *helsinki, fraction=fraction)
    assert great_circle_km(*lisbon, *p) == pytest.approx(fraction * total, abs=1e-3)
    assert great_circle_km(*p, *helsinki) == pytest.approx((1 - fraction) * total, abs=1e-3)


def test_intermediate_point_rejects_fractions_outside_the_segment() -> None:
    with pytest.raises(ValueError, match="fraction"):
        intermediate_point(0, 0, 0, 1, fraction=1.5)
