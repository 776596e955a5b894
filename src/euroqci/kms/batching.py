"""Natural batching of relays: concurrent requests of the same shape share one relay message.

When several masters' requests for the same slave KME, master SAE, slaves and key size are in
flight at once, the first becomes the leader and sends its keys; requests arriving meanwhile
queue up, and when the leader is done the first of them leads the next message with all of them.
No request waits for a timer: under light load every message carries one request, under heavy
load one message carries many, which saves an HTTPS round trip and a durable commit per hop for
each request folded in. A message carries all its requests' keys or none: if it fails, every
request in it fails (and nothing of it is delivered).
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
    """

    def __init__(self, *, max_keys: int = 1024) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._queues: dict[Hashable, list[_Job]] = {}
        self._busy: set[Hashable] = set()
        self.messages_sent = 0

    def submit(
        self, shape: Hashable, materials: Sequence[bytes], key_ids: Sequence[str], send: SendBatch
    ) -> None:
        """Relay ``materials`` under ``key_ids``; return when they were delivered, or raise what
        the message carrying them raised. ``send`` sends one message of concatenated keys."""
        job = _Job(materials, key_ids)
        with self._lock:
            self._queues.setdefault(shape, []).append(job)
            lead = shape not in self._busy
            if lead:
                self._busy.add(shape)
        if not lead:
            job.done.wait()
            if not job.lead:
                if job.error is not None:
                    raise job.error
                return
        self._lead(shape, send)
        if job.error is not None:
            raise job.error

    def _take(self, shape: Hashable) -> list[_Job]:
        queue = self._queues.get(shape, [])
        jobs: list[_Job] = []
        n_keys = 0
        while queue and (not jobs or n_keys + len(queue[0].key_ids) <= self.max_keys):
            job = queue.pop(0)
            jobs.append(job)
            n_keys += len(job.key_ids)
        if not queue:
            self._queues.pop(shape, None)
        return jobs

    def _lead(self, shape: Hashable, send: SendBatch) -> None:
        """Send one message with the queued jobs (the leader's own is first), then hand over."""
        with self._lock:
            jobs = self._take(shape)
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
                    queue[0].lead = True
                    queue[0].done.set()
                else:
                    self._busy.discard(shape)
            for job in jobs[1:]:
                job.done.set()
