"""Figures of docs/validation-models.md: SNS twin-field against PLOB and Liu et al. 2023,
BBM92 finite key against QBER with Yin et al. 2020.

    PYTHONPATH=src python docs/figures/models_validation.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from euroqci.physics.detectors import Detector
from euroqci.protocols.bbm92_finite import bbm92_finite_key_length
from euroqci.protocols.tf_qkd import sns_secret_key_rate

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def sns_figure() -> None:
    liu = tomllib.loads((ROOT / "tests/vectors/liu2023_tf_qkd_1002km.toml").read_text())
    m, a = liu["measured"], liu["assumed"]
    length_km = np.linspace(1, 1100, 2000)
    eta = 10 ** (-a["attenuation_db_per_km"] * length_km / 10)
    det = Detector(
        efficiency=a["detector_efficiency"], dark_count_probability=a["dark_count_probability"]
    )
    rate = sns_secret_key_rate(eta, detector=det, misalignment_error=a["misalignment_error"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogy(length_km, rate.secret_bits_per_pulse, label="SNS asymptotic (ours)")
    ax.semilogy(length_km, -np.log1p(-eta) / np.log(2), "k--", label="PLOB bound")
    ax.plot(
        [m["distance_km"], m["finite_distance_km"]],
        [m["secret_bits_per_pulse_asymptotic"], m["secret_bits_per_pulse_finite"]],
        "ro",
        label="Liu et al. 2023 (SNS + AOPP)",
    )
    ax.set_xlabel("fibre length (km), 0.157 dB/km")
    ax.set_ylabel("secret bits per pulse")
    ax.set_ylim(1e-18, 1)
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "sns_vs_plob_liu2023.png", dpi=110)


def bbm92_figure() -> None:
    yin = tomllib.loads((ROOT / "tests/vectors/yin2020_bbm92_1120km.toml").read_text())
    m = yin["measured"]
    n = m["sifted_key_rate_hz"] * m["data_duration_s"]
    qber = np.linspace(0.0, 0.09, 400)
    bits = bbm92_finite_key_length(
        n / 2,
        n / 2,
        qber_x=qber,
        qber_z=qber,
        error_correction_efficiency=m["error_correction_efficiency"],
        epsilon_sec=m["epsilon"],
    )
    rate = np.where(bits > 0, bits / m["data_duration_s"], np.nan)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogy(qber, rate, label="finite key, ours (3,100 s at 1.1 Hz sifted)")
    ax.plot([m["qber"]], [m["finite_key_rate_bps"]], "ro", label="Yin et al. 2020")
    ax.axvline(m["finite_key_qber_threshold"], color="r", ls=":", label="paper: positive below ~6%")
    ax.set_xlabel("QBER")
    ax.set_ylabel("secret key rate (bit/s)")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "bbm92_finite_key_yin2020.png", dpi=110)


if __name__ == "__main__":
    sns_figure()
    bbm92_figure()
