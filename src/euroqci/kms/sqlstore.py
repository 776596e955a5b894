"""Durable key stores on SQL: SQLite (embedded default) and PostgreSQL (shared, replicated sites).

Both run the same statements (written with ``?`` placeholders; PostgreSQL gets ``%s``) and the
same versioned schema: :data:`MIGRATIONS` is applied in order at open, and the version reached is
kept in the ``schema_version`` table, so an older database is migrated in place.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, so a key
marked delivered stays delivered after a crash or power loss. Each thread has its own connection;
writers take the database lock at ``BEGIN IMMEDIATE`` so that two threads never pick the same
link key. PostgreSQL picks link keys with ``FOR UPDATE SKIP LOCKED`` and locks deliverable keys
with ``FOR UPDATE`` in the delivering transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from euroqci.errors import (
    ConfigurationError,
    InsufficientKeyMaterial,
    KeyNotFound,
    KeyStoreError,
    QKDError,
)
from euroqci.kms.store import DeliverableKey, LinkKey, MakeKeys, PoolStatus, check_take_request

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresKeyStore", "SQLiteKeyStore"]

logger = logging.getLogger(__name__)

# One entry per schema version: (SQLite statements, PostgreSQL statements). Never edit a released
# entry; append a new one.
MIGRATIONS: list[tuple[list[str], list[str]]] = [
    (
        [
            "CREATE TABLE link_keys (seq INTEGER PRIMARY KEY AUTOINCREMENT, link_id TEXT NOT NULL,"
            " key_id TEXT NOT NULL, material BLOB NOT NULL, outbound INTEGER NOT NULL,"
            " UNIQUE (link_id, key_id))",
            "CREATE INDEX link_keys_pool ON link_keys (link_id, outbound, seq)",
            "CREATE TABLE keys (key_id TEXT PRIMARY KEY, master_sae_id TEXT NOT NULL,"
            " material BLOB NOT NULL, named TEXT NOT NULL, remaining TEXT NOT NULL)",
        ],
        [
            "CREATE TABLE link_keys (seq BIGSERIAL PRIMARY KEY, link_id TEXT NOT NULL,"
            " key_id TEXT NOT NULL, material BYTEA NOT NULL, outbound BOOLEAN NOT NULL,"
            " UNIQUE (link_id, key_id))",
            "CREATE INDEX link_keys_pool ON link_keys (link_id, outbound, seq)",
            "CREATE TABLE keys (key_id TEXT PRIMARY KEY, master_sae_id TEXT NOT NULL,"
            " material BYTEA NOT NULL, named TEXT NOT NULL, remaining TEXT NOT NULL)",
        ],
    ),
    (
        # v2: when each key arrived, so operators can see (and later expire) stale keys.
        [
            "ALTER TABLE link_keys ADD COLUMN added_s REAL NOT NULL DEFAULT 0",
            "ALTER TABLE keys ADD COLUMN created_s REAL NOT NULL DEFAULT 0",
        ],
        [
            "ALTER TABLE link_keys ADD COLUMN added_s DOUBLE PRECISION NOT NULL DEFAULT 0",
            "ALTER TABLE keys ADD COLUMN created_s DOUBLE PRECISION NOT NULL DEFAULT 0",
        ],
    ),
    (
        # v3: relay outbox: link keys spent on a relay not yet acknowledged by the peer.
        [
            "CREATE TABLE relay_outbox (outbox_id TEXT PRIMARY KEY, link_id TEXT NOT NULL,"
            " link_key_ids TEXT NOT NULL, created_s REAL NOT NULL)",
        ],
        [
            "CREATE TABLE relay_outbox (outbox_id TEXT PRIMARY KEY, link_id TEXT NOT NULL,"
            " link_key_ids TEXT NOT NULL, created_s DOUBLE PRECISION NOT NULL)",
        ],
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

# Link keys are read in pages while a write transaction holds the pool.
_PAGE = 64

T = TypeVar("T")


class _SQLKeyStore:
    """The statements both databases share; subclasses open connections and transactions."""

    _postgres = False

    def __init__(self, *, target_version: int = SCHEMA_VERSION) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._migrate(target_version)

    # -- plumbing -------------------------------------------------------------------------------
    def _open(self) -> Any:
        raise NotImplementedError

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _txn(self) -> Iterator[Any]:
        raise NotImplementedError
        yield  # pragma: no cover

    def _transact(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` in one transaction and return its result once committed."""
        with self._txn() as cur:
            return work(cur)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read-only statement (a consistent snapshot)."""
        with self._txn() as cur:
            return list(self._exec(cur, statement, params).fetchall())

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._postgres else statement

    def _exec(self, cur: Any, statement: str, params: Sequence[Any] = ()) -> Any:
        try:
            cur.execute(self._sql(statement), tuple(params))
        except KeyStoreError:
            raise
        except Exception as exc:  # driver errors become the one store error, without parameters
            raise KeyStoreError(f"key data access error: {type(exc).__name__}") from None
        return cur

    def _migrate(self, target_version: int) -> None:
        with self._txn() as cur:
            self._exec(cur, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._exec(cur, "SELECT version FROM schema_version").fetchone()
            version = 0 if row is None else int(row[0])
            if row is None:
                self._exec(cur, "INSERT INTO schema_version (version) VALUES (0)")
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"store: schema version {version} is newer than this EuroQCI "
                    f"({SCHEMA_VERSION}); upgrade EuroQCI",
                    field="store",
                )
            for index in range(version, target_version):
                for statement in MIGRATIONS[index][1 if self._postgres else 0]:
                    self._exec(cur, statement)
                self._exec(cur, "UPDATE schema_version SET version = ?", (index + 1,))
                logger.info("key store schema migrated to version %d", index + 1)

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._txn() as cur:
            return int(self._exec(cur, "SELECT version FROM schema_version").fetchone()[0])

    # -- link keys ------------------------------------------------------------------------------
    def add_link_keys(self, link_id: str, keys: Sequence[LinkKey], *, max_pool_keys: int) -> int:
        now = time.time()
        with self._txn() as cur:
            held = self._exec(
                cur, "SELECT COUNT(*) FROM link_keys WHERE link_id = ?", (link_id,)
            ).fetchone()[0]
            accepted = 0
            for key in keys:
                if held + accepted >= max_pool_keys:
                    break
                conflict = " ON CONFLICT DO NOTHING" if self._postgres else ""
                verb = "INSERT" if self._postgres else "INSERT OR IGNORE"
                cur = self._exec(
                    cur,
                    f"{verb} INTO link_keys (link_id, key_id, material, outbound, added_s)"
                    f" VALUES (?, ?, ?, ?, ?){conflict}",
                    (link_id, key.key_id, key.material, bool(key.outbound), now),
                )
                accepted += max(cur.rowcount, 0)
            return accepted

    def take_link_keys(
        self, link_id: str, *, n_bytes: int, outbox_id: str | None = None
    ) -> list[LinkKey]:
        lock = " FOR UPDATE SKIP LOCKED" if self._postgres else ""

        def work(cur: Any) -> list[LinkKey]:
            chosen: list[LinkKey] = []
            total, after, page = 0, -1, 1
            while total < n_bytes:
                # Pages sized to what is still needed: with FOR UPDATE SKIP LOCKED, every row
                # read is locked, so reading more than needed would starve concurrent takers.
                rows = self._exec(
                    cur,
                    "SELECT seq, key_id, material FROM link_keys WHERE link_id = ? AND outbound = ?"
                    f" AND seq > ? ORDER BY seq LIMIT {page}{lock}",
                    (link_id, True, after),
                ).fetchall()
                if not rows:
                    raise InsufficientKeyMaterial(
                        f"link {link_id}: {total} bytes of outbound link key held, "
                        f"{n_bytes} needed; wait for the link to deliver more"
                    )
                for seq, key_id, material in rows:
                    if total >= n_bytes:
                        break
                    chosen.append(LinkKey(key_id, bytes(material), True))
                    total += len(material)
                    after = seq
                mean = max(total // len(chosen), 1)
                page = min(max(-(-(n_bytes - total) // mean), 1), _PAGE)
            self._delete_link_keys(cur, link_id, [k.key_id for k in chosen])
            if outbox_id is not None:
                self._exec(
                    cur,
                    "INSERT INTO relay_outbox (outbox_id, link_id, link_key_ids, created_s)"
                    " VALUES (?, ?, ?, ?)",
                    (outbox_id, link_id, json.dumps([k.key_id for k in chosen]), time.time()),
                )
            return chosen

        return self._transact(work)

    def outbox(self) -> list[tuple[str, str, list[str]]]:
        rows = self._query(
            "SELECT outbox_id, link_id, link_key_ids FROM relay_outbox ORDER BY created_s"
        )
        return [(o, link, json.loads(ids)) for o, link, ids in rows]

    def clear_outbox(self, outbox_ids: Sequence[str]) -> None:
        def work(cur: Any) -> None:
            for start in range(0, len(outbox_ids), 500):
                part = list(outbox_ids[start : start + 500])
                marks = ", ".join("?" * len(part))
                self._exec(cur, f"DELETE FROM relay_outbox WHERE outbox_id IN ({marks})", part)

        self._transact(work)

    def take_named_link_keys(
        self, link_id: str, key_ids: Sequence[str], *, make_keys: MakeKeys | None = None
    ) -> list[LinkKey]:
        if len(set(key_ids)) != len(key_ids):
            raise KeyNotFound(f"link {link_id}: a link key ID is named twice")
        lock = " FOR UPDATE" if self._postgres else ""
        marks = ", ".join("?" * len(key_ids))

        def work(cur: Any) -> tuple[list[LinkKey], QKDError | None]:
            # Direction is checked here, not in SQL: with "outbound = ?" in the WHERE clause
            # SQLite picks the pool index and scans the whole pool instead of the key-ID index.
            rows = self._exec(
                cur,
                f"SELECT key_id, material, outbound FROM link_keys WHERE link_id = ?"
                f" AND key_id IN ({marks}){lock}",
                (link_id, *key_ids),
            ).fetchall()
            found = {key_id: bytes(material) for key_id, material, out in rows if not out}
            if len(found) != len(key_ids):
                raise KeyNotFound(f"link {link_id}: a named inbound link key is not held")
            self._delete_link_keys(cur, link_id, key_ids)
            taken = [LinkKey(k, found[k], False) for k in key_ids]
            if make_keys is not None:
                try:
                    keys = make_keys(taken)
                except QKDError as exc:
                    return taken, exc  # the link keys were used: their removal is committed
                self._insert_keys(cur, keys)
            return taken, None

        taken, failure = self._transact(work)
        if failure is not None:
            raise failure
        return taken

    def _delete_link_keys(self, cur: Any, link_id: str, key_ids: Sequence[str]) -> int:
        deleted = 0
        for start in range(0, len(key_ids), 500):
            part = key_ids[start : start + 500]
            marks = ", ".join("?" * len(part))
            cur = self._exec(
                cur,
                f"DELETE FROM link_keys WHERE link_id = ? AND key_id IN ({marks})",
                (link_id, *part),
            )
            deleted += max(cur.rowcount, 0)
        return deleted

    def discard_link_keys(self, link_id: str, key_ids: Sequence[str]) -> int:
        return self._transact(lambda cur: self._delete_link_keys(cur, link_id, list(key_ids)))

    def pool_status(self, link_id: str) -> PoolStatus:
        rows = self._query(
            "SELECT outbound, COUNT(*), COALESCE(SUM(LENGTH(material)), 0) FROM link_keys"
            " WHERE link_id = ? GROUP BY outbound",
            (link_id,),
        )
        by_dir = {bool(o): (int(n), int(b)) for o, n, b in rows}
        out, inb = by_dir.get(True, (0, 0)), by_dir.get(False, (0, 0))
        return PoolStatus(link_id, out[0], out[1], inb[0], inb[1])

    # -- deliverable keys -----------------------------------------------------------------------
    def put_keys(self, keys: Sequence[DeliverableKey]) -> None:
        self._transact(lambda cur: self._insert_keys(cur, keys))

    def _insert_keys(self, cur: Any, keys: Sequence[DeliverableKey]) -> None:
        now = time.time()
        if keys:
            rows = []
            for k in keys:
                recipients = json.dumps(list(k.recipients))
                rows.append((k.key_id, k.master_sae_id, k.material, recipients, recipients, now))
            try:
                cur.executemany(
                    self._sql(
                        "INSERT INTO keys (key_id, master_sae_id, material, named, remaining,"
                        " created_s) VALUES (?, ?, ?, ?, ?, ?)"
                    ),
                    rows,
                )
            except Exception as exc:  # driver errors become the one store error
                raise KeyStoreError(f"key data access error: {type(exc).__name__}") from None

    def take_keys(
        self, *, master_sae_id: str, sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        lock = " FOR UPDATE" if self._postgres else ""
        marks = ", ".join("?" * len(key_ids))

        def work(cur: Any) -> list[tuple[str, bytes]]:
            found = self._exec(
                cur,
                f"SELECT key_id, master_sae_id, material, named, remaining FROM keys"
                f" WHERE key_id IN ({marks}) ORDER BY key_id{lock}",
                tuple(key_ids),
            ).fetchall()
            rows = {r[0]: (r[1], tuple(json.loads(r[3])), tuple(json.loads(r[4]))) for r in found}
            check_take_request(rows, master_sae_id=master_sae_id, sae_id=sae_id, key_ids=key_ids)
            material = {r[0]: bytes(r[2]) for r in found}
            updates, deletes = [], []
            for key_id in key_ids:
                left = [s for s in rows[key_id][2] if s != sae_id]
                if left:
                    updates.append((json.dumps(left), key_id))
                else:
                    deletes.append(key_id)
            for update in updates:  # multicast keys only: a slave is still to fetch them
                self._exec(cur, "UPDATE keys SET remaining = ? WHERE key_id = ?", update)
            if deletes:  # at most max_keys_per_request IDs: one statement
                places = ", ".join("?" * len(deletes))
                self._exec(cur, f"DELETE FROM keys WHERE key_id IN ({places})", deletes)
            return [(k, material[k]) for k in key_ids]

        return self._transact(work)

    def count_keys(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM keys")[0][0])

    def expire_keys(self, *, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        with self._txn() as cur:
            rows = self._exec(
                cur, "SELECT key_id FROM keys WHERE created_s < ?", (cutoff,)
            ).fetchall()
            self._exec(cur, "DELETE FROM keys WHERE created_s < ?", (cutoff,))
            return [r[0] for r in rows]

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._local = threading.local()


@dataclass(eq=False)
class _Work:
    """One caller's transaction body waiting for a group commit."""

    work: Callable[[Any], Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    ok: bool = False
    value: Any = None


class SQLiteKeyStore(_SQLKeyStore):
    """A durable key store in one SQLite file (WAL mode, ``synchronous=FULL``).

    **Group commit.** The transactions of the key path (take link keys, store and deliver keys,
    outbox) from concurrent threads are committed together: while one thread's commit waits
    for the disk, the others queue up, and the first of them then runs every queued body in one
    ``BEGIN IMMEDIATE`` ... ``COMMIT``, each inside its own savepoint, so that one that fails is
    rolled back alone and raises to its own caller. Each caller gets its result only after the
    commit that made it durable returned; if that commit fails, every caller in the group gets
    :class:`KeyStoreError` and nothing of the group is on disk. The bodies run one after the
    other, so each sees what the ones before it did, as if they had been separate transactions
    in that order. Under load this costs one disk flush per group instead of one per request.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "kme.db"
    >>> store = SQLiteKeyStore(path)
    >>> store.add_link_keys("A~B", [LinkKey("k1", bytes(32))], max_pool_keys=10)
    1
    >>> store.close()
    """

    def __init__(self, path: str | Path, *, target_version: int = SCHEMA_VERSION) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._group_lock = threading.Lock()
        self._group_busy = False  # a leader is running a group, or designated to run the next
        self._queued: list[_Work] = []
        self.groups_committed = 0
        self.transactions_committed = 0
        if not self.path.parent.is_dir():
            raise ConfigurationError(
                f"store: folder {self.path.parent} does not exist; create it first", field="store"
            )
        # The store holds key material: create it readable by its owner only. SQLite gives the
        # -wal and -shm files the permissions of the database file.
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        super().__init__(target_version=target_version)

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({str(self.path)!r})"

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the write lock is taken
        # before the first read of a transaction and two writers never read the same pool rows.
        # check_same_thread=False only so that close() may close every thread's connection;
        # each connection is used by the one thread that opened it (thread-local).
        conn = sqlite3.connect(
            self.path, isolation_level=None, timeout=30.0, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _transact(self, work: Callable[[Any], T]) -> T:
        job = _Work(work)
        with self._group_lock:
            job.lead = not self._group_busy
            if job.lead:
                self._group_busy = True
            else:
                self._queued.append(job)
        if not job.lead:
            job.done.wait()
        if job.lead:  # first in, or designated by the previous leader
            self._lead(job)
        if job.ok:
            return job.value  # type: ignore[no-any-return]
        raise job.value

    def _lead(self, own: _Work) -> None:
        """Commit one group (this thread's work first), then hand over to the oldest queued."""
        with self._group_lock:
            jobs, self._queued = [own, *self._queued], []
        try:
            self._commit_group(jobs)
        finally:
            with self._group_lock:
                if self._queued:
                    successor = self._queued.pop(0)
                    successor.lead = True
                    successor.done.set()
                else:
                    self._group_busy = False
            for job in jobs[1:]:
                job.done.set()

    def _commit_group(self, jobs: list[_Work]) -> None:
        single = len(jobs) == 1
        with self._write_lock:
            conn = self._conn()
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                for job in jobs:
                    if not single:
                        cur.execute("SAVEPOINT grouped")
                    try:
                        job.value, job.ok = job.work(cur), True
                    except Exception as exc:
                        job.value = exc
                        if single:
                            break
                        # A failed statement may have ended the whole transaction (SQLite
                        # does so on I/O errors); then ROLLBACK TO fails and so does the group.
                        cur.execute("ROLLBACK TO grouped")
                    if not single:
                        cur.execute("RELEASE grouped")
                if single and not jobs[0].ok:
                    conn.rollback()
                    return
                conn.commit()
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
                for job in jobs:  # nothing of the group is on disk
                    job.ok = False
                    job.value = KeyStoreError(f"key data access error: {type(exc).__name__}")
                if not isinstance(exc, Exception):
                    raise
                return
            finally:
                cur.close()
            self.groups_committed += 1
            self.transactions_committed += len(jobs)

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        # Reads take neither the write lock nor BEGIN IMMEDIATE: in WAL mode a reader sees the
        # last commit and never waits for writers. A pool status on a large pool scans every
        # link key (about 100 ms for 200,000); under the write lock, each ETSI status call or
        # metrics scrape held up every delivery for that long.
        cur = self._conn().cursor()
        try:
            return list(self._exec(cur, statement, params).fetchall())
        finally:
            cur.close()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[Any]:
        # One writer at a time within this process, queued on a lock: SQLite allows one writer
        # anyway, and its busy handler would otherwise make waiting threads sleep in growing
        # steps (up to 100 ms), which wrecks tail latency under concurrent requests. Other
        # processes on the same file still wait through busy_timeout.
        with self._write_lock:
            conn = self._conn()
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise KeyStoreError(f"key data access error: {type(exc).__name__}") from None
            try:
                yield cur
            except BaseException:
                conn.rollback()
                raise
            else:
                try:
                    conn.commit()
                except sqlite3.Error as exc:
                    conn.rollback()
                    raise KeyStoreError(f"key data access error: {type(exc).__name__}") from None
            finally:
                cur.close()


class PostgresKeyStore(_SQLKeyStore):
    """A key store in PostgreSQL (psycopg 3), for sites with a shared, replicated database.

    ``dsn`` is a libpq connection string or URL. Connections come from a bounded pool
    (psycopg_pool) of at most ``max_connections``, so that many request threads share a few
    server connections.
    """

    _postgres = True

    def __init__(
        self, dsn: str, *, target_version: int = SCHEMA_VERSION, max_connections: int = 8
    ) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True},
            open=False,
            timeout=30.0,
        )
        try:
            self._pool.open(wait=True, timeout=30.0)
        except Exception as exc:  # PoolTimeout and connection errors, without the DSN
            self._pool.close()
            raise KeyStoreError(
                f"key data access error: cannot connect ({type(exc).__name__})"
            ) from None
        super().__init__(target_version=target_version)

    def __repr__(self) -> str:
        return "PostgresKeyStore(<dsn hidden>)"

    @contextlib.contextmanager
    def _txn(self) -> Iterator[Any]:
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except (psycopg.Error, PoolTimeout) as exc:
            raise KeyStoreError(f"key data access error: {type(exc).__name__}") from None

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()
