"""Plot of a key-rate sweep with the PLOB repeaterless bound beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_sweep"]


def plot_sweep(records: list[dict[str, Any]], *, path: str, out: Path, title: str = "") -> Path:
    """Draw secret key rate (bit/s) against the swept field on a log scale; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["sweep"]["value"] for r in records]
    rate = [r["secret_key_rate_bps"] or float("nan") for r in records]
    plob = [r["plob_bound_bps"] or float("nan") for r in records]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.semilogy(x, [v if v > 0 else float("nan") for v in rate], label="secret key rate")
    ax.semilogy(x, plob, "--", color="grey", label="PLOB bound (repeaterless)")
    ax.set_xlabel(path)
    ax.set_ylabel("bit/s")
    ax.set_title(title or "EuroQCI key rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
