"""Secret key rate of fibre spans from the key-rate engine, cached per (profile, length).

The finite-key block of a span is what it accumulates in ``accumulation_time_s``: the number of
key-basis bits ``n_X`` it detects in that time, which depends on the span's length. The block is
found as a fixed point: the block ``n`` such that the finite-key model run with block ``n``
gathers ``n`` key-basis bits in the accumulation time. The engine is called on a grid of block
sizes (2 per decade, starting from the asymptotic detection rate) so that spans with similar
blocks share one vectorised call; the fixed point and the rate are interpolated between the two
grid blocks around it. Evaluations cost 10-100 ms each, so every (profile, length) is evaluated
once and remembered.
"""

from __future__ import annotations

import logging
import math
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
#: The engine is called at blocks of 10**(k / _GRID) key-basis bits, k integer.
_GRID = 2
#: Smallest and largest grid index: blocks from 100 to 1e15 bits (link SPEC, finite_key).
_K_MIN = 2 * _GRID
_K_MAX = 15 * _GRID
#: The first block tried is this fraction of what the asymptotic model would gather.
_START_FRACTION = 0.8
#: Rounds of the block fixed point; one or two suffice in practice.
_MAX_ROUNDS = 10
#: The reach is found to this precision (km): ample for placing trusted nodes.
_REACH_TOLERANCE_KM = 2.0
#: Upper end of the reach search (km).
_REACH_UPPER_KM = 1000.0


@dataclass(frozen=True)
class KeyRateEngine:
    """What planning needs from a key-rate model.

    ``evaluate(spec)`` returns ``(secret_key_rate_bps, key_basis_rate_bps)``, both shaped like
    ``spec["channel"]["length_km"]``: the secret key rate and the rate of key-basis (sifted) bits,
    which fill the finite-key block.
    """

    evaluate: Callable[[dict[str, Any]], tuple[FloatArray, FloatArray]]


def engine_from_protocols() -> KeyRateEngine:
    """The project's key-rate engine (``euroqci.protocols``), as used by ``euroqci keyrate``."""
    from euroqci.protocols.evaluate import evaluate_link
    from euroqci.protocols.link_spec import parse_link_spec

    def evaluate(spec: dict[str, Any]) -> tuple[FloatArray, FloatArray]:
        result = evaluate_link(parse_link_spec(spec))
        return (
            np.asarray(result.secret_key_rate_bps, dtype=np.float64),
            np.asarray(result.sifted_rate_bps, dtype=np.float64),
        )

    return KeyRateEngine(evaluate=evaluate)


def validate_profile_spec(spec: Mapping[str, Any]) -> None:
    """Check a device profile's SPEC with the key-rate engine's parser.

    Raises
    ------
    ConfigurationError
        With ``field`` set to the path inside the SPEC (``"detector.efficiency"``).
    """
    from euroqci.protocols.link_spec import parse_link_spec

    spec_copy = DeviceProfile(name="_", spec=spec).spec_dict()
    channel = spec_copy.setdefault("channel", {})
    if not isinstance(channel, dict):
        raise ConfigurationError("channel: expected a table", field="channel")
    if "loss_db" in channel or "loss_db_per_slot" in channel:
        raise ConfigurationError(
            "channel: a network profile describes fibre (attenuation_db_per_km); the length "
            "comes from each link",
            field="channel",
        )
    channel["length_km"] = 1.0
    parse_link_spec(spec_copy)


def _floor_index(log10_block: float) -> int:
    """Grid index of the largest grid block not above ``10**log10_block``."""
    return math.floor(log10_block * _GRID + 1e-9)


