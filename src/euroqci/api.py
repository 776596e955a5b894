"""The curated facade: the main nouns of EuroQCI in one import.

>>> from euroqci.api import FibreChannel
>>> round(float(FibreChannel(length_km=50.0).transmittance), 3)
0.1
"""

from __future__ import annotations

from euroqci.errors import (
    ConfigurationError,
    ConvergenceError,
    InsufficientKeyMaterial,
    KeyAlreadyDelivered,
    KeyNotFound,
    KeyStoreError,
    ProtocolAbort,
    QKDError,
)
from euroqci.physics.channels import FibreChannel, FixedLossChannel, SlottedChannel
from euroqci.physics.detectors import Detector
from euroqci.physics.sources import SPDCSource, WeakCoherentSource
from euroqci.protocols.evaluate import KeyRateResult, evaluate_link, max_reach_km
from euroqci.protocols.finite_key import TailBound, decoy_key_length
from euroqci.protocols.link_spec import LinkSpec, Protocol, parse_link_spec
from euroqci.protocols.plob import plob_bound

__all__ = [
    "ConfigurationError",
    "ConvergenceError",
    "Detector",
    "FibreChannel",
    "FixedLossChannel",
    "InsufficientKeyMaterial",
    "KeyAlreadyDelivered",
    "KeyNotFound",
    "KeyRateResult",
    "KeyStoreError",
    "LinkSpec",
    "Protocol",
    "ProtocolAbort",
    "QKDError",
    "SPDCSource",
    "SlottedChannel",
    "TailBound",
    "WeakCoherentSource",
    "decoy_key_length",
    "evaluate_link",
    "max_reach_km",
    "parse_link_spec",
    "plob_bound",
]
