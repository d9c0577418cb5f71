"""The router's own Prometheus metrics, on a registry per app (several apps share a test process).

Names follow Alertmanager's where one exists, prefixed ``composer_obs_router_``; failure
reasons are Alertmanager's (``clientError``, ``serverError``, ``rateLimited``, ...).

Under ``router serve --workers N`` the counters live in several processes: the HTTP workers
count requests, the dispatching process counts what it applied and delivered. The supervisor
then sets ``PROMETHEUS_MULTIPROC_DIR`` for them (prometheus-client's multi-process mode: each
process writes its values to a memory-mapped file there), and ``/metrics`` on any worker adds
up every process's files, so a scrape sees the whole router whichever worker answers it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

PREFIX = "composer_obs_router"
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class OutboxCollector(Collector):
    """Outbox depth and dead letters, read from the database at scrape time.

    A gauge set by the dispatcher would go stale in every other process, and the outbox is
    shared anyway: whichever process is scraped asks the database.
    """

    def __init__(self, depths: Callable[[], tuple[int, int]]) -> None:
        self._depths = depths

    def collect(self) -> Iterator[Metric]:
        waiting, dead = self._depths()
        for family, value in zip(self.describe(), (waiting, dead), strict=True):
            family.add_metric([], value)
            yield family

    def describe(self) -> list[GaugeMetricFamily]:
        """The families without values: registering must not query a database not yet open."""
        return [
            GaugeMetricFamily(f"{PREFIX}_outbox_depth", "Notices waiting in the outbox."),
            GaugeMetricFamily(f"{PREFIX}_dead_letters", "Notices that could not be delivered."),
        ]


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        directory = os.environ.get(MULTIPROCESS_DIRECTORY)
        if directory and not os.path.isdir(directory):
            raise ValueError(
                f"{MULTIPROCESS_DIRECTORY}={directory} is not a directory (prometheus-client's "
                "multi-process mode: create it empty, or unset it; router serve --workers "
                "sets its own)"
            )
        if directory:
            # The values are in the shared files; registering them here too would count this
            # process twice.
            MultiProcessCollector(self.registry, directory)
            r: CollectorRegistry | None = None
        else:
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
        self.dispatch_failures = Counter(
            f"{PREFIX}_dispatch_failures",
            "Dispatcher failures, by stage: an alert that could not be routed (route), a group "
            "that could not be flushed (flush), both set aside; a whole pass (pass).",
            ["stage"],
            registry=r,
        )
        self.enrichment_wait = Histogram(
            f"{PREFIX}_enrichment_wait_seconds",
            "Time a notice waited for its causes before delivery.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.enrichment_lookups = Counter(
            f"{PREFIX}_enrichment_lookups",
            "Causes looked up in Cloud Logging (once per incident), by outcome.",
            ["outcome"],
            registry=r,
        )
        self.config_reloads = Counter(
            f"{PREFIX}_config_reloads",
            "Configuration reloads, by outcome.",
            ["outcome"],
            registry=r,
        )
        # Every process loads the file; with several, 0 if any of them failed to.
        self.config_last_reload_success = Gauge(
            f"{PREFIX}_config_last_reload_successful",
            "1 if the last reload worked.",
            registry=r,
            multiprocess_mode="livemin",
        )

    def watch_outbox(self, depths: Callable[[], tuple[int, int]]) -> None:
        """Report outbox depth and dead letters, computed at scrape time from ``depths()``."""
        self.registry.register(OutboxCollector(depths))
