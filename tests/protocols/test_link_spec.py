from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.physics.channels import FibreChannel, FixedLossChannel, SlottedChannel
from euroqci.protocols.link_spec import Protocol, parse_link_spec


def test_defaults_are_filled() -> None:
    spec = parse_link_spec({"channel": {"length_km": 10}})
    assert spec.protocol is Protocol.BB84_DECOY
    assert isinstance(spec.channel, FibreChannel)
    assert spec.finite_key is None
    assert spec.detector.efficiency == 0.1


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        ({"length_km": 5}, FibreChannel),
        ({"loss_db": 3.0}, FixedLossChannel),
        ({"loss_db_per_slot": [30.0, 31.0], "slot_s": 1.0}, SlottedChannel),
    ],
)
def test_channel_kinds(channel: dict[str, Any], kind: type) -> None:
    assert isinstance(parse_link_spec({"channel": channel}).channel, kind)


def test_numpy_lengths_are_accepted() -> None:
    spec = parse_link_spec({"channel": {"length_km": np.linspace(0, 10, 5)}})
    assert spec.transmittance.shape == (5,)


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"channel": {"length_km": -5}}, "channel.length_km", "km"),
        (
            {"channel": {"length_km": 5}, "detector": {"efficiency": 1.5}},
            "detector.efficiency",
            "[0, 1]",
        ),
        ({"channel": {"length_km": 5}, "protocol": "bb85"}, "protocol", ""),
        ({"channel": {"length_km": 5}, "colour": "red"}, "colour", "unknown field"),
        (
            {"channel": {"length_km": 5}, "source": {"repetition_rate_hz": 0}},
            "source.repetition_rate_hz",
            "Hz",
        ),
        ({"channel": {"speed": 5}}, "channel", "length_km"),
        (
            {"channel": {"length_km": 5}, "decoy": "infinite", "finite_key": {}},
            "decoy",
            "three-intensity",
        ),
        (
            {"channel": {"loss_db_per_slot": [30.0]}, "finite_key": {"block_size": 1e6}},
            "finite_key.block_size",
            "pass",
        ),
        (
            {"channel": {"length_km": 5}, "source": {"intensity_probabilities": [0.5, 0.6, 0.1]}},
            "source.intensity_probabilities",
            "sum to 1",
        ),
        (
            {"channel": {"length_km": 5}, "finite_key": {"epsilon_sec": 2}},
            "finite_key.epsilon_sec",
            "",
        ),
    ],
)
def test_bad_specs_name_the_field(doc: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_link_spec(doc)
    assert info.value.field == field
    assert str(info.value).startswith(field)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
