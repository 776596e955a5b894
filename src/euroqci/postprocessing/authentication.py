"""Wegman-Carter message authentication with a pre-shared key pool.

The tag of message ``m`` is ``(h_k1(m) + s1 mod p, h_k2(m) + s2 mod p)`` with ``h_k`` the
polynomial hash modulo ``p = 2^61 - 1`` (an ``L/p``-almost-XOR-universal family for messages
of at most ``L`` 32-bit words) and ``s1, s2`` fresh one-time pads from the pool (Wegman and
Carter, J. Comput. Syst. Sci. 22, 265 (1981)). A forger succeeds with probability at most
``(L / p)^2`` per message; the hash keys are drawn once, the pads for every message.
"""

from __future__ import annotations

import hmac
import logging
import threading
from enum import Enum

import numpy as np

from euroqci.errors import InsufficientKeyMaterial, ProtocolAbort
from euroqci.postprocessing._kernels import MERSENNE61, wegman_carter_tag

__all__ = ["Direction", "KeyPool", "WegmanCarter", "message_words"]

log = logging.getLogger(__name__)

TAG_BYTES = 16
_PAD_BITS = 128  # two 64-bit draws, each reduced to 61 bits


class Direction(Enum):
    """Which way a message travels; each direction has its own pads (no pad is used twice)."""

    ALICE_TO_BOB = "alice-to-bob"
    BOB_TO_ALICE = "bob-to-alice"


class KeyPool:
    """Pre-shared secret bits for authentication, consumed once and replenished from new key.

    Both parties hold their own identical copy. The pool holds two streams, one per
    :class:`Direction`, so that messages that cross never reuse a pad.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 64:
            raise ValueError("KeyPool.secret: expected at least 64 bytes of pre-shared key")
        half = len(secret) // 2
        self._streams = {
            Direction.ALICE_TO_BOB: bytearray(secret[:half]),
            Direction.BOB_TO_ALICE: bytearray(secret[half : 2 * half]),
        }
        self._lock = threading.Lock()
        self.consumed_bits = 0
        self.replenished_bits = 0

    def __repr__(self) -> str:
        return f"KeyPool(available_bits={self.available_bits})"

    @property
    def available_bits(self) -> int:
        """Bits left, both directions together."""
        return 8 * sum(len(s) for s in self._streams.values())

    def take(self, direction: Direction, n_bytes: int) -> bytes:
        """Remove and return the next ``n_bytes`` of the stream for ``direction``."""
        with self._lock:
            stream = self._streams[direction]
            if len(stream) < n_bytes:
                raise InsufficientKeyMaterial(
                    "authentication key pool exhausted: replenish it from distilled key "
                    "or install a new pre-shared key"
                )
            out = bytes(stream[:n_bytes])
            del stream[:n_bytes]
            self.consumed_bits += 8 * n_bytes
            return out

    def replenish(self, secret: bytes) -> None:
        """Add fresh secret bytes (from distilled key), split evenly between the directions."""
        half = len(secret) // 2
        with self._lock:
            self._streams[Direction.ALICE_TO_BOB] += secret[:half]
            self._streams[Direction.BOB_TO_ALICE] += secret[half : 2 * half]
            self.replenished_bits += 16 * half


def message_words(message: bytes) -> np.ndarray:
    """The message as 32-bit words (zero padded) followed by its length in bytes.

    This is the sequence the tag hashes (the tagging itself reads the words in place).
    """
    padded = message + b"\x00" * (-len(message) % 4)
    words = np.frombuffer(padded, dtype="<u4").astype(np.uint64)
    return np.append(words, np.uint64(len(message)))


def _key_from(raw: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(raw, "little") % int(MERSENNE61))


class WegmanCarter:
    """Tags and checks messages in both directions for one party.

    ``sending`` is the direction of the messages this party sends.
    """

    def __init__(self, pool: KeyPool, *, sending: Direction) -> None:
        self.pool = pool
        self.sending = sending
        self.receiving = (
            Direction.BOB_TO_ALICE if sending is Direction.ALICE_TO_BOB else Direction.ALICE_TO_BOB
        )
        # Hash keys, one pair per direction, drawn once from the pool (Wegman-Carter reuse).
        self._keys = {
            d: np.array([_key_from(pool.take(d, 8)), _key_from(pool.take(d, 8))], dtype=np.uint64)
            for d in (Direction.ALICE_TO_BOB, Direction.BOB_TO_ALICE)
        }

    def __repr__(self) -> str:
        return f"WegmanCarter(sending={self.sending.value})"

    def _tag(self, message: bytes, direction: Direction) -> bytes:
        pads = np.frombuffer(self.pool.take(direction, _PAD_BITS // 8), dtype="<u8") & MERSENNE61
        n_whole = len(message) // 4
        bulk = np.frombuffer(message, dtype="<u4", count=n_whole)
        rest = message[4 * n_whole :]
        tail = [int.from_bytes(rest + b"\x00" * (4 - len(rest)), "little")] if rest else []
        tail.append(len(message))
        tags = wegman_carter_tag(bulk, np.array(tail, dtype=np.uint64), self._keys[direction], pads)
        return bytes(tags.astype("<u8").tobytes())

    def tag(self, message: bytes) -> bytes:
        """The 16-byte tag of an outgoing message (consumes 128 pad bits)."""
        return self._tag(message, self.sending)

    def verify(self, message: bytes, tag: bytes) -> None:
        """Check an incoming message; raise :class:`ProtocolAbort` if it was altered."""
        expected = self._tag(message, self.receiving)
        if not hmac.compare_digest(expected, tag):
            log.warning("message authentication failed; aborting the session")
            raise ProtocolAbort(
                "message authentication failed: the classical channel altered or forged a message",
                reason="authentication failed",
            )
