"""A KME on a real PostgreSQL server (started by .ci/run via scripts/start-postgres)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from kme_harness import IGNORE_CLIENT_SOCKET_LEAK, load, make_pair, pools_in_step, redeem_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DSN = os.environ.get("EUROQCI_TEST_POSTGRES_DSN", "")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A postgresql:// URL whose search_path is a fresh schema, dropped afterwards."""
    if not DSN:
        pytest.skip("EUROQCI_TEST_POSTGRES_DSN is not set (scripts/start-postgres prints one)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in DSN else "?"
    yield f"{DSN}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@IGNORE_CLIENT_SOCKET_LEAK
def test_postgres_kme_under_load_and_kill9(tmp_path: Path, postgres_url: str) -> None:
    pair = make_pair(tmp_path, store_urls={"KME-B": postgres_url})
    try:
        pair.start("KME-A")
        pair.start("KME-B")
        got: list[tuple[str, bytes]] = []
        errors: list[int] = []
        load(pair, 16, 4, got, errors)
        assert errors == [] and len(got) == 16 * 4 * 2
        stop = threading.Event()
        runner = threading.Thread(target=load, args=(pair, 8, 10**6, got, errors, stop))
        runner.start()
        time.sleep(1.0)
        pair.kill9("KME-B")
        time.sleep(0.5)
        pair.start("KME-B")
        time.sleep(1.0)
        stop.set()
        runner.join()
        assert errors and set(errors) <= {0, 503}
        assert len({k for k, _ in got}) == len(got)
        redeem_all(pair, got)
        # Link keys burnt by relays cut short are discarded at the peer too (outbox).
        assert pools_in_step(pair)
    finally:
        pair.stop()
