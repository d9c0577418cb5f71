"""The emulator's hot paths: filter evaluation, WriteLogEntries ingest, one alerting tick.

Printed, in one run:

* filter evaluation rate: ``compile_filter(...).matches`` on 100,000 REST-shaped entries for a
  typical three-clause filter (log name, event type, severity); target >= 200,000 entries/s;
  and the same for a filter whose clauses are regexes (``=~``, ``!~``: RE2) over fields whose
  values repeat (log name, event type, DAG), and for one regex over a text unique to each
  entry, so a change of regex engine shows;
* WriteLogEntries ingest through the real GAPIC client (gRPC, emulator in its own process),
  batches of 1,000 entries in prebuilt requests, into a project without log-based metrics and
  into one with 10 (each entry is then checked and counted; one metric's label comes from a
  ``REGEXP_EXTRACT``); target >= 20,000 entries/s;
* one evaluation tick of 1,000 threshold policies (over 10 log-based metrics, grouped by DAG or
  not) after 100,000 entries were counted, in-process; target < 1 s. Policies asking the same
  query share it within a tick, so the tick is also timed with 1,000 distinct filters.

It ends with one line ``RESULT key=value ...``.

    .venv/bin/python bench/emulator.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.cloud.logging_v2.types import (  # noqa: E402
    CreateLogMetricRequest,
    LogEntry,
    LogMetric,
    WriteLogEntriesRequest,
)
from google.protobuf import json_format  # noqa: E402

from observability import gcp  # noqa: E402
from observability.emulator.alert_policies.store import AlertPolicyStore  # noqa: E402
from observability.emulator.alerting.evaluator import AlertEvaluator  # noqa: E402
from observability.emulator.alerting.incidents import IncidentStore  # noqa: E402
from observability.emulator.channels.store import (  # noqa: E402
    NotificationChannelStore,
)
from observability.emulator.common.clock import Clock  # noqa: E402
from observability.emulator.log_entries.service import LoggingService  # noqa: E402
from observability.emulator.log_entries.store import LoggingStore  # noqa: E402
from observability.emulator.log_metrics.service import LogMetricsService  # noqa: E402
from observability.emulator.log_metrics.store import LogMetricsStore  # noqa: E402
from observability.emulator.process import emulator_process  # noqa: E402
from observability.emulator.time_series.engine import TimeSeriesEngine  # noqa: E402
from observability.logfilter import compile_filter  # noqa: E402

ENTRIES = 100_000
BATCH = 1_000
POLICIES = 1_000
EVENT_TYPES = ("task_failed", "task_succeeded", "task_started", "task_up_for_retry")
SEVERITIES = ("INFO", "INFO", "WARNING", "ERROR")
FILTER = (
    'logName="projects/bench/logs/composer-observability" '
    'AND jsonPayload.event_type="task_failed" AND severity>=ERROR'
)
REGEX_FILTER = (
    'logName=~"/logs/composer-observability$" '
    'AND jsonPayload.event_type=~"^task_f[a-z]+ed$" AND jsonPayload.dag_id!~"^dag_4\\d$"'
)
DISTINCT_REGEX_FILTER = 'jsonPayload.message=~"^task_failed in dag_\\d+, entry \\d+$"'


def event(i: int, project: str, when: datetime) -> dict[str, Any]:
    """An entry shaped like the callbacks' events, in the REST JSON shape."""
    kind = i % len(EVENT_TYPES)
    return {
        "logName": f"projects/{project}/logs/composer-observability",
        "resource": {
            "type": "cloud_composer_environment",
            "labels": {
                "project_id": project,
                "location": "europe-west1",
                "environment_name": "prod",
            },
        },
        "timestamp": when.isoformat().replace("+00:00", "Z"),
        "severity": SEVERITIES[kind] if kind != 0 else "ERROR",
        "labels": {"workflow": f"dag_{i % 50}", "task-id": f"task_{i % 7}"},
        "jsonPayload": {
            "event_type": EVENT_TYPES[kind],
            "message": f"{EVENT_TYPES[kind]} in dag_{i % 50}, entry {i}",
            "dag_id": f"dag_{i % 50}",
            "task_id": f"task_{i % 7}",
            "run_id": f"scheduled__{i // 1000}",
            "try_number": 1 + i % 3,
            "team": ("data", "ml", "platform")[i % 3],
            "duration_s": (i % 600) / 10,
        },
    }


