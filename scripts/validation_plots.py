"""Regenerate the figures of docs/validation.md from the reference vectors.

Run: python scripts/validation_plots.py   (writes docs/img/*.png, prints the numbers shown)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from euroqci.protocols.evaluate import evaluate_link, max_reach_km
from euroqci.protocols.link_spec import parse_link_spec

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
IMG = ROOT / "docs" / "img"


def lim_figure() -> None:
    v = tomllib.loads((VECTORS / "lim2014.toml").read_text())["system"]
    lengths = np.linspace(0, 200, 201)
    base = {
        "channel": {"length_km": lengths, "attenuation_db_per_km": v["attenuation_db_per_km"]},
        "detector": {
            "efficiency": v["detector_efficiency"],
            "dark_count_probability": v["dark_count_probability"],
            "afterpulse_probability": v["afterpulse_probability"],
        },
        "misalignment_error": v["misalignment_error"],
        "error_correction_efficiency": v["error_correction_efficiency"],
    }
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for s in range(4, 10):
        doc = base | {
            "finite_key": {
                "block_size": 10.0**s,
                "epsilon_cor": v["epsilon_cor"],
                "epsilon_sec_per_bit": v["epsilon_sec_per_bit"],
            }
        }
        r = evaluate_link(parse_link_spec(doc)).secret_bits_per_pulse
        ax.semilogy(lengths, np.where(r > 0, r, np.nan), label=f"n_X = 1e{s}")
        reach = max_reach_km(
            parse_link_spec(doc | {"channel": base["channel"] | {"length_km": 50}})
        )
        print(f"Lim 2014 system, n_X = 1e{s}: reach {reach:.1f} km")
    asym = evaluate_link(parse_link_spec(base)).secret_bits_per_pulse
    ax.semilogy(lengths, np.where(asym > 0, asym, np.nan), "k--", label="asymptotic")
    ax.set_ylim(1e-7, 1e-2)
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate per pulse")
    ax.set_title("Lim et al. 2014 system (their Fig. 1), EuroQCI")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "lim2014_fig1.png")
    plt.close(fig)


def gys_figure() -> None:
    v = tomllib.loads((VECTORS / "ma2005_gys.toml").read_text())["system"]
    lengths = np.linspace(0, 160, 321)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for decoy, style in (("infinite", "-"), ("vacuum+weak", "--"), ("three-intensity", ":")):
        doc = {
            "channel": {"length_km": lengths, "attenuation_db_per_km": v["attenuation_db_per_km"]},
            "detector": {
                "efficiency": v["detector_efficiency"],
                "dark_count_probability": v["dark_count_probability"],
            },
            "misalignment_error": v["misalignment_error"],
            "error_correction_efficiency": v["error_correction_efficiency"],
            "decoy": decoy,
        }
        r = evaluate_link(parse_link_spec(doc)).secret_bits_per_pulse
        ax.semilogy(lengths, np.where(r > 0, r, np.nan), style, label=decoy)
        one = doc | {"channel": doc["channel"] | {"length_km": 50.0}}
        print(f"GYS, decoy {decoy}: maximum distance {max_reach_km(parse_link_spec(one)):.2f} km")
    ax.axvline(142.05, color="grey", lw=0.8, label="Ma et al. 2005: 142.05 km")
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate per pulse")
    ax.set_title("GYS parameters (Ma et al. 2005), asymptotic")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "ma2005_gys.png")
    plt.close(fig)


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    lim_figure()
    gys_figure()
