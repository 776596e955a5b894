#!/usr/bin/env python3
"""Build the offline country outlines of Europe used by the network map.

Input: ``countries-50m.json`` (TopoJSON of Natural Earth 1:50m admin-0 countries, public domain)
from the npm package world-atlas (ISC licence)::

    cd "$(mktemp -d)" && npm pack world-atlas && tar xzf world-atlas-*.tgz
    python scripts/build_outlines.py package/countries-50m.json

Output: ``src/euroqci/reports/data/europe_outlines.json.gz``: the rings of every country polygon
that touches the map window, coordinates rounded to 0.01 degree. The TopoJSON decoding (delta-
decoded quantised arcs joined into rings) is a dozen lines, written here rather than adding a
build dependency for it.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

#: Map window (lon_min, lat_min, lon_max, lat_max) in degrees: Europe with the Azores, Madeira,
#: the Canary Islands and Cyprus.
WINDOW_DEG = (-32.0, 26.0, 46.0, 72.0)
OUT = Path(__file__).resolve().parents[1] / "src/euroqci/reports/data/europe_outlines.json.gz"


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """Absolute (lon, lat) points of every arc (TopoJSON spec, 'Transforms' and 'Arcs')."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """Join arcs into one ring; a negative index ~i is arc i reversed."""
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def touches_window(points: list[tuple[float, float]]) -> bool:
    lon0, lat0, lon1, lat1 = WINDOW_DEG
    return any(lon0 <= x <= lon1 and lat0 <= y <= lat1 for x, y in points)


def quantise(points: list[tuple[float, float]]) -> list[list[float]]:
    """Round to 0.01 degree, drop repeats, and unwrap longitudes across the antimeridian."""
    out: list[list[float]] = []
    for x, y in points:
        if out:
            # A ring crossing +-180 deg (Russia, Fiji) continues past it instead of jumping back.
            x += 360.0 * round((out[-1][0] - x) / 360.0)
        q = [round(x, 2), round(y, 2)]
        if not out or q != out[-1]:
            out.append(q)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", type=Path, help="world-atlas countries-50m.json")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    topo = json.loads(args.topojson.read_text(encoding="utf-8"))
    arcs = decode_arcs(topo)
    countries = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        kind = geometry.get("type")
        polygons = {"Polygon": [geometry.get("arcs", [])], "MultiPolygon": geometry.get("arcs", [])}
        rings = []
        for polygon in polygons.get(kind, []):
            for indices in polygon:
                points = ring(indices, arcs)
                if len(points) >= 4 and touches_window(points):
                    rings.append(quantise(points))
        if rings:
            name = geometry.get("properties", {}).get("name", "")
            countries.append({"name": name, "id": geometry.get("id", ""), "rings": rings})
    document = {
        "source": "Natural Earth 1:50m admin-0 countries (public domain), via the npm package "
        "world-atlas 2.0.2 (countries-50m.json, ISC licence); built by scripts/build_outlines.py",
        "window_deg": list(WINDOW_DEG),
        "countries": countries,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(document, fh, separators=(",", ":"))
    n_points = sum(len(r) for c in countries for r in c["rings"])
    print(f"{args.out}: {len(countries)} countries, {n_points} points")


if __name__ == "__main__":
    main()
