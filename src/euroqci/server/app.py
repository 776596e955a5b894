"""``create_app(settings, store)``: one KME as a FastAPI application.

Serves ETSI GS QKD 014 under ``/api/v1/keys``, the KME-to-KME relay under ``/kme/v1``, and
``/metrics``. Nothing is created at import time; the caller owns the store.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from euroqci import __version__
from euroqci.kms.manager import KeyManager
from euroqci.kms.relay import RelayTransport
from euroqci.kms.store import KeyStore
from euroqci.kms.supply import import_key_drop
from euroqci.server.errors import CatchAllMiddleware, install_error_handlers
from euroqci.server.metrics import LatencyMiddleware, make_registry
from euroqci.server.routes import etsi_router, kme_router
from euroqci.server.settings import KMESettings
from euroqci.server.workers import WorkerPool

__all__ = ["audit_logger", "create_app", "relay_openapi"]

logger = logging.getLogger(__name__)


def audit_logger(kme_id: str, path: Path | None) -> logging.Logger:
    """The audit logger of a KME: JSON lines (IDs and times, never key bytes) to ``path``."""
    audit = logging.getLogger(f"euroqci.audit.{kme_id}")
    audit.setLevel(logging.INFO)
    if path is not None and not any(
        isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve()
        for h in audit.handlers
    ):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(handler)
    return audit


def _https_relay(settings: KMESettings) -> RelayTransport | None:
    if not settings.links:
        return None
    from euroqci.server.transport import HttpsRelay

    return HttpsRelay(
        {link.peer_kme_id: link.peer_url for link in settings.links},
        ca_file=settings.ca_file,
        cert_file=settings.cert_file,
        key_file=settings.key_file,
    )


def _housekeeping(manager: KeyManager, settings: KMESettings, stop: threading.Event) -> None:
    """Import dropped link-key files, flush the relay outbox and expire stale keys until
    ``stop`` is set."""
    next_expiry = 0.0
    interval_s = settings.key_drop_interval_s if settings.key_drop_dir else 1.0
    while not stop.wait(interval_s):
        try:
            if settings.key_drop_dir is not None:
                import_key_drop(manager, settings.key_drop_dir)
            manager.flush_outbox()
            if time.monotonic() >= next_expiry:
                manager.expire_keys()
                next_expiry = time.monotonic() + settings.housekeeping_interval_s
        except Exception:  # keep going; the next round retries
            logger.exception("KME housekeeping failed")


def _strip_422(schema: dict[str, Any]) -> dict[str, Any]:
    # Validation errors are answered 400 (ETSI 014 has no 422): say so in the served document.
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


def create_app(
    settings: KMESettings, store: KeyStore, *, relay: RelayTransport | None = None
) -> FastAPI:
    """Build the KME application for ``settings`` over ``store``.

    ``relay`` defaults to HTTPS with mutual TLS to the peers named in ``settings.links``.
    """
    relay = relay if relay is not None else _https_relay(settings)
    manager = KeyManager(
        store,
        profile=settings.profile(),
        relay=relay,
        audit=audit_logger(settings.kme_id, settings.audit_log),
    )
    stop = threading.Event()
    # Blocking key manager calls of the async routes; uvicorn's limit_concurrency bounds the
    # requests (and so the calls) in progress to max_concurrent_requests.
    workers = WorkerPool(max_threads=settings.max_concurrent_requests, name=settings.kme_id)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(
            target=_housekeeping,
            args=(manager, settings, stop),
            name=f"housekeeping-{settings.kme_id}",
            daemon=True,
        )
        thread.start()
        yield
        stop.set()
        thread.join(timeout=5)
        workers.close()
        close = getattr(relay, "close", None)
        if close is not None:
            close()

    app = FastAPI(
        title=f"EuroQCI KME {settings.kme_id}: ETSI GS QKD 014 V1.1.1 and KME relay",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.state.workers = workers
    app.state.identity_attribute = settings.identity_attribute.value
    app.state.kme_peer_unit = settings.kme_peer_unit
    install_error_handlers(app)
    app.include_router(etsi_router)
    app.include_router(kme_router)
    registry, latency = make_registry(manager)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return _strip_422(base_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(LatencyMiddleware, histogram=latency)
    app.add_middleware(CatchAllMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


def relay_openapi() -> dict[str, Any]:
    """The OpenAPI document of the KME-to-KME interface alone (docs/kme-relay.openapi.json)."""
    app = FastAPI(
        title="EuroQCI KME-to-KME key relay",
        version="1",
        description=(
            "Between neighbouring KMEs over HTTPS with mutual TLS; the caller is the KME named "
            "by its certificate (common name, organizational unit KME). Keys travel one-time-"
            "padded with link keys of the link between caller and callee, with an HMAC-SHA256 "
            "tag keyed by HKDF-SHA256 from further link key material. See docs/kms.md."
        ),
    )
    install_error_handlers(app)
    app.include_router(kme_router)
    return _strip_422(app.openapi())
