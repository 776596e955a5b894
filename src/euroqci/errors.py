"""The single exception tree of EuroQCI.

::

    QKDError                                   anything EuroQCI raises on purpose
    ├── ConfigurationError(QKDError, ValueError)   bad input: names the field and the unit or range
    ├── ProtocolAbort                          an expected outcome: QBER or phase error too high
    ├── ConvergenceError                       a numerical method did not converge
    └── KeyStoreError                          key management
        ├── KeyNotFound
        ├── InsufficientKeyMaterial
        └── KeyAlreadyDelivered

Messages tell the user what to do next. Key material never appears in a message.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConvergenceError",
    "InsufficientKeyMaterial",
    "KeyAlreadyDelivered",
    "KeyNotFound",
    "KeyStoreError",
    "ProtocolAbort",
    "QKDError",
]


class QKDError(Exception):
    """Base class of every error EuroQCI raises on purpose."""


class ConfigurationError(QKDError, ValueError):
    """An input is out of range, of the wrong unit or unknown.

    ``field`` is the dotted path of the offending input (``"channel.length_km"``), or ``""``.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ProtocolAbort(QKDError):
    """The protocol ended without a key, as it should: e.g. the QBER is above threshold."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class ConvergenceError(QKDError):
    """A numerical method (optimiser, root finder, decoder) did not converge."""


class KeyStoreError(QKDError):
    """A key-store operation failed."""


class KeyNotFound(KeyStoreError):
    """No key with the given ID is held for this caller."""


class InsufficientKeyMaterial(KeyStoreError):
    """Not enough key material to serve the request now."""


class KeyAlreadyDelivered(KeyStoreError):
    """The key was already delivered to this SAE; a key is delivered once."""