def bench_filter(filter_text: str, expected_hits: int, label: str) -> float:
    now = datetime.now(timezone.utc)
    entries = [event(i, "bench", now) for i in range(ENTRIES)]
    matches = compile_filter(filter_text).matches
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        hits = sum(1 for entry in entries if matches(entry))
        rates.append(ENTRIES / (time.perf_counter() - started))
    assert hits == expected_hits, hits
    rate = statistics.median(rates)
    print(f"filter evaluation, {label}: {rate:,.0f} entries/s (median of 5, {hits:,} matches)")
    return rate


def metric_specs(project: str) -> list[dict[str, Any]]:
    """10 log-based metrics like ``log_metrics/``: counters by DAG, one per event kind..."""
    specs = []
    for n in range(10):
        kind = EVENT_TYPES[n % len(EVENT_TYPES)]
        specs.append(
            {
                "name": f"bench/metric_{n}",
                "filter": f'logName="projects/{project}/logs/composer-observability" '
                f'AND jsonPayload.event_type="{kind}"'
                + (
                    f' AND jsonPayload.team="{("data", "ml", "platform")[n % 3]}"' if n >= 4 else ""
                ),
                "labelExtractors": {
                    "dag_id": "EXTRACT(jsonPayload.dag_id)",
                    "team": (
                        'REGEXP_EXTRACT(jsonPayload.team, "^([a-z]+)$")'
                        if n == 0
                        else "EXTRACT(jsonPayload.team)"
                    ),
                },
                "metricDescriptor": {
                    "metricKind": "DELTA",
                    "valueType": "INT64",
                    "labels": [
                        {"key": "dag_id", "valueType": "STRING"},
                        {"key": "team", "valueType": "STRING"},
                    ],
                },
            }
        )
    return specs


def requests_for(project: str, start: datetime) -> list[WriteLogEntriesRequest]:
    requests = []
    for first in range(0, ENTRIES, BATCH):
        entries = []
        for i in range(first, first + BATCH):
            body = event(i, project, start + timedelta(milliseconds=i))
            pb = LogEntry.pb()()
            json_format.ParseDict(body, pb)
            entries.append(pb)
        request = WriteLogEntriesRequest.pb()(entries=entries)
        requests.append(WriteLogEntriesRequest.wrap(request))
    return requests


def bench_ingest(data_dir: Path) -> tuple[float, float]:
    with emulator_process(data_dir) as endpoint:
        api = gcp.logging_api(endpoint)
        metrics = gcp.metrics_api(endpoint)
        for spec in metric_specs("bench-metrics"):
            metrics.create_log_metric(
                parent="projects/bench-metrics",
                metric=LogMetric.wrap(json_format.ParseDict(spec, LogMetric.pb()())),
            )
        start = datetime.now(timezone.utc) - timedelta(minutes=5)
        rates = {}
        for project in ("bench-plain", "bench-metrics"):
            requests = requests_for(project, start)
            api.write_log_entries(request=requests[0])  # warm the channel and the process
            passes = []
            for _ in range(3):  # the same requests again: entries without insertId are new
                started = time.perf_counter()
                for request in requests[1:]:
                    api.write_log_entries(request=request)
                passes.append((ENTRIES - BATCH) / (time.perf_counter() - started))
            rates[project] = statistics.median(passes)
        api.transport.close()
        metrics.transport.close()
    plain, counted = rates["bench-plain"], rates["bench-metrics"]
    print(f"WriteLogEntries ingest, no log metrics: {plain:,.0f} entries/s (median of 3)")
    print(f"WriteLogEntries ingest, 10 log metrics: {counted:,.0f} entries/s (median of 3)")
    return plain, counted


