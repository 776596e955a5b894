"""The classical channel between Alice and Bob: in memory or TCP, every message authenticated.

A message is a kind (short string) plus named numpy arrays and scalars. On the wire it is a
frame ``length (4 bytes) | sequence number (8) | flags (4) | header length (4) | JSON header |
array bytes | Wegman-Carter tag (16)``; the tag covers everything before it, so a replayed,
reordered or altered message is rejected.

Inside :meth:`ClassicalChannel.deferred_authentication` messages go without a tag (flags 0)
and each party hashes them into a transcript per direction; on leaving the block both parties
send one tagged ``transcript-end`` message whose tag covers the whole transcript of their
direction, and check the peer's. One pad then authenticates hundreds of messages. This is
sound for an exchange whose messages are not trusted for anything irreversible before the
block ends (Cascade: see ``cascade.py``): a message altered, dropped, reordered or injected
anywhere in the block changes the transcript, so the check at the end rejects it and the
session aborts before the key is verified or amplified.
"""

from __future__ import annotations

import math
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from euroqci._jit import accelerated
from euroqci.errors import ProtocolAbort
from euroqci.postprocessing.authentication import (
    TAG_BYTES,
    Direction,
    KeyPool,
    TranscriptHash,
    WegmanCarter,
)

__all__ = [
    "ClassicalChannel",
    "MemoryTransport",
    "Message",
    "TcpTransport",
    "Transport",
    "memory_channel_pair",
    "tcp_channel_pair",
]

_LEN = struct.Struct(">I")
_HDR = struct.Struct(">QI")  # sequence number, flags
_TAGGED = 1  # flag: the frame ends with its own tag (else its tag comes with the transcript)


class Transport(Protocol):
    """Moves opaque byte frames between the two parties, in order."""

    def send_bytes(self, frame: bytes | bytearray) -> None: ...

    def recv_bytes(self) -> bytes | bytearray: ...

    def close(self) -> None: ...


