"""Wegman-Carter message authentication with a pre-shared key pool.

The tag of message ``m`` is ``(k1 h_k1(m) + s1 mod p, k2 h_k2(m) + s2 mod p)`` with ``h_k``
the polynomial hash modulo ``p = 2^61 - 1`` of the message's 32-bit words followed by its
length, and ``s1, s2`` fresh one-time pads from the pool (Wegman and Carter, J. Comput. Syst.
Sci. 22, 265 (1981)). The final multiplication by ``k`` makes the family
``(L + 1)/p``-almost-difference-universal for messages of at most ``L`` words, so a forger
succeeds with probability at most ``((L + 1) / p)^2`` per tag; the hash keys are drawn once,
the pads for every tag.

A *transcript* tag covers a whole sequence of messages: the words and length of each message,
one after the other, are hashed as one sequence (an injective encoding: reading from the end,
each length tells where its message starts), so one tag and one pad authenticate them all
with the same bound, ``L`` now the transcript's word count.
"""

from __future__ import annotations

import hmac
import logging
import threading
from enum import Enum

import numpy as np

from euroqci.errors import InsufficientKeyMaterial, ProtocolAbort
from euroqci.postprocessing._kernels import (
    MERSENNE61,
    poly_absorb61,
    wegman_carter_finish,
)

__all__ = ["Direction", "KeyPool", "TranscriptHash", "WegmanCarter", "message_words"]

log = logging.getLogger(__name__)

TAG_BYTES = 16
#: A message as the channel hands it over (no copy of a large body is made to hash it).
Buffer = bytes | bytearray | memoryview
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


class TranscriptHash:
    """The running polynomial hash (both hash keys) of a sequence of messages in one direction.

    Holds no key material of its own beyond a reference to the direction's hash keys; the pad
    is drawn only when the transcript is tagged.
    """

    def __init__(self, keys: np.ndarray) -> None:
        self._keys = keys
        self._state = np.zeros(keys.shape[0], dtype=np.uint64)
        self.messages = 0
        self.words = 0

    def __repr__(self) -> str:
        return f"TranscriptHash(messages={self.messages}, words={self.words})"

    def absorb(self, message: Buffer) -> None:
        """Append one message (its whole words in place, then the partial word and length)."""
        n_bytes = len(message)
        n_whole = n_bytes >> 2
        bulk = np.frombuffer(message, dtype="<u4", count=n_whole)
        # Little-endian, so the partial word zero-padded at the end is just its bytes' value.
        has_last = (n_bytes & 3) != 0
        last = int.from_bytes(message[4 * n_whole :], "little") if has_last else 0
        poly_absorb61(self._state, bulk, last, has_last, n_bytes, self._keys)
        self.messages += 1
        self.words += n_whole + has_last + 1

    def finish(self, pads: np.ndarray) -> bytes:
        """The 16-byte tag of everything absorbed, one-time padded with ``pads``."""
        tags = wegman_carter_finish(self._state, self._keys, pads)
        return bytes(tags.astype("<u8").tobytes())


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

    def transcript(self, direction: Direction) -> TranscriptHash:
        """An empty transcript of the messages travelling in ``direction``."""
        return TranscriptHash(self._keys[direction])

    def _tag(
        self, message: Buffer, direction: Direction, transcript: TranscriptHash | None
    ) -> bytes:
        pads = np.frombuffer(self.pool.take(direction, _PAD_BITS // 8), dtype="<u8") & MERSENNE61
        hashed = self.transcript(direction) if transcript is None else transcript
        hashed.absorb(message)
        return hashed.finish(pads)

    def tag(self, message: Buffer, *, transcript: TranscriptHash | None = None) -> bytes:
        """The 16-byte tag of an outgoing message (consumes 128 pad bits).

        With ``transcript`` (of the sending direction) the tag covers every message absorbed
        in it before, then ``message``.
        """
        if transcript is not None and transcript._keys is not self._keys[self.sending]:
            raise ValueError("WegmanCarter.tag: transcript of the wrong direction")
        return self._tag(message, self.sending, transcript)

    def verify(
        self, message: Buffer, tag: bytes, *, transcript: TranscriptHash | None = None
    ) -> None:
        """Check an incoming message; raise :class:`ProtocolAbort` if it was altered.

        With ``transcript`` (of the receiving direction) the tag must cover every message
        absorbed in it before, then ``message``.
        """
        if transcript is not None and transcript._keys is not self._keys[self.receiving]:
            raise ValueError("WegmanCarter.verify: transcript of the wrong direction")
        expected = self._tag(message, self.receiving, transcript)
        if not hmac.compare_digest(expected, tag):
            log.warning("message authentication failed; aborting the session")
            raise ProtocolAbort(
                "message authentication failed: the classical channel altered or forged a message",
                reason="authentication failed",
            )
