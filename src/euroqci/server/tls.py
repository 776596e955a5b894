"""Mutual TLS identity: hand the verified client certificate to the application.

uvicorn 0.54 does not implement the ASGI TLS extension, so the application never sees the client
certificate. :class:`MutualTLSProtocol` is uvicorn's h11 protocol that, when a connection is
made (after the TLS handshake, in which the server required and verified the certificate against
its CA), reads ``ssl_object.getpeercert()`` and puts it into that connection's copy of the app
state; uvicorn copies the app state into every request's scope, so routes read
``request.state.peer_cert``. A certificate can only get there through the TLS handshake: nothing
a client sends in HTTP can set it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from euroqci.errors import SAENotAuthorized

__all__ = ["PEER_CERT", "MutualTLSProtocol", "http_protocol", "peer_identity"]

PEER_CERT = "peer_cert"


class _PeerCertificate:
    """Mixin for a uvicorn HTTP protocol: the verified client certificate in each request."""

    app_state: dict[str, Any]

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        ssl_object = transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() if ssl_object is not None else None
        # A per-connection copy: the shared app state is never modified.
        self.app_state = {**self.app_state, PEER_CERT: cert or None}


class MutualTLSProtocol(_PeerCertificate, H11Protocol):  # type: ignore[misc]
    """uvicorn's h11 protocol, with the verified client certificate in each request's state."""


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol class to pass to uvicorn as ``http=``: httptools (faster) when installed,
    else h11; both with the client certificate in each request's state."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return MutualTLSProtocol

    class MutualTLSHttpToolsProtocol(_PeerCertificate, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol, with the verified client certificate."""

    return MutualTLSHttpToolsProtocol


def _subject(cert: dict[str, Any]) -> dict[str, str]:
    return {name: value for rdn in cert.get("subject", ()) for name, value in rdn}


def peer_identity(
    request: Request, *, attribute: str = "commonName", unit: str | None = None
) -> str:
    """The caller's ID from its verified certificate: a subject attribute or the serial number.

    ``unit``, when given, must equal the certificate's organizationalUnitName (KME certificates
    carry ``KME``, so an SAE certificate cannot act as a KME).

    Raises
    ------
    SAENotAuthorized
        No verified certificate, or it lacks the attribute or the unit.
    """
    cert = getattr(request.state, PEER_CERT, None)
    if not cert:
        raise SAENotAuthorized("no verified client certificate")
    subject = _subject(cert)
    if unit is not None and subject.get("organizationalUnitName") != unit:
        raise SAENotAuthorized("client certificate is not a KME certificate")
    value = cert.get("serialNumber") if attribute == "serialNumber" else subject.get(attribute)
    if not value:
        raise SAENotAuthorized(f"client certificate has no {attribute}")
    return str(value)
