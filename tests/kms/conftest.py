"""Fixtures for key-management tests: one store suite for SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from euroqci.kms.store import KeyStore, MemoryKeyStore

POSTGRES_DSN = os.environ.get("EUROQCI_TEST_POSTGRES_DSN", "")


@pytest.fixture
def postgres_dsn() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_DSN:
        pytest.skip("EUROQCI_TEST_POSTGRES_DSN is not set (scripts/start-postgres prints one)")
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield make_conninfo(POSTGRES_DSN, options=f"-c search_path={schema}")
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    """Every key store, so that one suite checks that they answer alike."""
    from euroqci.kms.sqlstore import PostgresKeyStore, SQLiteKeyStore

    s: KeyStore
    if request.param == "memory":
        s = MemoryKeyStore()
    elif request.param == "sqlite":
        s = SQLiteKeyStore(tmp_path / "kme.db")
    else:
        s = PostgresKeyStore(request.getfixturevalue("postgres_dsn"))
    yield s
    s.close()