def policy_body(n: int, distinct: bool) -> dict[str, Any]:
    metric = f"logging.googleapis.com/user/bench/metric_{n % 10}"
    grouped = n % 2 == 0
    extra = f' AND metric.label.dag_id="dag_{n % 50}"' if distinct else ""
    return {
        "displayName": f"policy {n}",
        "combiner": "OR",
        "enabled": True,
        "conditions": [
            {
                "displayName": f"condition {n}",
                "conditionThreshold": {
                    "filter": f'metric.type="{metric}"{extra}'
                    + (
                        f' AND metric.label.team="{("data", "ml", "platform")[n % 3]}"'
                        if distinct and n % 4 == 0
                        else ""
                    ),
                    "aggregations": [
                        {
                            "alignmentPeriod": "300s",
                            "perSeriesAligner": "ALIGN_DELTA",
                            "crossSeriesReducer": "REDUCE_SUM",
                            "groupByFields": ["metric.label.dag_id"] if grouped else [],
                        }
                    ],
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": 10_000 + n,  # nothing opens: the tick is pure evaluation
                    "duration": "0s",
                },
            }
        ],
    }


def bench_tick(data_dir: Path) -> tuple[float, float]:
    clock = Clock()
    logging_store = LoggingStore(data_dir / "logging.db")
    logging = LoggingService(logging_store)
    metrics_store = LogMetricsStore(data_dir / "metrics.db")
    metrics = LogMetricsService(metrics_store, clock)
    logging.listeners.append(metrics.on_entries)
    for spec in metric_specs("bench"):
        request = CreateLogMetricRequest.pb()()
        json_format.ParseDict({"parent": "projects/bench", "metric": spec}, request)
        metrics.create(request)
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    random.seed(7)
    for first in range(0, ENTRIES, BATCH):
        entries = [
            event(i, "bench", start + timedelta(seconds=random.uniform(0, 1800)))
            for i in range(first, first + BATCH)
        ]
        request = WriteLogEntriesRequest.pb()()
        json_format.ParseDict({"entries": entries}, request)
        logging.write(request)
    results = []
    for distinct in (False, True):
        policies = AlertPolicyStore(data_dir / f"policies-{distinct}.db")
        with policies.transaction() as conn:
            for n in range(POLICIES):
                policies.put(conn, "bench", str(n), policy_body(n, distinct))
        incidents = IncidentStore(data_dir / f"incidents-{distinct}.db")
        channels = NotificationChannelStore(data_dir / f"channels-{distinct}.db")
        evaluator = AlertEvaluator(
            clock, policies, channels, TimeSeriesEngine(metrics), incidents, max_steps=1
        )
        evaluator.tick()  # the first evaluation time (warms the series cache)
        clock.advance(60)
        started = time.perf_counter()
        summary = evaluator.tick()
        elapsed = time.perf_counter() - started
        assert summary["policies"] == POLICIES and len(summary["evaluatedAt"]) == 1, summary
        assert not evaluator.not_evaluated, evaluator.not_evaluated
        results.append(elapsed)
        label = "1,000 distinct filters" if distinct else "10 metrics, shared queries"
        print(
            f"evaluation tick, {POLICIES:,} policies over {ENTRIES:,} entries ({label}): "
            f"{elapsed:.3f} s"
        )
        for store in (policies, channels):
            store.close()
        incidents.close()
    logging_store.close()
    metrics_store.close()
    return results[0], results[1]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        root = Path(tmp)
        rate = bench_filter(FILTER, ENTRIES // len(EVENT_TYPES), "three clauses")
        # the task_failed entries (every 4th) of DAGs other than dag_40 to dag_49
        regex_hits = sum(1 for i in range(0, ENTRIES, 4) if not 40 <= i % 50 <= 49)
        regex_rate = bench_filter(REGEX_FILTER, regex_hits, "three regex clauses")
        distinct_rate = bench_filter(
            DISTINCT_REGEX_FILTER, ENTRIES // len(EVENT_TYPES), "one regex, distinct texts"
        )
        plain, counted = bench_ingest(root / "ingest")
        (root / "tick").mkdir()
        tick, tick_distinct = bench_tick(root / "tick")
    print(
        f"RESULT filter_entries_per_s={rate:.0f} regex_filter_entries_per_s={regex_rate:.0f} "
        f"distinct_regex_filter_entries_per_s={distinct_rate:.0f} "
        f"ingest_entries_per_s={plain:.0f} "
        f"ingest_10_metrics_entries_per_s={counted:.0f} tick_1000_policies_s={tick:.3f} "
        f"tick_1000_distinct_policies_s={tick_distinct:.3f}"
    )


if __name__ == "__main__":
    main()
