"""The relay transport between KMEs: HTTPS with mutual TLS (httpx), one client per KME.

Each KME presents its own certificate (organizational unit ``KME``) and checks the peer's in the
TLS handshake, before any byte is sent: the certificate must chain to the CA and name the KME the
link leads to as a DNS name (the connection asks for it by SNI), and its common name must be that
KME ID too. KME certificates therefore carry their KME ID as a DNS subject alternative name
(``euroqci pki init`` does this).
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from euroqci.errors import RelayError
from euroqci.kms.relay import RelayMessage
from euroqci.server.schemas import RelayDiscardIn, RelayMessageIn

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
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        # One client per thread: connection pools are reused, no lock is held during a request.
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(verify=self._context, timeout=self._timeout_s)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _post(self, peer_kme_id: str, path: str, body: dict[str, Any]) -> None:
        url = self._urls.get(peer_kme_id)
        if url is None:
            raise RelayError(f"no URL for KME {peer_kme_id!r}")
        try:
            response = self._client().post(
                url.rstrip("/") + path, json=body, extensions={"sni_hostname": peer_kme_id}
            )
        except httpx.HTTPError as exc:
            raise RelayError(f"KME {peer_kme_id} unreachable ({type(exc).__name__})") from None
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        cert = ssl_object.getpeercert() if ssl_object is not None else None
        subject = {k: v for rdn in (cert or {}).get("subject", ()) for k, v in rdn}
        if subject.get("commonName") != peer_kme_id:
            raise RelayError(f"the server at {url} is not KME {peer_kme_id}")
        if response.status_code != 200:
            try:
                message = str(response.json().get("message", ""))[:200]
            except ValueError:
                message = ""
            raise RelayError(f"KME {peer_kme_id} answered {response.status_code}: {message}")

    def send(self, peer_kme_id: str, message: RelayMessage) -> None:
        self._post(peer_kme_id, RELAY_PATH, RelayMessageIn.of(message).model_dump())

    def discard(self, peer_kme_id: str, link_id: str, link_key_ids: Sequence[str]) -> None:
        body = RelayDiscardIn(link_id=link_id, link_key_ids=list(link_key_ids))
        self._post(peer_kme_id, DISCARD_PATH, body.model_dump())

    def close(self) -> None:
        """Close every client."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
