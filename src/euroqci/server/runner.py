"""Run KMEs: uvicorn with real TLS (client certificates required) and the identity protocol.

:func:`serve` runs one KME until SIGINT/SIGTERM; :func:`serve_many` runs several in one process
(the demo and ``euroqci up``), each on its own port, stopped together.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import ssl
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from fastapi import FastAPI

from euroqci.kms.manager import KeyManager
from euroqci.kms.store import KeyStore, open_store
from euroqci.server.app import create_app
from euroqci.server.settings import KMESettings
from euroqci.server.tls import http_protocol

__all__ = ["event_loop", "serve", "serve_many", "uvicorn_config"]


def event_loop() -> str:
    """uvicorn's ``loop=``: uvloop (libuv, a faster event loop and TLS transport) when
    installed, else asyncio's own loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`serve_many` (several per loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_config(app: FastAPI, settings: KMESettings) -> uvicorn.Config:
    """uvicorn settings for a KME: TLS, client certificate required and verified by the CA."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.cert_file),
        ssl_keyfile=str(settings.key_file),
        ssl_ca_certs=str(settings.ca_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        http=http_protocol(),
        loop=event_loop(),
        lifespan="on",
        log_level="warning",
        access_log=False,
        # KMEs face SAEs and KMEs directly: no X-Forwarded-* header is trusted (the identity
        # comes from the TLS handshake only), and skipping the middleware saves time.
        proxy_headers=False,
        timeout_keep_alive=30,
        # Bounded so that KMEs served by one process cannot take every worker thread while
        # they wait for each other's relay answers (see serve_many).
        limit_concurrency=settings.max_concurrent_requests,
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop factory matching :func:`event_loop` (None: asyncio's default)."""
    if event_loop() == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _freeze_startup_objects() -> None:
    """Move every object alive after start-up out of the garbage collector's sight.

    A KME process holds a few hundred thousand long-lived objects (FastAPI, pydantic, the CLI
    and the libraries it imports); each full collection walked all of them and stopped the
    server for 50 to 130 ms under load (measured with gc.callbacks in benchmarks/kme_load.py),
    which was the p99 latency. Frozen objects are never collected, which is right for objects
    that live as long as the process; objects made while serving are collected as before.
    """
    gc.collect()
    gc.freeze()


def serve_many(
    settings: Sequence[KMESettings],
    *,
    on_started: Callable[[list[KeyManager]], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
    stores: Sequence[KeyStore] | None = None,
) -> None:
    """Serve several KMEs until SIGINT or SIGTERM; ``on_started`` runs once all listen,
    ``on_stopping`` once they have stopped and before the stores close (stop and join there
    any thread that writes to the stores)."""
    opened = list(stores) if stores is not None else [open_store(s.store) for s in settings]
    apps = [create_app(s, st) for s, st in zip(settings, opened, strict=True)]
    servers = [_Server(uvicorn_config(app, s)) for app, s in zip(apps, settings, strict=True)]

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    async def main() -> None:
        # Key and relay routes run their blocking part on each app's own WorkerPool; the other
        # sync routes (status, discard, metrics) run on anyio's worker threads, shared by every
        # KME in this process: keep more of those than all the KMEs can hold at once.
        import anyio.to_thread

        limiter = anyio.to_thread.current_default_thread_limiter()
        needed = sum(s.max_concurrent_requests for s in settings) + 8
        limiter.total_tokens = max(limiter.total_tokens, needed)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop_all)
        tasks = [asyncio.create_task(s.serve()) for s in servers]
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.02)
        if all(s.started for s in servers):
            _freeze_startup_objects()
        if on_started is not None and all(s.started for s in servers):
            on_started([app.state.manager for app in apps])
        await asyncio.gather(*tasks)

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    finally:
        try:
            if on_stopping is not None:
                on_stopping()
        finally:
            for store in opened:
                store.close()


def serve(settings: KMESettings) -> None:
    """Serve one KME until SIGINT or SIGTERM."""
    serve_many([settings])
