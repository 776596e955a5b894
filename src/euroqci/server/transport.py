"""The relay transport between KMEs: HTTPS with mutual TLS, one keep-alive connection per peer
and worker thread.

Each KME presents its own certificate (organizational unit ``KME``) and checks the peer's in the
TLS handshake, before any byte is sent: the certificate must chain to the CA and name the KME the
link leads to as a DNS name (the connection asks for it by SNI), and its common name must be that
KME ID too. KME certificates therefore carry their KME ID as a DNS subject alternative name
(``euroqci pki init`` does this).

The client is the standard library's ``http.client``, not httpx: relay messages are sent from
the worker thread that runs the key manager, once per batch of keys, and httpx's client (pool,
request and response models, cookies) took about three quarters of the sending KME's Python
time per relay message, locking, sealing and committing included (measured with py-spy under
benchmarks/kme_load.py). ``http.client`` sends one
request on a persistent connection; the one thing it lacks, noticing that the peer closed an
idle connection, is done here as httpcore does it: a connection that is readable before a
request is sent (end of stream, or bytes nobody asked for) is closed and a new one opened.
"""

from __future__ import annotations

import http.client
import logging
import select
import ssl
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from euroqci.errors import RelayError
from euroqci.kms.relay import RelayMessage
from euroqci.server.schemas import relay_message_wire

__all__ = ["DISCARD_PATH", "RELAY_PATH", "HttpsRelay", "client_ssl_context"]

logger = logging.getLogger(__name__)

RELAY_PATH = "/kme/v1/relay"
DISCARD_PATH = "/kme/v1/discard"


def client_ssl_context(*, ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A TLS >= 1.2 client context that trusts ``ca_file`` and presents the given certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


class _WrongPeer(Exception):
    """The TLS peer is not the KME the connection was opened for."""


class _PeerConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a KME at ``host:port`` that asks for ``kme_id`` by SNI, checks
    the certificate's DNS name against it (the context has ``check_hostname``) and its common
    name too."""

    def __init__(
        self, host: str, port: int, *, kme_id: str, context: ssl.SSLContext, timeout_s: float
    ) -> None:
        super().__init__(host, port, timeout=timeout_s, context=context)
        self.kme_id = kme_id
        self.tls_context = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, with TCP_NODELAY
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=self.kme_id)
        cert: dict[str, Any] = dict(self.sock.getpeercert() or {})
        subject = {k: v for rdn in cert.get("subject", ()) for k, v in rdn}
        if subject.get("commonName") != self.kme_id:
            self.close()
            raise _WrongPeer

    def stale(self) -> bool:
        """True when the idle connection is readable: the peer closed it (or misbehaved)."""
        if self.sock is None:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))


class HttpsRelay:
    """A :class:`~euroqci.kms.relay.RelayTransport` over HTTPS with mutual TLS."""

    def __init__(
        self,
        peer_urls: Mapping[str, str],
        *,
        ca_file: Path,
        cert_file: Path,
        key_file: Path,
        timeout_s: float = 10.0,
    ) -> None:
        self._urls = dict(peer_urls)
        self._context = client_ssl_context(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._connections: list[_PeerConnection] = []
        self._lock = threading.Lock()

    def _connection(self, peer_kme_id: str, url: str) -> _PeerConnection:
        # One connection per peer and thread: no lock is held during a request.
        mine: dict[str, _PeerConnection] | None = getattr(self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        conn = mine.get(peer_kme_id)
        if conn is None:
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.hostname is None:
                raise RelayError(f"KME {peer_kme_id}: peer_url must be https://HOST:PORT")
            conn = _PeerConnection(
                parts.hostname,
                parts.port or 443,
                kme_id=peer_kme_id,
                context=self._context,
                timeout_s=self._timeout_s,
            )
            mine[peer_kme_id] = conn
            with self._lock:
                self._connections.append(conn)
        elif conn.stale():
            conn.close()  # reopened by the next request
        return conn

    def _post(self, peer_kme_id: str, path: str, body: dict[str, Any]) -> None:
        url = self._urls.get(peer_kme_id)
        if url is None:
            raise RelayError(f"no URL for KME {peer_kme_id!r}")
        conn = self._connection(peer_kme_id, url)
        target = urlsplit(url).path.rstrip("/") + path
        try:
            conn.request(
                "POST",
                target,
                body=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            data = response.read()
        except _WrongPeer:
            raise RelayError(f"the server at {url} is not KME {peer_kme_id}") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise RelayError(f"KME {peer_kme_id} unreachable ({type(exc).__name__})") from None
        if response.will_close:
            conn.close()
        if response.status != 200:
            try:
                message = str(orjson.loads(data).get("message", ""))[:200]
            except (orjson.JSONDecodeError, AttributeError):
                message = ""
            raise RelayError(f"KME {peer_kme_id} answered {response.status}: {message}")

    def send(self, peer_kme_id: str, message: RelayMessage) -> None:
        self._post(peer_kme_id, RELAY_PATH, relay_message_wire(message))

    def discard(self, peer_kme_id: str, link_id: str, link_key_ids: Sequence[str]) -> None:
        body = {"link_id": link_id, "link_key_ids": list(link_key_ids)}
        self._post(peer_kme_id, DISCARD_PATH, body)

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
