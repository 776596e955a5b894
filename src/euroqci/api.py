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
    "KeyStoreError",
    "MemoryKeyStore",
    "ProtocolAbort",
    "QKDError",
    "RelayError",
    "SAENotAuthorized",
    "SPDCSource",
    "SlottedChannel",
    "UnsupportedExtension",
    "WeakCoherentSource",
    "open_store",
]
