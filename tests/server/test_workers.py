"""The worker pool that runs the blocking part of the async key routes."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from euroqci.server.workers import WorkerPool


def test_results_exceptions_and_thread_bound() -> None:
    pool = WorkerPool(max_threads=3, name="t")
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def call(i: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        if i == 5:
            raise ValueError("five")
        return i * i

    async def main() -> list[object]:
        return await asyncio.gather(
            *(pool.run(lambda i=i: call(i)) for i in range(12)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert [r for i, r in enumerate(results) if i != 5] == [i * i for i in range(12) if i != 5]
    assert isinstance(results[5], ValueError)
    assert running[1] == 3  # never more threads than max_threads, and all of them used
    assert len(pool._threads) == 3
    pool.close()
    assert not any(t.is_alive() for t in pool._threads)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(pool.run(lambda: None))


def test_threads_are_reused_when_calls_come_one_at_a_time() -> None:
    pool = WorkerPool(max_threads=8)

    async def main() -> list[str]:
        return [await pool.run(lambda: threading.current_thread().name) for _ in range(20)]

    names = asyncio.run(main())
    assert len(set(names)) == 1 and len(pool._threads) == 1
    pool.close()


def test_a_cancelled_request_does_not_stop_its_call() -> None:
    pool = WorkerPool(max_threads=1)
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.05)
        finished.set()

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert finished.wait(5)  # the call ran to its end (a committed delivery stays delivered)
    pool.close()


def test_max_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_threads"):
        WorkerPool(max_threads=0)
