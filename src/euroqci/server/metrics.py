"""Prometheus metrics of one KME: keys stored, delivered, relayed; link pools; latency.

A registry per app (no module-level state); counts come from the key manager when scraped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from euroqci.kms.manager import KeyManager

__all__ = ["KMECollector", "LatencyMiddleware", "make_registry"]


class KMECollector(Collector):
    """Reads the manager's counters and the store's pools at scrape time."""

    def __init__(self, manager: KeyManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = dict(self.manager.stats)
        delivered = CounterMetricFamily(
            "euroqci_kme_keys_delivered", "Keys delivered to SAEs", labels=["role"]
        )
        delivered.add_metric(["master"], stats["keys_delivered_master"])
        delivered.add_metric(["slave"], stats["keys_delivered_slave"])
        yield delivered
        for name, help_text in (
            ("keys_relayed", "Keys sent on to a neighbouring KME"),
            ("relay_messages", "Relay messages sent (concurrent requests share one)"),
            ("link_keys_added", "Link keys accepted from key supply"),
            ("link_keys_consumed", "Link keys used once (one-time pad and authentication)"),
            ("link_keys_discarded", "Link keys discarded after a failed relay of the peer"),
            ("relay_failures", "Relays that failed (nothing delivered)"),
            ("keys_expired", "Keys deleted unfetched after max_key_age_s"),
        ):
            yield CounterMetricFamily(f"euroqci_kme_{name}", help_text, value=stats[name])
        stored = GaugeMetricFamily("euroqci_kme_keys_stored", "Keys waiting for slave SAEs")
        stored.add_metric([], self.manager.store.count_keys())
        yield stored
        pool = GaugeMetricFamily(
            "euroqci_kme_link_key_bytes", "Link key bytes held", labels=["link_id", "direction"]
        )
        for link in self.manager.profile.links:
            status = self.manager.store.pool_status(link.link_id)
            pool.add_metric([link.link_id, "outbound"], status.outbound_bytes)
            pool.add_metric([link.link_id, "inbound"], status.inbound_bytes)
        yield pool


def make_registry(manager: KeyManager) -> tuple[CollectorRegistry, Histogram]:
    """A fresh registry with the KME collector and a request-latency histogram."""
    registry = CollectorRegistry()
    registry.register(KMECollector(manager))
    latency = Histogram(
        "euroqci_kme_request_seconds",
        "Request latency by route and status",
        ["route", "status"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
    )
    return registry, latency


class LatencyMiddleware:
    """Observes each request's latency under its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [503]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "other")
            self.histogram.labels(name, str(status[0])).observe(time.perf_counter() - start)
