"""Natural batching of relays: concurrent requests of the same shape share one relay message.

When several masters' requests for the same slave KME, master SAE, slaves and key size are in
flight at once, the first becomes the leader and sends its keys; requests arriving meanwhile
queue up, and when the leader is done the first of them leads the next message with all of them.
Up to ``max_in_flight`` messages of one shape are sent at once, a pipeline: while one message
waits for the peer's answer the next one is made and sent, so that a request that arrives
during a round trip does not wait for all of it. No request waits for a timer: under light
load every message carries one request, under heavy load one message carries many, which saves
an HTTPS round trip and a durable commit per hop for each request folded in. A message carries
all its requests' keys or none: if it fails, every request in it fails (and nothing of it is
delivered).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

__all__ = ["RelayBatcher"]

SendBatch = Callable[[list[bytes], list[str]], None]


@dataclass(eq=False)
class _Job:
    materials: Sequence[bytes] = field(repr=False)
    key_ids: Sequence[str]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    error: BaseException | None = None


class RelayBatcher:
    """Folds concurrent relays of the same shape into one message (see the module docstring).

    ``max_keys`` bounds the keys of one message; requests beyond it wait for the next one.
    ``max_in_flight`` bounds the messages of one shape being sent at once.
    """

    def __init__(self, *, max_keys: int = 1024, max_in_flight: int = 2) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_keys = max_keys
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        # Requests waiting for a message, by shape (a leader's own request is never queued).
        self._queues: dict[Hashable, list[_Job]] = {}
        # Leaders of each shape: threads sending a message or designated to send the next one.
        self._leaders: dict[Hashable, int] = {}
        self.messages_sent = 0

    def submit(
        self, shape: Hashable, materials: Sequence[bytes], key_ids: Sequence[str], send: SendBatch
    ) -> None:
        """Relay ``materials`` under ``key_ids``; return when they were delivered, or raise what
        the message carrying them raised. ``send`` sends one message of concatenated keys."""
        job = _Job(materials, key_ids)
        with self._lock:
            job.lead = self._leaders.get(shape, 0) < self.max_in_flight
            if job.lead:
                self._leaders[shape] = self._leaders.get(shape, 0) + 1
            else:
                self._queues.setdefault(shape, []).append(job)
        if not job.lead:
            job.done.wait()
            if not job.lead:  # a leader sent it
                if job.error is not None:
                    raise job.error
                return
        self._lead(job, shape, send)
        if job.error is not None:
            raise job.error

    def _take(self, shape: Hashable, n_keys: int) -> list[_Job]:
        """Queued jobs, oldest first, that fit beside ``n_keys`` keys in one message."""
        queue = self._queues.get(shape, [])
        jobs: list[_Job] = []
        while queue and n_keys + len(queue[0].key_ids) <= self.max_keys:
            job = queue.pop(0)
            jobs.append(job)
            n_keys += len(job.key_ids)
        if not queue:
            self._queues.pop(shape, None)
        return jobs

    def _lead(self, own: _Job, shape: Hashable, send: SendBatch) -> None:
        """Send one message: the leader's own job first, then queued ones; then hand over the
        leader's place to the oldest job still queued, or give it up."""
        with self._lock:
            jobs = [own, *self._take(shape, len(own.key_ids))]
        try:
            send(
                [m for job in jobs for m in job.materials],
                [k for job in jobs for k in job.key_ids],
            )
        except BaseException as exc:
            for job in jobs:
                job.error = exc
        finally:
            with self._lock:
                self.messages_sent += 1
                queue = self._queues.get(shape)
                if queue:
                    successor = queue.pop(0)
                    if not queue:
                        self._queues.pop(shape, None)
                    successor.lead = True
                    successor.done.set()
                else:
                    left = self._leaders[shape] - 1
                    if left:
                        self._leaders[shape] = left
                    else:
                        del self._leaders[shape]
            for job in jobs[1:]:
                job.done.set()
