"""The KME server: ETSI GS QKD 014 northbound API and the KME-to-KME relay, over mutual TLS."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # FastAPI is imported only when the server is used.
    if name == "create_app":
        from euroqci.server.app import create_app

        return create_app
    raise AttributeError(name)
