"""The single exception tree of EuroQCI.

::

    QKDError                                   anything EuroQCI raises on purpose
    ├── ConfigurationError(QKDError, ValueError)   bad input: names the field and the unit or range
    │   └── UnsupportedExtension               an ETSI 014 extension_mandatory item we cannot honour
    ├── ProtocolAbort                          an expected outcome: QBER or phase error too high
    ├── ConvergenceError                       a numerical method did not converge
    └── KeyStoreError                          key management
        ├── KeyNotFound                        no such key (or link key) is held for this caller
        ├── InsufficientKeyMaterial            not enough key material now: retry later
        ├── KeyAlreadyDelivered                a key goes to each SAE once
        ├── SAENotAuthorized                   the calling SAE was not named for the keys (401)
        └── RelayError                         a key relay to another KME failed; nothing delivered

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
    "RelayError",
    "SAENotAuthorized",
    "UnsupportedExtension",
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


class SAENotAuthorized(KeyStoreError):
    """The calling SAE is not the master or a named slave of the requested keys (ETSI 014: 401)."""


class RelayError(KeyStoreError):
    """A relay of keys to another KME failed; no key of the request was delivered."""


class UnsupportedExtension(ConfigurationError):
    """An ETSI 014 ``extension_mandatory`` item that this KME does not support.

    ``names`` lists the unsupported extension names, for the error details.
    """

    def __init__(self, message: str, *, names: tuple[str, ...] = ()) -> None:
        super().__init__(message, field="extension_mandatory")
        self.names = names