@dataclass
class Message:
    """A received message: ``kind`` and its fields (numpy arrays or JSON scalars)."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def encode(kind: str, fields: dict[str, Any], *, prefix: bytes = b"") -> bytearray:
    """Serialise a message body (no sequence number, no tag) after ``prefix``.

    The arrays are copied once, into the returned buffer (a sifting message is megabytes).
    """
    meta: dict[str, Any] = {"kind": kind, "scalars": {}, "arrays": []}
    arrays = []
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value)
            meta["arrays"].append([name, arr.dtype.str, list(arr.shape)])
            arrays.append(arr)
        else:
            meta["scalars"][name] = value
    # orjson: Cascade sends a thousand-odd small messages per key; json cost 5x more per header.
    header = orjson.dumps(meta, option=orjson.OPT_SERIALIZE_NUMPY)
    out = bytearray(prefix)
    out += _LEN.pack(len(header))
    out += header
    for arr in arrays:
        out += arr.reshape(-1).view(np.uint8).data if arr.size else b""
    return out


def decode(body: bytes | bytearray | memoryview) -> Message:
    """Inverse of :func:`encode` (arrays are views on ``body``, not copies)."""
    (n_header,) = _LEN.unpack_from(body, 0)
    meta = orjson.loads(body[4 : 4 + n_header])
    fields: dict[str, Any] = dict(meta["scalars"])
    offset = 4 + n_header
    for name, dtype, shape in meta["arrays"]:
        dt = np.dtype(dtype)
        count = math.prod(shape)
        arr = np.frombuffer(body, dtype=dt, count=count, offset=offset).reshape(shape)
        fields[name] = arr
        offset += count * dt.itemsize
    return Message(meta["kind"], fields)


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without sched_getaffinity
        return os.cpu_count() or 1


class MemoryTransport:
    """One end of an in-process transport: a queue each way, and a doorbell each way.

    Before blocking on its queue a receiver rings the peer's doorbell (the number of frames it
    has sent) and polls its own for a short while with the GIL released
    (:mod:`euroqci.postprocessing._spin_kernels`): in a ping-pong such as Cascade's the reply
    then arrives without a thread wake-up or a GIL hand-over. A peer that does not answer
    within the poll budget (about 0.25 ms) is waited for on the queue as usual.
    """

    #: Polls of the doorbell before blocking: about 0.25 ms on the development machine
    #: (an atomic load each). It must outlast a late Cascade round of the peer (50-80 us of
    #: work and messages): with 200,000 polls (54 us) a party often gave up just before the
    #: reply and paid for a wake-up, and Cascade took 0.28-0.35 s instead of 0.23 s for
    #: 3.3e6 bits.
    POLLS = 1_000_000

    def __init__(
        self,
        inbox: queue.SimpleQueue[bytes | bytearray],
        outbox: queue.SimpleQueue[bytes | bytearray],
        *,
        bells: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._sent = 0
        self._received = 0
        self._wait: Any = None
        # Polling only pays when the peer runs on another core at the same time.
        if bells is not None and accelerated() and _usable_cpus() >= 2:
            from euroqci.postprocessing._spin_kernels import ring_then_wait

            self._wait = ring_then_wait
        self._in_bell: np.ndarray | None = bells[0] if bells is not None else None
        self._out_bell: np.ndarray | None = bells[1] if bells is not None else None
        self.tamper: Any = None  # test hook: a function bytes -> bytes applied to sent frames

    def send_bytes(self, frame: bytes | bytearray) -> None:
        # The sender never touches a frame again once sent, so the peer gets it without a copy.
        self._outbox.put(self.tamper(bytes(frame)) if self.tamper else frame)
        self._sent += 1

    def recv_bytes(self) -> bytes | bytearray:
        if self._wait is not None:
            # Always ring (the peer may be polling for it); poll only when nothing is queued.
            polls = self.POLLS if self._inbox.empty() else 0
            self._wait(self._out_bell, self._sent, self._in_bell, self._received, polls)
        frame = self._inbox.get(timeout=600)
        self._received += 1
        return frame

    def close(self) -> None:
        pass


class TcpTransport:
    """One end of a TCP connection carrying length-prefixed frames.

    ``delay_s`` emulates a longer link (half the round-trip time): each frame is written to
    the socket ``delay_s`` after it was sent, by a writer thread, so that frames sent in a row
    are in flight together as on a real link (the sender is never held up).
    """

    def __init__(self, sock: socket.socket, *, delay_s: float = 0.0) -> None:
        self._sock = sock
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.delay_s = delay_s
        self._outbox: queue.SimpleQueue[tuple[float, bytes] | None] | None = None
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None
        if delay_s > 0:
            self._outbox = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._write_later, daemon=True)
            self._writer.start()

    def _write_later(self) -> None:
        assert self._outbox is not None
        while (item := self._outbox.get()) is not None:
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self._sock.sendall(data)
            except OSError as exc:  # reported to the next send
                self._error = exc
                return

    def send_bytes(self, frame: bytes | bytearray) -> None:
        data = _LEN.pack(len(frame)) + frame
        if self._outbox is None:
            self._sock.sendall(data)
            return
        if self._error is not None:
            raise ProtocolAbort("the classical channel failed", reason="peer closed")
        self._outbox.put((time.monotonic() + self.delay_s, data))

    def _read(self, n: int) -> bytearray:
        chunks = bytearray()
        while len(chunks) < n:
            got = self._sock.recv(min(n - len(chunks), 1 << 22))
            if not got:
                raise ProtocolAbort("the peer closed the classical channel", reason="peer closed")
            chunks += got
        return chunks

    def recv_bytes(self) -> bytes | bytearray:
        (n,) = _LEN.unpack(self._read(4))
        return self._read(n)

    def close(self) -> None:
        if self._outbox is not None and self._writer is not None:
            self._outbox.put(None)  # frames already sent still go out
            self._writer.join(timeout=10)
        self._sock.close()


class ClassicalChannel:
    """One party's end of the authenticated classical channel.

    Counts messages, bytes and round trips; ``authentication_key_used_bits`` is the pool
    consumption of this end.
    """

    def __init__(self, transport: Transport, authenticator: WegmanCarter) -> None:
        self.transport = transport
        self.auth = authenticator
        self._sent = 0
        self._received = 0
        self.bytes_sent = 0
        self.messages_sent = 0
        self.tags_sent = 0
        # (sent, received) transcripts while authentication is deferred, else None.
        self._deferred: tuple[TranscriptHash, TranscriptHash] | None = None

    def __repr__(self) -> str:
        return f"ClassicalChannel(sending={self.auth.sending.value}, sent={self.messages_sent})"

    def send(self, kind: str, **fields: Any) -> None:
        """Authenticate and send one message (its tag deferred inside a deferred block)."""
        if self._deferred is None:
            self._send(kind, fields, transcript=None)
        else:
            body = encode(kind, fields, prefix=_HDR.pack(self._sent, 0))
            self._deferred[0].absorb(body)
            self._emit(body)

    def _send(
        self, kind: str, fields: dict[str, Any], *, transcript: TranscriptHash | None
    ) -> None:
        body = encode(kind, fields, prefix=_HDR.pack(self._sent, _TAGGED))
        self.tags_sent += 1
        body += self.auth.tag(body, transcript=transcript)
        self._emit(body)

    def _emit(self, frame: bytes | bytearray) -> None:
        self._sent += 1
        self.bytes_sent += len(frame)
        self.messages_sent += 1
        self.transport.send_bytes(frame)

    def recv(self, expected: str | None = None) -> Message:
        """Receive, authenticate and decode one message; check its kind if ``expected``.

        Inside a deferred block an untagged message is accepted here and authenticated with
        the transcript when the block ends; outside, every message must carry a valid tag.
        """
        frame = self.transport.recv_bytes()
        flags = _HDR.unpack_from(frame, 0)[1] if len(frame) >= _HDR.size else 0
        body: bytes | bytearray | memoryview
        if self._deferred is not None and flags == 0:
            body = frame
            self._deferred[1].absorb(body)
        else:
            body = self._verified(frame, transcript=None)
        return self._open(body, expected)

    def _verified(
        self, frame: bytes | bytearray, *, transcript: TranscriptHash | None
    ) -> memoryview:
        view = memoryview(frame)  # no copy of a large body
        body, tag = view[:-TAG_BYTES], bytes(view[-TAG_BYTES:])
        if len(body) < _HDR.size or _HDR.unpack_from(body, 0)[1] != _TAGGED:
            raise ProtocolAbort(
                "message authentication failed: a message came without its tag",
                reason="authentication failed",
            )
        self.auth.verify(body, tag, transcript=transcript)
        return body

    def _open(self, body: bytes | bytearray | memoryview, expected: str | None) -> Message:
        if len(body) < _HDR.size:
            raise ProtocolAbort("malformed message on the classical channel", reason="protocol")
        (seq, _) = _HDR.unpack_from(body, 0)
        if seq != self._received:
            raise ProtocolAbort("message out of order on the classical channel", reason="replay")
        self._received += 1
        try:
            msg = decode(memoryview(body)[_HDR.size :])
        except (ValueError, TypeError, KeyError, struct.error) as exc:
            # Only reachable for a message whose tag is still deferred: the transcript check
            # would reject it; stop here, before acting on it.
            raise ProtocolAbort(
                "malformed message on the classical channel", reason="protocol"
            ) from exc
        if msg.kind == "abort":
            raise ProtocolAbort(
                f"the peer aborted: {msg['reason']}", reason=f"peer: {msg['reason']}"
            )
        if expected is not None and msg.kind != expected:
            raise ProtocolAbort(
                f"unexpected message {msg.kind!r}, expected {expected!r}", reason="protocol"
            )
        return msg

    @contextmanager
    def deferred_authentication(self) -> Iterator[None]:
        """A block of messages authenticated by one tag per direction at its end.

        Both parties must enter the block at the same point of the protocol. On leaving it
        normally, each sends ``transcript-end`` tagged over everything it sent in the block
        and checks the peer's over everything it received (:class:`ProtocolAbort` with reason
        ``authentication failed`` if any message was altered). Messages received inside the
        block must not be trusted for anything irreversible before the block has ended.
        """
        if self._deferred is not None:
            raise RuntimeError("ClassicalChannel.deferred_authentication: already deferred")
        sent = self.auth.transcript(self.auth.sending)
        received = self.auth.transcript(self.auth.receiving)
        self._deferred = (sent, received)
        try:
            yield
        finally:
            self._deferred = None
        self._send("transcript-end", {"messages": sent.messages}, transcript=sent)
        n_received = received.messages
        frame = self.transport.recv_bytes()
        msg = self._open(self._verified(frame, transcript=received), "transcript-end")
        if int(msg["messages"]) != n_received:
            raise ProtocolAbort("the transcripts disagree on the message count", reason="protocol")

    def close(self) -> None:
        self.transport.close()


def _authenticators(secret: bytes) -> tuple[WegmanCarter, WegmanCarter]:
    # Each party holds its own copy of the pre-shared secret.
    alice = WegmanCarter(KeyPool(secret), sending=Direction.ALICE_TO_BOB)
    bob = WegmanCarter(KeyPool(secret), sending=Direction.BOB_TO_ALICE)
    return alice, bob


def memory_channel_pair(secret: bytes) -> tuple[ClassicalChannel, ClassicalChannel]:
    """Alice's and Bob's ends of an in-memory channel, each with its own copy of ``secret``."""
    a2b: queue.SimpleQueue[bytes | bytearray] = queue.SimpleQueue()
    b2a: queue.SimpleQueue[bytes | bytearray] = queue.SimpleQueue()
    bell_a = np.zeros(1, np.int64)  # frames Bob has sent to Alice, as Bob last rang it
    bell_b = np.zeros(1, np.int64)
    auth_a, auth_b = _authenticators(secret)
    return (
        ClassicalChannel(MemoryTransport(b2a, a2b, bells=(bell_a, bell_b)), auth_a),
        ClassicalChannel(MemoryTransport(a2b, b2a, bells=(bell_b, bell_a)), auth_b),
    )


def tcp_channel_pair(
    secret: bytes, *, round_trip_delay_s: float = 0.0
) -> tuple[ClassicalChannel, ClassicalChannel]:
    """Alice's and Bob's ends of a real TCP connection on 127.0.0.1 (an ephemeral port)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = server.accept()
        accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client = socket.create_connection(("127.0.0.1", port))
    thread.join(timeout=10)
    server.close()
    if not accepted:
        raise ProtocolAbort("could not open the loopback TCP channel", reason="tcp")
    auth_a, auth_b = _authenticators(secret)
    delay = round_trip_delay_s / 2
    return (
        ClassicalChannel(TcpTransport(accepted[0], delay_s=delay), auth_a),
        ClassicalChannel(TcpTransport(client, delay_s=delay), auth_b),
    )
