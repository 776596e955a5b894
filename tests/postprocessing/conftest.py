"""A small, fast link whose records give a positive finite key (shared by the pipeline tests)."""

from __future__ import annotations

import numpy as np
import pytest

from euroqci.devices.emulator import LinkSettings, emulate_link, link_settings
from euroqci.protocols.link_spec import parse_link_spec

LINK_SPEC = {
    "channel": {"loss_db": 3.0},
    "source": {
        "intensities": [0.5, 0.1, 0.0002],
        "intensity_probabilities": [0.6, 0.25, 0.15],
        "basis_probability_x": 0.6,
    },
    "detector": {"efficiency": 0.6, "dark_count_probability": 1e-6, "afterpulse_probability": 0.01},
    "misalignment_error": 0.02,
}


@pytest.fixture(scope="session")
def link() -> LinkSettings:
    return link_settings(parse_link_spec(LINK_SPEC))


@pytest.fixture(scope="session")
def records(link: LinkSettings):
    return emulate_link(link, n_pulses=10_000_000, rng=np.random.default_rng(7))
