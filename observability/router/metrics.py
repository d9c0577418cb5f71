"""The router's own Prometheus metrics, on a registry per app (several apps share a test process).

Names follow Alertmanager's where one exists, prefixed ``composer_obs_router_``; failure
reasons are Alertmanager's (``clientError``, ``serverError``, ``rateLimited``, ...).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "composer_obs_router"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.alerts_received = Counter(
            f"{PREFIX}_alerts_received",
            "Alerts received, by source and outcome (stored, duplicate, stale).",
            ["source", "outcome"],
            registry=r,
        )
        self.requests_invalid = Counter(
            f"{PREFIX}_requests_invalid", "Requests refused, by reason.", ["reason"], registry=r
        )
        self.ingest_latency = Histogram(
            f"{PREFIX}_ingest_latency_seconds",
            "Time to store and answer one ingest request.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.notifications = Counter(
            f"{PREFIX}_notifications",
            "Notification attempts, by receiver, integration and "
            "outcome (delivered, retried, dead).",
            ["receiver", "integration", "outcome"],
            registry=r,
        )
        self.notification_failures = Counter(
            f"{PREFIX}_notification_failures",
            "Failed notification attempts, by reason.",
            ["receiver", "integration", "reason"],
            registry=r,
        )
        self.notification_latency = Histogram(
            f"{PREFIX}_notification_latency_seconds",
            "Time to deliver one notice.",
            ["integration"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.notices_enqueued = Counter(
            f"{PREFIX}_notices_enqueued",
            "Notices put in the outbox, by receiver.",
            ["receiver"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            f"{PREFIX}_outbox_depth", "Notices waiting in the outbox.", registry=r
        )
        self.dead_letters = Gauge(
            f"{PREFIX}_dead_letters", "Notices that could not be delivered.", registry=r
        )
        self.config_reloads = Counter(
            f"{PREFIX}_config_reloads",
            "Configuration reloads, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.config_last_reload_success = Gauge(
            f"{PREFIX}_config_last_reload_successful", "1 if the last reload worked.", registry=r
        )

    def watch_outbox(self, depths: Callable[[], tuple[int, int]]) -> None:
        """Compute outbox depth and dead letters at scrape time from ``depths()``."""
        self.outbox_depth.set_function(lambda: depths()[0])
        self.dead_letters.set_function(lambda: depths()[1])
