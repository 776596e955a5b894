"""A map of Europe with country outlines, sites, trusted nodes and links coloured by key rate.

Outlines ship with the package (``data/europe_outlines.json.gz``, Natural Earth 1:50m, public
domain): nothing is downloaded. The projection is equirectangular with the aspect set for the
map's mid-latitude, which is all a planning map of Europe needs.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from euroqci.network.planning import NetworkPlan

__all__ = ["draw_network_map", "europe_outlines"]


@cache
def europe_outlines() -> dict[str, Any]:
    """The shipped outline document: ``window_deg``, ``source`` and ``countries`` with ``rings``."""
    raw = resources.files("euroqci.reports").joinpath("data", "europe_outlines.json.gz")
    with raw.open("rb") as compressed, gzip.open(compressed, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def draw_network_map(plan: NetworkPlan, path: Path, *, dpi: int = 130) -> Path:
    """Draw the plan on a map of Europe and save it (format from the suffix: .png, .svg, .pdf).

    Links are coloured by secret key rate (log scale, bit/s); capitals are squares, other sites
    circles, trusted nodes small dots; sites no fibre reaches are red crosses (those outside
    the map window are listed in the corner).
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    outlines = europe_outlines()
    lon0, lat0, lon1, lat1 = outlines["window_deg"]
    fig = Figure(figsize=(11, 9), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#dbe9f4")
    rings = [np.asarray(r) for c in outlines["countries"] for r in c["rings"]]
    ax.add_collection(
        PolyCollection(rings, facecolors="#f4f1ea", edgecolors="#9a968c", linewidths=0.4)
    )
    sites = plan.topology.sites_by_id
    segments, rates = [], []
    for span in plan.topology.spans:
        a, b = sites[span.link.a], sites[span.link.b]
        segments.append([(a.lon_deg, a.lat_deg), (b.lon_deg, b.lat_deg)])
        rates.append(span.secret_key_rate_bps)
    positive = [r for r in rates if r > 0] or [1.0]
    norm = LogNorm(vmin=min(positive), vmax=max(max(positive), min(positive) * 10))
    colours = np.where(np.asarray(rates) > 0, np.asarray(rates), np.nan)
    cmap = colormaps["viridis"].with_extremes(bad="#c0392b")  # spans without key in red
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=2.0, zorder=2)
    lines.set_array(np.ma.masked_invalid(colours))
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, shrink=0.6, label="secret key rate per span (bit/s)")
    _draw_sites(ax, plan, (lon0, lat0, lon1, lat1))
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    ax.set_aspect(1.0 / math.cos(math.radians((lat0 + lat1) / 2)))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(f"EuroQCI terrestrial segment: {plan.topology.scenario.name}")
    ax.text(
        0.99,
        0.005,
        "Outlines: Natural Earth (public domain)",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="#555555",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _draw_sites(ax: Any, plan: NetworkPlan, window: tuple[float, float, float, float]) -> None:
    lon0, lat0, lon1, lat1 = window
    unreachable = {u["id"] for u in plan.unreachable}
    groups: dict[str, list[tuple[float, float]]] = {"tn": [], "cap": [], "site": [], "off": []}
    outside = []
    for site in plan.topology.sites:
        inside = lon0 <= site.lon_deg <= lon1 and lat0 <= site.lat_deg <= lat1
        if site.id in unreachable and not inside:
            outside.append(site.name)
            continue
        key = (
            "off"
            if site.id in unreachable
            else "tn"
            if site.is_trusted_node
            else ("cap" if site.kind.value == "capital" else "site")
        )
        groups[key].append((site.lon_deg, site.lat_deg))
    styles = {
        "tn": {"marker": ".", "s": 10, "color": "#333333", "label": "trusted node"},
        "cap": {"marker": "s", "s": 30, "color": "#1f3b73", "label": "capital"},
        "site": {"marker": "o", "s": 30, "color": "#7b2d8b", "label": "site"},
        "off": {"marker": "x", "s": 40, "color": "#c0392b", "label": "no fibre: space segment"},
    }
    for key, points in groups.items():
        if points:
            xy = np.asarray(points)
            ax.scatter(xy[:, 0], xy[:, 1], zorder=3, **styles[key])
    ax.legend(loc="upper left", fontsize=8)
    if outside:
        ax.text(
            0.99,
            0.99,
            "Outside the map, no fibre (space segment):\n" + "\n".join(outside),
            transform=ax.transAxes,
            fontsize=7,
            va="top",
            ha="right",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#999999"},
        )
