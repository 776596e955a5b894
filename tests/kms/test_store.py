"""One suite for every key store: link-key pools, delivery rules, atomicity, migration."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from euroqci.errors import (
    ConfigurationError,
    InsufficientKeyMaterial,
    KeyNotFound,
    KeyStoreError,
    SAENotAuthorized,
)
from euroqci.kms.store import DeliverableKey, KeyStore, LinkKey, open_store


def _keys(n: int, *, outbound: bool = True, prefix: str = "k", size: int = 32) -> list[LinkKey]:
    return [LinkKey(f"{prefix}{i}", bytes([i % 256]) * size, outbound) for i in range(n)]


def test_pool_keeps_at_most_max_and_ignores_held_ids(store: KeyStore) -> None:
    assert store.add_link_keys("A~B", _keys(5), max_pool_keys=3) == 3
    assert store.add_link_keys("A~B", _keys(5), max_pool_keys=10) == 2  # k0..k2 already held
    status = store.pool_status("A~B")
    assert (status.outbound_keys, status.outbound_bytes, status.inbound_keys) == (5, 160, 0)
    assert store.pool_status("other").total_keys == 0


def test_take_link_keys_is_fifo_outbound_only_and_deletes(store: KeyStore) -> None:
    store.add_link_keys("A~B", _keys(2, outbound=False, prefix="in"), max_pool_keys=100)
    store.add_link_keys("A~B", _keys(4), max_pool_keys=100)
    taken = store.take_link_keys("A~B", n_bytes=40)
    assert [k.key_id for k in taken] == ["k0", "k1"]
    assert taken[1].material == bytes([1]) * 32
    assert store.pool_status("A~B").outbound_keys == 2
    with pytest.raises(InsufficientKeyMaterial):
        store.take_link_keys("A~B", n_bytes=65)
    assert store.pool_status("A~B").outbound_keys == 2  # nothing removed on failure


def test_take_named_link_keys_all_or_nothing(store: KeyStore) -> None:
    store.add_link_keys("A~B", _keys(3, outbound=False), max_pool_keys=100)
    store.add_link_keys("A~B", _keys(1, prefix="out"), max_pool_keys=100)
    with pytest.raises(KeyNotFound):
        store.take_named_link_keys("A~B", ["k0", "missing"])
    with pytest.raises(KeyNotFound):
        store.take_named_link_keys("A~B", ["out0"])  # our own outbound key: never the peer's
    assert store.pool_status("A~B").inbound_keys == 3
    got = store.take_named_link_keys("A~B", ["k2", "k0"])
    assert [k.key_id for k in got] == ["k2", "k0"]
    assert store.pool_status("A~B").inbound_keys == 1
    assert store.discard_link_keys("A~B", ["k1", "k0", "out0"]) == 2


def test_delivery_rules(store: KeyStore) -> None:
    store.put_keys([DeliverableKey("id1", b"\x01" * 32, "M", ("S1", "S2"))])
    with pytest.raises(KeyStoreError):
        store.put_keys([DeliverableKey("id1", b"\x02" * 32, "M", ("S1",))])
    with pytest.raises(SAENotAuthorized):
        store.take_keys(master_sae_id="M", sae_id="C", key_ids=["id1"])
    with pytest.raises(KeyNotFound):
        store.take_keys(master_sae_id="OTHER", sae_id="S1", key_ids=["id1"])
    assert store.take_keys(master_sae_id="M", sae_id="S1", key_ids=["id1"]) == [
        ("id1", b"\x01" * 32)
    ]
    with pytest.raises(KeyNotFound):  # once per SAE
        store.take_keys(master_sae_id="M", sae_id="S1", key_ids=["id1"])
    assert store.count_keys() == 1
    assert store.take_keys(master_sae_id="M", sae_id="S2", key_ids=["id1"])[0][0] == "id1"
    assert store.count_keys() == 0  # deleted when every named slave has it


def test_take_keys_is_all_or_nothing(store: KeyStore) -> None:
    store.put_keys([DeliverableKey("a", b"a" * 8, "M", ("S",))])
    with pytest.raises(KeyNotFound):
        store.take_keys(master_sae_id="M", sae_id="S", key_ids=["a", "b"])
    with pytest.raises(ConfigurationError):
        store.take_keys(master_sae_id="M", sae_id="S", key_ids=["a", "a"])
    assert store.take_keys(master_sae_id="M", sae_id="S", key_ids=["a"]) == [("a", b"a" * 8)]


def test_concurrent_takers_never_share_a_link_key(store: KeyStore) -> None:
    store.add_link_keys("A~B", _keys(200), max_pool_keys=1000)
    seen: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            got = store.take_link_keys("A~B", n_bytes=32)
            with lock:
                seen.extend(k.key_id for k in got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 == len(set(seen))
    assert store.pool_status("A~B").total_keys == 0


def test_repr_never_shows_material() -> None:
    key = LinkKey("k", b"\xaa\xbb" * 16)
    assert "aa" not in repr(key) and "\\x" not in repr(key)
    assert "\\x" not in repr(DeliverableKey("k", b"\xaa" * 8, "M", ("S",)))


def test_sqlite_is_wal_with_full_sync_and_survives_reopen(tmp_path: Path) -> None:
    from euroqci.kms.sqlstore import SCHEMA_VERSION, SQLiteKeyStore

    store = SQLiteKeyStore(tmp_path / "kme.db")
    store.add_link_keys("A~B", _keys(3), max_pool_keys=10)
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    again = SQLiteKeyStore(tmp_path / "kme.db")
    assert again.pool_status("A~B").outbound_keys == 3
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_sqlite_migrates_an_old_schema(tmp_path: Path) -> None:
    from euroqci.kms.sqlstore import SCHEMA_VERSION, SQLiteKeyStore

    old = SQLiteKeyStore(tmp_path / "kme.db", target_version=1)
    assert old.schema_version() == 1
    old._conn().execute(
        "INSERT INTO link_keys (link_id, key_id, material, outbound) VALUES ('L', 'k', x'00', 1)"
    )
    old.close()
    new = SQLiteKeyStore(tmp_path / "kme.db")
    assert new.schema_version() == SCHEMA_VERSION == 3
    assert new.outbox() == []
    assert new.pool_status("L").outbound_keys == 1
    columns = [r[1] for r in new._conn().execute("PRAGMA table_info(keys)")]
    assert "created_s" in columns
    new.close()


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    from euroqci.kms.sqlstore import SQLiteKeyStore

    SQLiteKeyStore(tmp_path / "kme.db").close()
    with sqlite3.connect(tmp_path / "kme.db") as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(ConfigurationError, match="newer"):
        SQLiteKeyStore(tmp_path / "kme.db")


def test_postgres_migrates_an_old_schema(postgres_dsn: str) -> None:
    from euroqci.kms.sqlstore import SCHEMA_VERSION, PostgresKeyStore

    old = PostgresKeyStore(postgres_dsn, target_version=1)
    assert old.schema_version() == 1
    old.close()
    new = PostgresKeyStore(postgres_dsn)
    assert new.schema_version() == SCHEMA_VERSION
    assert "dsn hidden" in repr(new)
    new.close()


def test_open_store_urls(tmp_path: Path) -> None:
    assert type(open_store("memory:")).__name__ == "MemoryKeyStore"
    s = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert type(s).__name__ == "SQLiteKeyStore"
    s.close()
    with pytest.raises(ConfigurationError, match="store"):
        open_store("mysql://nope")
    with pytest.raises(ConfigurationError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'x.db'}")


def test_named_link_keys_and_keys_in_one_transaction(store: KeyStore) -> None:
    from euroqci.errors import RelayError

    store.add_link_keys("A~B", _keys(4, outbound=False), max_pool_keys=100)

    def make(link_keys: list[LinkKey]) -> list[DeliverableKey]:
        return [DeliverableKey(f"id-{k.key_id}", k.material, "M", ("S",)) for k in link_keys]

    got = store.take_named_link_keys("A~B", ["k0", "k1"], make_keys=make)
    assert [k.key_id for k in got] == ["k0", "k1"] and store.count_keys() == 2

    def forged(link_keys: list[LinkKey]) -> list[DeliverableKey]:
        raise RelayError("authentication failed")

    with pytest.raises(RelayError):
        store.take_named_link_keys("A~B", ["k2"], make_keys=forged)
    # The link key was used (burnt) but nothing was stored.
    assert store.pool_status("A~B").inbound_keys == 1 and store.count_keys() == 2
    with pytest.raises(KeyNotFound):  # a missing key: nothing removed, nothing made
        store.take_named_link_keys("A~B", ["k3", "nope"], make_keys=make)
    assert store.pool_status("A~B").inbound_keys == 1 and store.count_keys() == 2


def test_expire_keys(store: KeyStore) -> None:
    store.put_keys([DeliverableKey("old", b"o" * 8, "M", ("S",))])
    assert store.expire_keys(older_than_s=3600) == []
    time.sleep(0.05)
    store.put_keys([DeliverableKey("new", b"n" * 8, "M", ("S",))])
    assert store.expire_keys(older_than_s=0.04) == ["old"]
    assert store.count_keys() == 1
    with pytest.raises(KeyNotFound):
        store.take_keys(master_sae_id="M", sae_id="S", key_ids=["old"])


def test_relay_outbox(store: KeyStore) -> None:
    store.add_link_keys("A~B", _keys(4), max_pool_keys=100)
    store.take_link_keys("A~B", n_bytes=64, outbox_id="o1")
    store.take_link_keys("A~B", n_bytes=32)
    assert store.outbox() == [("o1", "A~B", ["k0", "k1"])]
    with pytest.raises(InsufficientKeyMaterial):  # nothing recorded when nothing is taken
        store.take_link_keys("A~B", n_bytes=64, outbox_id="o2")
    store.clear_outbox(["o1", "unknown"])
    assert store.outbox() == []


def test_sqlite_store_files_are_private(tmp_path: Path) -> None:
    from euroqci.kms.sqlstore import SQLiteKeyStore

    store = SQLiteKeyStore(tmp_path / "kme.db")
    store.close()
    assert (tmp_path / "kme.db").stat().st_mode & 0o777 == 0o600