def _interpolate(k: int, lo: tuple[float, float], hi: tuple[float, float]) -> tuple[float, float]:
    """Rate and block where the accumulated block meets the block size, between grid k, k+1.

    ``lo``/``hi`` are (rate, log10 of bits gathered in the accumulation time) at blocks
    ``10**(k/G)`` (filled) and ``10**((k+1)/G)`` (not filled). The fixed point and the rate are
    interpolated linearly in log10(block); the rate grows concavely with log(block), so the
    interpolated rate does not exceed the model's.
    """
    x_lo, x_hi = k / _GRID, (k + 1) / _GRID
    g_lo, g_hi = lo[1] - x_lo, hi[1] - x_hi  # >= 0 and < 0
    x = x_lo + (x_hi - x_lo) * g_lo / (g_lo - g_hi)
    w = (x - x_lo) / (x_hi - x_lo)
    return (1 - w) * lo[0] + w * hi[0], 10.0**x


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
        if not accumulation_time_s > 0:
            raise ConfigurationError(
                "accumulation_time_s: expected a time > 0 in seconds", field="accumulation_time_s"
            )
        self._profiles = dict(profiles)
        self._accumulation_time_s = accumulation_time_s
        self._engine = engine or engine_from_protocols()
        self._rates: dict[str, dict[float, float]] = {}
        self._blocks: dict[str, dict[float, float]] = {}
        self._reach: dict[str, float] = {}
        self.n_engine_calls = 0

    def _profile(self, name: str) -> DeviceProfile:
        try:
            return self._profiles[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown device profile {name!r}; known: {', '.join(self._profiles)}",
                field="profile",
            ) from None

    def spec_for(
        self, profile: str, length_km: Any, *, block_size: float | None = None
    ) -> dict[str, Any]:
        """The profile's SPEC at ``length_km``; finite key with ``block_size`` when given,
        asymptotic when ``block_size`` is None."""
        spec = self._profile(profile).spec_dict()
        spec.setdefault("channel", {})["length_km"] = length_km
        if block_size is None:
            spec.pop("finite_key", None)
        else:
            spec.setdefault("finite_key", {})["block_size"] = float(block_size)
        return spec

    def is_finite_key(self, profile: str) -> bool:
        """Whether the profile's SPEC asks for finite-key rates."""
        return isinstance(self._profile(profile).spec.get("finite_key"), Mapping)

    def _call(self, spec: dict[str, Any]) -> tuple[FloatArray, FloatArray]:
        self.n_engine_calls += 1
        rate, key_basis = self._engine.evaluate(spec)
        shape = np.shape(spec["channel"]["length_km"])
        rate = np.nan_to_num(np.broadcast_to(np.asarray(rate, dtype=np.float64), shape))
        key_basis = np.nan_to_num(np.broadcast_to(np.asarray(key_basis, dtype=np.float64), shape))
        return np.maximum(rate, 0.0), np.maximum(key_basis, 0.0)

    def _evaluate(
        self, profile: str, lengths: FloatArray, key_basis_asymptotic: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Rates and accumulated blocks (0 for asymptotic) at distinct ``lengths``.

        ``key_basis_asymptotic`` (bit/s at each length) seeds the block fixed point; it is
        evaluated when not given.
        """
        if not self.is_finite_key(profile):
            rate, _ = self._call(self.spec_for(profile, lengths))
            return rate, np.zeros_like(rate)
        if key_basis_asymptotic is None:
            _, key_basis_asymptotic = self._call(self.spec_for(profile, lengths))
        t_s = self._accumulation_time_s
        seed = np.maximum(_START_FRACTION * key_basis_asymptotic * t_s, 1e-300)
        k = np.maximum(np.floor(np.log10(seed) * _GRID + 1e-9).astype(int), _K_MIN - 1)
        k = np.minimum(k, _K_MAX - 1)
        done: dict[tuple[int, int], tuple[float, float]] = {}  # (i, k) -> (rate, log10 filled)
        rates = np.zeros_like(lengths)
        blocks = np.zeros_like(lengths)
        todo = list(range(lengths.size))
        for _ in range(_MAX_ROUNDS):
            self._evaluate_grid(profile, lengths, k, todo, done)
            still = []
            for i in todo:
                lo, hi = done.get((i, k[i])), done[(i, k[i] + 1)]
                if lo is not None and lo[1] < k[i] / _GRID:  # block k not filled in time
                    k[i] = max(_K_MIN - 1, min(k[i] - 1, _floor_index(lo[1])))
                    still.append(i)
                elif hi[1] >= (k[i] + 1) / _GRID and k[i] + 1 < _K_MAX:  # block k+1 filled too
                    k[i] = min(_K_MAX - 1, max(k[i] + 1, _floor_index(hi[1])))
                    still.append(i)
                elif lo is None:  # even the smallest block is not filled: no key
                    continue
                else:
                    rates[i], blocks[i] = _interpolate(k[i], lo, hi)
            todo = still
            if not todo:
                break
        if todo:
            logger.warning("block fixed point did not settle for %d lengths: rate 0", len(todo))
        return rates, blocks

    def _evaluate_grid(
        self,
        profile: str,
        lengths: FloatArray,
        k: npt.NDArray[np.int_],
        todo: list[int],
        done: dict[tuple[int, int], tuple[float, float]],
    ) -> None:
        """Evaluate each pending length at the grid blocks k and k + 1 (one call per block)."""
        needed: dict[int, list[int]] = {}
        for i in todo:
            for kk in (int(k[i]), int(k[i]) + 1):
                if kk >= _K_MIN and (i, kk) not in done:
                    needed.setdefault(kk, []).append(i)
        for kk, idx in sorted(needed.items()):
            block = 10.0 ** (kk / _GRID)
            rate, key_basis = self._call(self.spec_for(profile, lengths[idx], block_size=block))
            filled = np.log10(np.maximum(key_basis * self._accumulation_time_s, 1e-300))
            for j, i in enumerate(idx):
                done[(i, kk)] = (float(rate[j]), float(filled[j]))

    def _store(
        self, profile: str, lengths: FloatArray, rates: FloatArray, blocks: FloatArray
    ) -> None:
        cache = self._rates.setdefault(profile, {})
        block_cache = self._blocks.setdefault(profile, {})
        for length, r, b in zip(lengths, rates, blocks, strict=True):
            cache[float(length)] = float(r)
            block_cache[float(length)] = float(b)

    def rates_bps(self, profile: str, lengths_km: npt.ArrayLike) -> FloatArray:
        """Secret key rate in bit/s for each length (km), shaped like ``lengths_km``."""
        lengths = np.round(np.asarray(lengths_km, dtype=np.float64), _LENGTH_DECIMALS)
        cache = self._rates.setdefault(profile, {})
        missing = np.asarray(sorted({float(x) for x in lengths.ravel()} - cache.keys()))
        if missing.size:
            self._store(profile, missing, *self._evaluate(profile, missing))
            logger.debug("evaluated %d span lengths for profile %s", missing.size, profile)
        flat = [cache[float(x)] for x in lengths.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(lengths.shape)

    def block_size(self, profile: str, length_km: float) -> float:
        """The finite-key block (key-basis bits) a span accumulates; 0 for asymptotic rates."""
        self.rates_bps(profile, [length_km])
        return self._blocks[profile][round(float(length_km), _LENGTH_DECIMALS)]

    def reach_km(self, profile: str) -> float:
        """The longest span with a positive key for this profile, in km (to 2 km)."""
        if profile in self._reach:
            return self._reach[profile]
        # One asymptotic call on a grid brackets the reach (finite-key rates vanish sooner)
        # and seeds the block of every later evaluation by interpolation.
        grid = np.linspace(0.0, _REACH_UPPER_KM, 201)
        rate, key_basis = self._call(self.spec_for(profile, grid))
        positive = np.flatnonzero(rate > 0)
        if positive.size == 0:
            self._reach[profile] = 0.0
            return 0.0
        upper = float(grid[min(positive[-1] + 1, grid.size - 1)])
        log_key_basis = np.log(np.maximum(key_basis, 1e-300))

        def rates_at(lengths_km: FloatArray) -> FloatArray:
            lengths = np.round(lengths_km, _LENGTH_DECIMALS)
            seed = np.exp(np.interp(lengths, grid, log_key_basis))
            r, b = self._evaluate(profile, lengths, seed)
            self._store(profile, lengths, r, b)
            return r

        # Most profiles lose the key within 50 km below the asymptotic reach: one vector call.
        candidates = np.arange(max(0.0, upper - 50.0), upper + 1e-9, _REACH_TOLERANCE_KM)
        ok = rates_at(candidates) > 0
        if ok[0]:
            reach = float(candidates[np.flatnonzero(ok)[-1]])
        else:  # bisection below: positive at lo, zero at hi
            lo, hi = 0.0, float(candidates[0])
            if rates_at(np.asarray([lo]))[0] <= 0:
                hi = lo
            while hi - lo > _REACH_TOLERANCE_KM:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if rates_at(np.asarray([mid]))[0] > 0 else (lo, mid)
            reach = lo
        self._reach[profile] = math.floor(reach * 10) / 10
        return self._reach[profile]

    def max_span_km(self, profile: str, *, fraction: float) -> float:
        """Longest span allowed: ``fraction`` of the reach, capped by the profile's max_span_km."""
        span = fraction * self.reach_km(profile)
        cap = self._profile(profile).max_span_km
        return min(span, cap) if cap is not None else span

    def loss_db(self, profile: str, length_km: float) -> float:
        """Span loss in dB: attenuation times length plus the profile's fixed extra loss."""
        p = self._profile(profile)
        return float(fibre_loss_db(length_km, p.attenuation_db_per_km, p.extra_loss_db))
