"""SQLite group commit: concurrent transactions share one durable commit, each stays atomic."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from euroqci.errors import KeyNotFound, KeyStoreError, SAENotAuthorized
from euroqci.kms.sqlstore import SQLiteKeyStore
from euroqci.kms.store import DeliverableKey


def _key(key_id: str, slaves: tuple[str, ...] = ("S",)) -> DeliverableKey:
    return DeliverableKey(key_id, key_id.encode().ljust(32, b"."), "M", slaves)


def _grouped(store: SQLiteKeyStore, calls: list[Callable[[], Any]]) -> tuple[list[Any], int]:
    """Run ``calls`` from threads while a leader holds the store, so that all of them queue up
    and run as one group; return each call's result or exception, and the number of groups
    committed meanwhile (the holder's and, unless it failed, the calls' group)."""
    release, started = threading.Event(), threading.Event()

    def hold(cur: Any) -> None:
        started.set()
        release.wait(10)

    leader = threading.Thread(target=store._transact, args=(hold,))
    leader.start()
    assert started.wait(10)
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(store._queued) < len(calls) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(store._queued) == len(calls)
    groups = store.groups_committed
    release.set()
    for t in [leader, *threads]:
        t.join(10)
    return results, store.groups_committed - groups


def test_queued_transactions_commit_as_one_group_and_fail_alone(tmp_path: Path) -> None:
    store = SQLiteKeyStore(tmp_path / "kme.db")
    store.put_keys([_key(f"k{i}") for i in range(6)])
    calls: list[Callable[[], Any]] = [
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["k0", "k1"]),
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["k2", "missing"]),
        lambda: store.take_keys(master_sae_id="M", sae_id="C", key_ids=["k3"]),
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["k0"]),  # k0 again
        lambda: store.put_keys([_key("k1")]),  # k1 was deleted earlier in the same group
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["k4"]),
    ]
    results, groups = _grouped(store, calls)
    assert groups == 2  # the holder's, then one for all the calls
    assert [k for k, _ in results[0]] == ["k0", "k1"]
    assert isinstance(results[1], KeyNotFound)
    assert isinstance(results[2], SAENotAuthorized)
    assert isinstance(results[3], KeyNotFound)  # delivered once, earlier in the group
    assert results[4] is None
    assert results[5] == [("k4", _key("k4").material)]
    store.close()
    # What the group committed is on disk; what failed left nothing (k2 and k3 still held).
    reopened = SQLiteKeyStore(tmp_path / "kme.db")
    held = {r[0] for r in sqlite3.connect(tmp_path / "kme.db").execute("SELECT key_id FROM keys")}
    assert held == {"k1", "k2", "k3", "k5"}
    assert reopened.take_keys(master_sae_id="M", sae_id="S", key_ids=["k2"])[0][0] == "k2"
    reopened.close()


def test_a_group_whose_transaction_breaks_delivers_nothing(tmp_path: Path) -> None:
    store = SQLiteKeyStore(tmp_path / "kme.db")
    store.put_keys([_key("a"), _key("b")])

    def break_transaction(cur: Any) -> None:
        cur.execute("ROLLBACK")  # as SQLite does itself on some I/O errors

    calls: list[Callable[[], Any]] = [
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["a"]),
        lambda: store._transact(break_transaction),
        lambda: store.take_keys(master_sae_id="M", sae_id="S", key_ids=["b"]),
    ]
    results, groups = _grouped(store, calls)
    assert groups == 1  # the holder's only: the calls' group was rolled back
    assert all(isinstance(r, KeyStoreError) for r in results)
    assert store.count_keys() == 2  # neither key was delivered
    assert [k for k, _ in store.take_keys(master_sae_id="M", sae_id="S", key_ids=["a", "b"])] == [
        "a",
        "b",
    ]
    store.close()


@pytest.mark.parametrize("n_threads", [16])
def test_concurrent_delivery_never_twice(tmp_path: Path, n_threads: int) -> None:
    store = SQLiteKeyStore(tmp_path / "kme.db")
    ids = [f"k{i}" for i in range(200)]
    store.put_keys([_key(k, ("S1", "S2")) for k in ids])
    got: dict[str, list[str]] = {"S1": [], "S2": []}
    lock = threading.Lock()

    def slave(sae: str, offset: int) -> None:
        for i in range(offset, len(ids), 4):  # two threads per slave ask for the same keys
            for key_id in (ids[i], ids[(i + 2) % len(ids)]):
                try:
                    taken = store.take_keys(master_sae_id="M", sae_id=sae, key_ids=[key_id])
                except KeyNotFound:
                    continue
                with lock:
                    got[sae].extend(k for k, _ in taken)

    threads = [
        threading.Thread(target=slave, args=(sae, offset))
        for sae in ("S1", "S2")
        for offset in range(n_threads // 2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sae in ("S1", "S2"):
        assert sorted(got[sae]) == sorted(ids)  # every key once to each slave
    assert store.count_keys() == 0
    assert store.transactions_committed >= store.groups_committed
    store.close()


def test_reads_do_not_wait_for_writers(tmp_path: Path) -> None:
    store = SQLiteKeyStore(tmp_path / "kme.db")
    store.put_keys([_key("a")])
    release, started = threading.Event(), threading.Event()

    def hold(cur: Any) -> None:  # a write transaction that takes its time
        cur.execute("DELETE FROM keys")
        started.set()
        release.wait(10)

    writer = threading.Thread(target=store._transact, args=(hold,))
    writer.start()
    assert started.wait(10)
    seen: list[object] = []
    reader = threading.Thread(
        target=lambda: seen.extend([store.count_keys(), store.pool_status("A~B"), store.outbox()])
    )
    reader.start()
    reader.join(5)
    finished_while_held = not reader.is_alive()
    release.set()
    writer.join(10)
    reader.join(10)
    assert finished_while_held  # status and metrics never hold up deliveries
    assert seen[0] == 1  # the last committed state: the writer had not committed yet
    assert store.count_keys() == 0
    store.close()
