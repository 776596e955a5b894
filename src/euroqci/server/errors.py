"""The one table from EuroQCI errors to ETSI GS QKD 014 answers: 400, 401 or 503, with a body.

The first row whose class matches the error wins. ``None`` as message means the error's own
message, which the library words as the ETSI normative text where the GS gives one ("size shall
be a multiple of 8", "not all extension_mandatory parameters are supported").
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from euroqci.errors import (
    ConfigurationError,
    InsufficientKeyMaterial,
    KeyNotFound,
    KeyStoreError,
    QKDError,
    RelayError,
    SAENotAuthorized,
    UnsupportedExtension,
)

__all__ = ["ERROR_TABLE", "CatchAllMiddleware", "error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

ERROR_TABLE: tuple[tuple[type[QKDError], int, str | None], ...] = (
    (UnsupportedExtension, 400, "not all extension_mandatory parameters are supported"),
    (ConfigurationError, 400, None),
    (KeyNotFound, 400, "one or more keys specified are not found on KME"),
    (SAENotAuthorized, 401, "unauthorized: the calling SAE is not allowed these keys"),
    (InsufficientKeyMaterial, 503, "not enough key material on KME now; retry later"),
    (RelayError, 503, "key relay to the slave SAE's KME failed; no key was delivered"),
    (KeyStoreError, 503, "key data access error"),
    (QKDError, 503, "key data access error"),
)
SERVER_ERROR = "key data access error"


def error_response(exc: QKDError) -> JSONResponse:
    """The ETSI answer for a library error."""
    for cls, status, message in ERROR_TABLE:
        if isinstance(exc, cls):
            body: dict[str, Any] = {"message": message or str(exc)}
            if isinstance(exc, UnsupportedExtension):
                body["details"] = [
                    {"extension_mandatory_unsupported": f"{name} is not supported"}
                    for name in exc.names
                ]
            if status == 503:
                logger.warning("%s: %s", type(exc).__name__, exc)
            return JSONResponse(body, status_code=status)
    raise TypeError(f"no ETSI status for {type(exc).__name__}")  # pragma: no cover


async def _qkd_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, QKDError):  # registered for QKDError only
        raise exc
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "bad request"
    return JSONResponse({"message": str(detail)}, status_code=status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
         "error": str(e.get("msg", ""))[:200]}
        for e in errors[:10]
    ]  # fmt: skip
    return JSONResponse({"message": "bad request format", "details": details}, status_code=400)


def install_error_handlers(app: Any) -> None:
    """Register the table on a FastAPI app (request validation errors are 400 too)."""
    app.add_exception_handler(QKDError, _qkd_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class CatchAllMiddleware:
    """Answer 503 ``key data access error`` for any unexpected exception: ETSI 014 knows no 500.

    Also refuses request bodies over ``max_body_bytes`` with 400.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        seen = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def receive_wrapper() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 400, {"message": "request body too large"})
        except Exception:
            logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(send, 503, {"message": SERVER_ERROR})


class _BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    response = JSONResponse(body, status_code=status)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
