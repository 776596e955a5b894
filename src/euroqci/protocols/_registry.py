"""Dispatch for the entanglement-based and twin-field models (wired in when they land)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from euroqci.errors import ConfigurationError

if TYPE_CHECKING:
    from euroqci.protocols.evaluate import KeyRateResult
    from euroqci.protocols.link_spec import LinkSpec


def evaluate_other(spec: LinkSpec) -> KeyRateResult:
    """Rate a link whose protocol is neither BB84 nor PLOB."""
    raise ConfigurationError(
        f"protocol: '{spec.protocol.value}' is not available in this build; "
        "use 'bb84-decoy' or 'plob'",
        field="protocol",
    )
