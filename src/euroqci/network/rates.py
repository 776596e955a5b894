"""Secret key rate of fibre spans from the key-rate engine, cached per (profile, length).

One key-rate evaluation costs 10-100 ms, so spans are evaluated per profile in one vectorised
call (``channel.length_km`` as an array) and remembered: a scenario with hundreds of spans costs
one engine call per device profile. The finite-key block is what a link accumulates in
``accumulation_time_s``: ``repetition_rate_hz * accumulation_time_s`` pulses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.network.scenario import DeviceProfile
from euroqci.physics.channels import fibre_loss_db

__all__ = [
    "KeyRateEngine",
    "LinkRateModel",
    "engine_from_protocols",
    "validate_profile_spec",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
#: Lengths are cached at this resolution (1 m): far below any planning uncertainty.
_LENGTH_DECIMALS = 3


@dataclass(frozen=True)
class KeyRateEngine:
    """The two calls planning needs from a key-rate model.

    ``rate_bps(spec)`` returns the secret key rate in bit/s, shaped like
    ``spec["channel"]["length_km"]``; ``reach_km(spec)`` the longest length with a positive key.
    """

    rate_bps: Callable[[dict[str, Any]], FloatArray]
    reach_km: Callable[[dict[str, Any]], float]


def engine_from_protocols() -> KeyRateEngine:
    """The project's key-rate engine (``euroqci.protocols``), as used by ``euroqci keyrate``."""
    from euroqci.protocols.evaluate import evaluate_link, max_reach_km
    from euroqci.protocols.link_spec import parse_link_spec

    def rate_bps(spec: dict[str, Any]) -> FloatArray:
        result = evaluate_link(parse_link_spec(spec))
        return np.asarray(result.secret_key_rate_bps, dtype=np.float64)

    def reach_km(spec: dict[str, Any]) -> float:
        return float(max_reach_km(parse_link_spec(spec)))

    return KeyRateEngine(rate_bps=rate_bps, reach_km=reach_km)


def validate_profile_spec(spec: Mapping[str, Any]) -> None:
    """Check a device profile's SPEC with the key-rate engine's parser.

    Raises
    ------
    ConfigurationError
        With ``field`` set to the path inside the SPEC (``"detector.efficiency"``).
    """
    from euroqci.protocols.link_spec import parse_link_spec

    spec_copy = DeviceProfile(name="_", spec=spec).spec_dict()
    if not isinstance(spec_copy.get("channel", {}), dict):
        raise ConfigurationError("channel: expected a table", field="channel")
    spec_copy.setdefault("channel", {})["length_km"] = 1.0
    parse_link_spec(spec_copy)


class LinkRateModel:
    """Secret key rate and reach per device profile, evaluated once per (profile, length).

    Parameters
    ----------
    profiles
        Device profiles by name.
    accumulation_time_s
        Time over which one finite-key block is accumulated, in seconds.
    engine
        The key-rate engine; the project's (``euroqci.protocols``) when omitted.
    """

    def __init__(
        self,
        profiles: Mapping[str, DeviceProfile],
        *,
        accumulation_time_s: float,
        engine: KeyRateEngine | None = None,
    ) -> None:
        self._profiles = dict(profiles)
        self._accumulation_time_s = accumulation_time_s
        self._engine = engine or engine_from_protocols()
        self._rates: dict[str, dict[float, float]] = {}
        self._reach: dict[str, float] = {}
        self.n_engine_calls = 0

    def spec_for(self, profile: str, length_km: Any = 1.0) -> dict[str, Any]:
        """The profile's SPEC at ``length_km`` with the finite-key block set by accumulation."""
        spec = self._profile(profile).spec_dict()
        spec.setdefault("channel", {})["length_km"] = length_km
        finite_key = spec.get("finite_key")
        if isinstance(finite_key, dict):
            rate_hz = float(spec.get("source", {}).get("repetition_rate_hz", 1e9))
            finite_key["block_size"] = float(rate_hz * self._accumulation_time_s)
        return spec

    def _profile(self, name: str) -> DeviceProfile:
        try:
            return self._profiles[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown device profile {name!r}; known: {', '.join(self._profiles)}",
                field="profile",
            ) from None

    def reach_km(self, profile: str) -> float:
        """The longest span with a positive key for this profile, in km."""
        if profile not in self._reach:
            self._reach[profile] = self._engine.reach_km(self.spec_for(profile))
            self.n_engine_calls += 1
        return self._reach[profile]

    def max_span_km(self, profile: str, *, fraction: float) -> float:
        """Longest span allowed: ``fraction`` of the reach, capped by the profile's max_span_km."""
        span = fraction * self.reach_km(profile)
        cap = self._profile(profile).max_span_km
        return min(span, cap) if cap is not None else span

    def rates_bps(self, profile: str, lengths_km: npt.ArrayLike) -> FloatArray:
        """Secret key rate in bit/s for each length (km); one engine call for the new ones."""
        lengths = np.round(np.asarray(lengths_km, dtype=np.float64), _LENGTH_DECIMALS)
        cache = self._rates.setdefault(profile, {})
        missing = sorted({float(x) for x in lengths.ravel()} - cache.keys())
        if missing:
            values = self._engine.rate_bps(self.spec_for(profile, np.asarray(missing)))
            values = np.broadcast_to(np.asarray(values, dtype=np.float64), (len(missing),))
            self.n_engine_calls += 1
            logger.debug("evaluated %d span lengths for profile %s", len(missing), profile)
            for length, rate in zip(missing, values, strict=True):
                cache[length] = max(0.0, float(np.nan_to_num(rate)))
        flat = [cache[float(x)] for x in lengths.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(lengths.shape)

    def loss_db(self, profile: str, length_km: float) -> float:
        """Span loss in dB: attenuation times length plus the profile's fixed extra loss."""
        p = self._profile(profile)
        return float(fibre_loss_db(length_km, p.attenuation_db_per_km, p.extra_loss_db))
