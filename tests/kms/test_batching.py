"""Natural batching of concurrent relays of the same shape."""

from __future__ import annotations

import threading
import time

import pytest

from euroqci.errors import RelayError
from euroqci.kms.batching import RelayBatcher


def _run(batcher: RelayBatcher, shapes: list[str], send: object) -> list[BaseException | None]:
    results: list[BaseException | None] = [None] * len(shapes)
    start = threading.Barrier(len(shapes))

    def worker(i: int) -> None:
        start.wait()  # all submit at once, as concurrent requests do
        try:
            batcher.submit(shapes[i], [bytes([i])], [f"k{i}"], send)  # type: ignore[arg-type]
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(shapes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_requests_share_messages_and_all_arrive() -> None:
    batcher = RelayBatcher()
    messages: list[tuple[list[bytes], list[str]]] = []

    def send(materials: list[bytes], key_ids: list[str]) -> None:
        time.sleep(0.05)  # a relay in flight: others queue up meanwhile
        messages.append((materials, key_ids))

    results = _run(batcher, ["S"] * 16, send)
    assert results == [None] * 16
    sent = sorted(k for _, ids in messages for k in ids)
    assert sent == sorted(f"k{i}" for i in range(16))  # every key once
    assert 1 <= len(messages) < 16 == sum(len(ids) for _, ids in messages)
    for materials, ids in messages:  # keys and IDs stay paired
        assert [bytes([int(k[1:])]) for k in ids] == materials


def test_shapes_never_mix_and_max_keys_bounds_a_message() -> None:
    batcher = RelayBatcher(max_keys=3)
    messages: list[list[str]] = []

    def send(materials: list[bytes], key_ids: list[str]) -> None:
        time.sleep(0.01)
        messages.append(key_ids)

    results = _run(batcher, ["A", "B"] * 8, send)
    assert results == [None] * 16
    for ids in messages:
        assert len(ids) <= 3
        assert len({int(k[1:]) % 2 for k in ids}) == 1  # shape A: even i, shape B: odd i


def test_a_failed_message_fails_every_request_in_it() -> None:
    batcher = RelayBatcher()
    calls = []

    def send(materials: list[bytes], key_ids: list[str]) -> None:
        calls.append(key_ids)
        time.sleep(0.02)
        raise RelayError("peer down")

    results = _run(batcher, ["S"] * 8, send)
    assert all(isinstance(r, RelayError) for r in results)
    assert sum(len(ids) for ids in calls) == 8
    with pytest.raises(RelayError):  # the batcher is usable afterwards
        batcher.submit("S", [b"x"], ["x"], send)


@pytest.mark.parametrize("max_in_flight", [1, 2, 3])
def test_at_most_max_in_flight_messages_at_once_and_every_key_once(max_in_flight: int) -> None:
    batcher = RelayBatcher(max_in_flight=max_in_flight, max_keys=4)
    lock = threading.Lock()
    sending = [0, 0]  # now, most seen
    sent: list[str] = []

    def send(materials: list[bytes], key_ids: list[str]) -> None:
        with lock:
            sending[0] += 1
            sending[1] = max(sending)
        time.sleep(0.005)
        with lock:
            sending[0] -= 1
            sent.extend(key_ids)
        if "k7" in key_ids:
            raise RelayError("this message failed")

    results = _run(batcher, ["S"] * 48, send)
    assert sorted(sent) == sorted(f"k{i}" for i in range(48))  # each key in one message
    assert 1 <= sending[1] <= max_in_flight
    assert max_in_flight == 1 or sending[1] > 1  # the pipeline is used
    failed = {i for i, r in enumerate(results) if r is not None}
    assert 7 in failed and all(isinstance(results[i], RelayError) for i in failed)
    assert batcher._leaders == {} and batcher._queues == {}  # nothing left behind


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        RelayBatcher(max_in_flight=0)
