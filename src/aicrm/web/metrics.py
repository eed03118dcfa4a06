"""Prometheus metrics: request counts and latencies by route template, plus store and model gauges."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

log = logging.getLogger("aicrm.web")

# Latency buckets around the 20 ms p99 target of the API, up to slow exports.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AUC_KEYS = ("auc", "roc_auc", "AUC", "test_auc", "auc_test")


class StoreCollector:
    """Gauges read from the store at scrape time: row counts, and each model's last training time and metrics."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self):
        from aicrm.core.models import Customer, Feedback, ModelRun, Order, Ticket

        up = GaugeMetricFamily("aicrm_store_up", "1 when the store answered the metrics query")
        try:
            with Session(self.engine) as session:
                counts = {name: session.scalar(select(func.count()).select_from(table)) or 0
                          for name, table in (("customers", Customer), ("orders", Order), ("tickets", Ticket),
                                              ("feedback", Feedback))}
                open_tickets = session.scalar(select(func.count()).select_from(Ticket)
                                              .where(Ticket.status.not_in(("resolved", "closed")))) or 0
                runs = list(session.scalars(select(ModelRun).order_by(ModelRun.model_name, ModelRun.version)))
        except Exception as exc:  # a scrape must not fail because the store is briefly unreachable
            log.warning("metrics: store query failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("aicrm_customers", "Customers in the store", value=counts["customers"])
        rows = GaugeMetricFamily("aicrm_store_rows", "Rows per table", labels=["table"])
        for name, n in counts.items():
            rows.add_metric([name], n)
        yield rows
        yield GaugeMetricFamily("aicrm_open_tickets", "Tickets not resolved or closed", value=open_tickets)
        latest = {}
        for run in runs:  # ordered by version, so the last one per name wins
            latest[run.model_name] = run
        trained = GaugeMetricFamily("aicrm_model_last_trained_timestamp_seconds",
                                    "Unix time of the newest run of each model", labels=["model"])
        version = GaugeMetricFamily("aicrm_model_version", "Newest version of each model", labels=["model"])
        auc = GaugeMetricFamily("aicrm_model_auc", "ROC AUC of the newest run of each model", labels=["model"])
        metric = GaugeMetricFamily("aicrm_model_metric", "Numeric metrics of the newest run of each model",
                                   labels=["model", "metric"])
        for name, run in latest.items():
            # The store keeps naive UTC timestamps.
            trained.add_metric([name], run.trained_at.replace(tzinfo=dt.UTC).timestamp() if run.trained_at else 0)
            version.add_metric([name], run.version)
            metrics = run.metrics or {}
            for key in AUC_KEYS:
                if isinstance(metrics.get(key), (int, float)):
                    auc.add_metric([name], float(metrics[key]))
                    break
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metric.add_metric([name, str(key)], float(value))
        yield from (trained, version, auc, metric)


class Metrics:
    """The app's metrics; per app instance, so that several apps (tests) can live in one process."""

    def __init__(self, engine: Engine) -> None:
        # Several uvicorn workers share counters through files in PROMETHEUS_MULTIPROC_DIR (set by `aicrm serve`).
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests by method, route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "HTTP request latency by route template",
                                  ["method", "route", "status"], buckets=BUCKETS, registry=self.registry)
        self.store = StoreCollector(engine)
        self.registry.register(self.store)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.store)
        else:
            registry = self.registry
        return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task like BaseHTTPMiddleware) timing every HTTP request."""

    def __init__(self, app, metrics: Metrics, templates=None) -> None:
        self.app = app
        self.metrics = metrics
        self.templates_of = templates  # callable returning {id(route): path template}, built on first use
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            if self._templates is None and self.templates_of is not None:
                self._templates = self.templates_of()
            # The route template ("/api/customers/{customer_id}"), never the raw path: bounded label values.
            template = ((self._templates or {}).get(id(route)) or getattr(route, "path", None) or "unmatched"
                        if route is not None else "unmatched")
            self.metrics.observe(scope.get("method", "GET"), template, status, time.perf_counter() - start)


class SecurityHeadersMiddleware:
    """Adds conservative security headers; a strict Content-Security-Policy on dashboard pages."""

    CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
           "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        strict = not path.startswith(("/docs", "/redoc", "/api", "/openapi.json", "/metrics"))

        async def send_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if strict:
                    headers.append((b"x-frame-options", b"DENY"))
                    headers.append((b"content-security-policy", self.CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_headers)
