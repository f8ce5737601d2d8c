"""Prometheus metrics of one API process: requests, their latency, and orders.

Request and accepted-order counters are per process, so with several uvicorn workers each
scrape reads the counters of the process that served it. The orders-by-status gauge is read from the
database at scrape time, so it is the same whichever process serves the scrape.
"""

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "unmatched"
# Any other method is counted as "other", so clients cannot create label values at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class OrderStatusCollector(Collector):
    def __init__(self, counts_by_status: Callable[[], dict[str, int]]) -> None:
        self._counts_by_status = counts_by_status

    def collect(self):
        gauge = GaugeMetricFamily("orderflow_orders", "Orders in the database by status", labels=["status"])
        try:
            counts = self._counts_by_status()
        except Exception as error:  # a scrape must not fail because the database is down
            log.warning("Counting orders for /metrics failed: %r", error)
            counts = {}
        for status, count in sorted(counts.items()):
            gauge.add_metric([status], count)
        yield gauge


class Metrics:
    """The metrics of one app, in a registry of their own (tests create many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "orderflow_http_requests", "HTTP requests by method, route template and status code",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "orderflow_http_request_duration_seconds", "Time from request to the end of the response body",
            ["method", "route"], registry=self.registry,
        )
        self.orders_accepted = Counter(
            "orderflow_orders_accepted", "Orders accepted by POST /orders in this process", registry=self.registry,
        )

    def count_orders_by_status(self, counts_by_status: Callable[[], dict[str, int]]) -> None:
        self.registry.register(OrderStatusCollector(counts_by_status))


class MetricsMiddleware:
    """Count every HTTP request and time it, labelled by route template to bound the label set."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED_ROUTE)
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
