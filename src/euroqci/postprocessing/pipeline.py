"""The safe recipe: two detection records in, two identical secret keys out.

:func:`distill_key` runs Alice (in a thread) and Bob (in the caller's thread) over an
authenticated classical channel, in memory or over TCP on loopback, with finite-key-safe
defaults, and raises one :class:`~euroqci.errors.ProtocolAbort` with a clear reason when the
QBER or the phase error is too high.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from euroqci.devices.record import AliceRecord, BobRecord
from euroqci.errors import ProtocolAbort
from euroqci.postprocessing.bits import BitString
from euroqci.postprocessing.channel import memory_channel_pair, tcp_channel_pair
from euroqci.postprocessing.parties import Alice, Bob, DistillSettings, PartyResult

__all__ = ["ChannelKind", "DistillResult", "distill_key"]

log = logging.getLogger(__name__)

#: Pre-shared authentication key installed at commissioning when none is given (bytes).
DEFAULT_PRESHARED_BYTES = 1 << 17


class ChannelKind(Enum):
    """Where the classical messages travel."""

    MEMORY = "memory"
    TCP = "tcp"


@dataclass(repr=False)
class DistillResult:
    """Outcome of one distillation; ``alice_key`` and ``bob_key`` never appear in ``repr``."""

    alice: PartyResult
    bob: PartyResult
    elapsed_s: float

    def __repr__(self) -> str:
        return f"DistillResult(secret_bits={self.bob.secret_bits}, keys_equal={self.keys_equal})"

    @property
    def alice_key(self) -> BitString:
        """Alice's final key."""
        return self.alice.key

    @property
    def bob_key(self) -> BitString:
        """Bob's final key."""
        return self.bob.key

    @property
    def keys_equal(self) -> bool:
        """Constant-time comparison of the two final keys."""
        return self.alice.key.equals(self.bob.key)

    def summary(self) -> dict[str, Any]:
        """The figures of the run as a JSON-ready dict (no key material)."""
        b = self.bob
        n = b.sifted_bits
        ideal = n * _h(b.qber)
        stages = {f"{name}_bps": (n / s if s > 0 else None) for name, s in b.stage_seconds.items()}
        return {
            "aborted": False,
            "abort_reason": None,
            "qber": b.qber,
            "qber_estimate": b.qber_estimate,
            "sifted_bits": n,
            "reconciliation_leak_bits": b.reconciliation_leak_bits,
            "verification_leak_bits": b.verification_leak_bits,
            "reconciliation_efficiency": (b.reconciliation_leak_bits / ideal) if ideal else None,
            "frames": b.frames,
            "frames_failed": b.frames_failed,
            "verification_passed": b.verification_passed,
            "phase_error": b.phase_error,
            "secret_bits": b.secret_bits,
            "output_key_bits": b.key.n_bits,
            "keys_equal": self.keys_equal,
            "authentication_key_used_bits": b.authentication_key_used_bits,
            "authentication_key_replenished_bits": b.authentication_key_replenished_bits,
            "throughput": {**stages, "total_bps": n / self.elapsed_s if self.elapsed_s else None},
        }


def _h(p: float) -> float:
    from euroqci.postprocessing.estimation import binary_entropy

    return binary_entropy(p)


def distill_key(
    alice_record: AliceRecord,
    bob_record: BobRecord,
    *,
    settings: DistillSettings,
    rng: np.random.Generator,
    channel: ChannelKind = ChannelKind.MEMORY,
    preshared_key: bytes | None = None,
    round_trip_delay_s: float = 0.0,
) -> DistillResult:
    """Distil identical secret keys from Alice's and Bob's detection records.

    Parameters
    ----------
    alice_record, bob_record
        Each party's own log (see :mod:`euroqci.devices.record`).
    settings
        Public protocol parameters (intensities as in the records, method, epsilons).
    rng
        Alice's randomness for the public hash seeds; also draws the pre-shared key when none
        is given (an emulation of commissioning).
    channel
        :class:`ChannelKind`: in memory, or TCP on 127.0.0.1.
    preshared_key
        The authentication key both parties were given, >= 64 bytes.
    round_trip_delay_s
        Added latency per round trip on TCP (emulates a long link).

    Raises
    ------
    ProtocolAbort
        QBER above ``settings.qber_max``, phase error too high, too few detections for the
        finite-key bound, or a message that failed authentication.
    """
    if preshared_key is None:
        preshared_key = rng.bytes(DEFAULT_PRESHARED_BYTES)
    if channel is ChannelKind.TCP:
        ch_a, ch_b = tcp_channel_pair(preshared_key, round_trip_delay_s=round_trip_delay_s)
    else:
        ch_a, ch_b = memory_channel_pair(preshared_key)
    alice = Alice(
        alice_record, ch_a, settings=settings, rng=np.random.default_rng(rng.integers(2**63))
    )
    bob = Bob(bob_record, ch_b, settings=settings)
    outcome: dict[str, Any] = {}

    def run_alice() -> None:
        try:
            outcome["alice"] = alice.run()
        except Exception as exc:  # reported to the caller below
            outcome["alice_error"] = exc

    start = time.perf_counter()
    thread = threading.Thread(target=run_alice, name="alice", daemon=True)
    thread.start()
    try:
        bob_result = bob.run()
    except BaseException:
        thread.join(timeout=10)  # Alice was told to stop; do not wait long
        raise
    else:
        thread.join(timeout=600)
    finally:
        ch_a.close()
        ch_b.close()
    elapsed = time.perf_counter() - start
    if "alice_error" in outcome:
        err = outcome["alice_error"]
        if isinstance(err, ProtocolAbort):
            raise err
        raise ProtocolAbort(f"Alice failed: {err}", reason="alice failed") from err
    return DistillResult(outcome["alice"], bob_result, elapsed)
