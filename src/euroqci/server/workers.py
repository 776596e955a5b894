"""Worker threads for the blocking part of a request (durable commits, relays to other KMEs).

The hot ETSI 014 and relay routes are ``async``: FastAPI validates and answers on the event
loop, and only the key manager call, which waits for the disk and for neighbouring KMEs, runs
on a worker thread of this pool. FastAPI's own route for ``def`` endpoints (anyio's
``to_thread``) does the same job, but per call it takes a capacity-limiter token, opens a
cancel scope and hands the call over through a ``queue.Queue`` (lock and condition variable);
measured under load (benchmarks/kme_load.py, py-spy) that hand-over was about a fifth of the
KME's Python time. This pool hands over through a ``queue.SimpleQueue`` (one C call) and returns
through ``loop.call_soon_threadsafe``. Each KME app has its own pool, so KMEs served by one
process (``serve_many``) cannot take each other's threads while they wait for each other.

A call that started always runs to its end, even if the waiting request is cancelled: a key
that was committed as delivered stays delivered (ETSI 014 delivers at most once).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WorkerPool"]

T = TypeVar("T")

_Item = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class WorkerPool:
    """Up to ``max_threads`` daemon threads, started when needed, that run blocking calls for
    coroutines (see the module docstring)."""

    def __init__(self, *, max_threads: int, name: str = "kme-worker") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self.name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._backlog = 0  # calls queued and not yet taken by a thread
        self._free = 0  # threads waiting for a call, or started and about to
        self._closed = False

    def __repr__(self) -> str:
        return f"WorkerPool(name={self.name!r}, threads={len(self._threads)})"

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call()`` on a worker thread and return its result (or raise its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            self._backlog += 1
            if self._backlog > self._free and len(self._threads) < self.max_threads:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                self._free += 1
                thread.start()
            # Else a free thread takes it, or every thread is busy and the call waits in the
            # queue for the first one done.
        self._queue.put((call, loop, future))
        return await future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._lock:
                self._free -= 1
                self._backlog -= 1
            call, loop, future = item
            try:
                result = call()
            except BaseException as exc:
                outcome: tuple[bool, Any] = (False, exc)
            else:
                outcome = (True, result)
            del item, call
            with self._lock:  # free before the answer goes out: the next call may follow it
                self._free += 1
            with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            del future, outcome

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Stop the threads once the calls already queued are done."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout=timeout_s)
