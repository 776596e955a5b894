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
    RelayError,
    SAENotAuthorized,
    UnsupportedExtension,
)
from euroqci.kms.manager import KeyManager
from euroqci.kms.profile import KMEProfile
from euroqci.kms.store import MemoryKeyStore, open_store
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
    "KMEProfile",
    "KeyAlreadyDelivered",
    "KeyManager",
    "KeyNotFound",
    "KeyRateResult",
    "KeyStoreError",
    "LinkSpec",
    "MemoryKeyStore",
    "Protocol",
    "ProtocolAbort",
    "QKDError",
    "RelayError",
    "SAENotAuthorized",
    "SPDCSource",
    "SlottedChannel",
    "TailBound",
    "UnsupportedExtension",
    "WeakCoherentSource",
    "decoy_key_length",
    "evaluate_link",
    "max_reach_km",
    "open_store",
    "parse_link_spec",
    "plob_bound",
]
