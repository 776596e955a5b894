"""BBM92 and TF-QKD through the SPEC, as `euroqci keyrate` rates them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.protocols.bbm92 import bbm92_secret_key_rate
from euroqci.protocols.evaluate import evaluate_link
from euroqci.protocols.link_spec import parse_link_spec

DET = {"efficiency": 0.5, "dark_count_probability": 1e-6}


def test_bbm92_source_in_the_middle_splits_the_loss() -> None:
    r = evaluate_link(
        parse_link_spec(
            {
                "protocol": "bbm92",
                "channel": {"loss_db": 60.0},
                "source": {"repetition_rate_hz": 1e8},
                "detector": DET,
            }
        )
    )
    from euroqci.physics.detectors import Detector

    direct = bbm92_secret_key_rate(
        1e-3,
        1e-3,
        detector_a=Detector(**DET),
        misalignment_error=0.005,
        error_correction_efficiency=1.16,
    )
    assert float(r.secret_bits_per_pulse) == pytest.approx(float(direct.secret_bits_per_pulse))
    assert float(r.secret_key_rate_bps) > 0


def test_bbm92_finite_key_below_asymptotic_and_rising_with_block() -> None:
    base: dict[str, Any] = {
        "protocol": "bbm92",
        "channel": {"loss_db": np.array([40.0, 60.0])},
        "source": {"repetition_rate_hz": 1e8},
        "detector": DET,
    }
    asym = evaluate_link(parse_link_spec(base)).secret_bits_per_pulse
    small = evaluate_link(parse_link_spec(base | {"finite_key": {"block_size": 1e5}}))
    big = evaluate_link(parse_link_spec(base | {"finite_key": {"block_size": 1e8}}))
    assert np.all(small.secret_bits_per_pulse <= big.secret_bits_per_pulse)
    assert np.all(big.secret_bits_per_pulse <= asym)


def test_bbm92_double_downlink_pass() -> None:
    x = np.linspace(-1, 1, 200)
    doc = {
        "protocol": "bbm92",
        "channel": {"loss_db_per_slot": (18 + 8 * x**2).tolist()},
        "channel_b": {"loss_db_per_slot": (20 + 8 * x**2).tolist()},
        "source": {"repetition_rate_hz": 1e8},
        "detector": DET,
        "misalignment_error": 0.015,
        "finite_key": {},
    }
    r = evaluate_link(parse_link_spec(doc))
    assert float(r.secret_bits) > 0
    assert float(r.secret_bits_period_s) == 200.0
    doc["channel_b"] = {"loss_db": 30.0}
    with pytest.raises(ConfigurationError):
        evaluate_link(parse_link_spec(doc))


def test_tf_qkd_beats_plob_at_long_distance() -> None:
    doc = {
        "protocol": "tf-qkd",
        "channel": {"length_km": np.array([400.0, 600.0]), "attenuation_db_per_km": 0.157},
        "detector": {"efficiency": 0.6, "dark_count_probability": 1e-11},
        "misalignment_error": 0.03,
    }
    r = evaluate_link(parse_link_spec(doc))
    assert np.all(r.secret_key_rate_bps > r.plob_bound_bps)
    with pytest.raises(ConfigurationError) as info:
        evaluate_link(parse_link_spec(doc | {"finite_key": {"block_size": 1e9}}))
    assert info.value.field == "finite_key"
