"""Counting by log-based metrics and ListTimeSeries, all through the real clients: entries go
in with the GAPIC Logging client, metrics are defined with MetricsServiceV2Client, series come
back from the Monitoring MetricServiceClient. Aggregation results are checked by hand."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import pytest
from google.api.metric_pb2 import MetricDescriptor
from google.api_core import exceptions
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.logging_v2.types import LogMetric
from google.cloud.monitoring_v3 import MetricServiceClient

from observability.gcp import Endpoint
from tests.emulator.helpers import clock_call

pytestmark = pytest.mark.integration

USER = "logging.googleapis.com/user/"
ENV1 = {"type": "cloud_composer_environment", "labels": {"environment_name": "env1"}}
ENV2 = {"type": "cloud_composer_environment", "labels": {"environment_name": "env2"}}


def entry(when: datetime, resource: dict[str, Any] = ENV1, **payload: Any) -> dict[str, Any]:
    return {
        "json_payload": payload,
        "resource": resource,
        "timestamp": when,
    }


def write(api: LoggingServiceV2Client, project: str, entries: list[dict[str, Any]]) -> None:
    api.write_log_entries(
        request={"log_name": f"projects/{project}/logs/composer-observability", "entries": entries}
    )


def create_metric(
    metrics: MetricsServiceV2Client, project: str, metric: dict[str, Any]
) -> LogMetric:
    return metrics.create_log_metric(request={"parent": f"projects/{project}", "metric": metric})


def failures_metric(metrics: MetricsServiceV2Client, project: str, name: str = "failures") -> None:
    create_metric(
        metrics,
        project,
        {
            "name": name,
            "filter": 'jsonPayload.event="task_failed"',
            "metric_descriptor": {"labels": [{"key": "dag_id"}]},
            "label_extractors": {"dag_id": "EXTRACT(jsonPayload.dag_id)"},
        },
    )


def series(
    monitoring: MetricServiceClient,
    project: str,
    filter_: str,
    start: datetime,
    end: datetime,
    **request: Any,
) -> list[Any]:
    return list(
        monitoring.list_time_series(
            request={
                "name": f"projects/{project}",
                "filter": filter_,
                "interval": {"start_time": start, "end_time": end},
                **request,
            }
        )
    )


def total(found: list[Any]) -> int:
    return sum(point.value.int64_value for one in found for point in one.points)


def by_dag(found: list[Any]) -> dict[str, list[float]]:
    return {
        one.metric.labels["dag_id"]: [
            p.value.int64_value or p.value.double_value for p in one.points
        ]
        for one in found
    }


FAILURES: list[tuple[int, str, dict[str, Any]]] = [
    # (minute after base, dag_id, resource)
    (0, "a", ENV1),
    (0, "a", ENV1),
    (0, "a", ENV2),
    (0, "b", ENV1),
    (1, "a", ENV1),
    (1, "a", ENV1),
    (3, "b", ENV1),
    (3, "b", ENV1),
    (3, "b", ENV1),
]


class Logs(NamedTuple):
    """A project's log entries, its log-based metrics and their time series, from ``base``."""

    api: LoggingServiceV2Client
    metrics: MetricsServiceV2Client
    monitoring: MetricServiceClient
    project: str
    base: datetime


@pytest.fixture
def logs(
    api: LoggingServiceV2Client,
    metrics: MetricsServiceV2Client,
    monitoring: MetricServiceClient,
    project: str,
    base: datetime,
) -> Logs:
    return Logs(api, metrics, monitoring, project, base)


@pytest.fixture
def counted(
    api: LoggingServiceV2Client, metrics: MetricsServiceV2Client, project: str, base: datetime
) -> datetime:
    """The failures metric over FAILURES, plus entries it must not count."""
    failures_metric(metrics, project)
    entries = [
        entry(base + timedelta(minutes=m, seconds=5 + i), resource, event="task_failed", dag_id=d)
        for i, (m, d, resource) in enumerate(FAILURES)
    ]
    entries += [entry(base, event="task_success", dag_id="a") for _ in range(3)]
    write(api, project, entries)
    return base


def test_raw_series_count_every_matching_entry_per_label_and_resource(
    monitoring: MetricServiceClient, project: str, counted: datetime
) -> None:
    base = counted

    def in_window(filter_: str, **request: Any) -> list[Any]:
        return series(monitoring, project, filter_, base, base + timedelta(minutes=5), **request)

    found = in_window(f'metric.type = "{USER}failures"')
    assert total(found) == len(FAILURES)
    keys = sorted(
        (one.metric.labels["dag_id"], one.resource.labels["environment_name"], total([one]))
        for one in found
    )
    assert keys == [("a", "env1", 4), ("a", "env2", 1), ("b", "env1", 4)]
    a_env1 = next(
        one
        for one in found
        if one.metric.labels["dag_id"] == "a" and one.resource.labels["environment_name"] == "env1"
    )
    assert (
        a_env1.metric_kind == MetricDescriptor.MetricKind.DELTA
        and a_env1.value_type == MetricDescriptor.ValueType.INT64
    )
    assert a_env1.resource.type == "cloud_composer_environment"
    # one point per minute, newest first, each covering its minute
    assert [p.value.int64_value for p in a_env1.points] == [2, 2]
    newest = a_env1.points[0].interval
    assert newest.start_time == base + timedelta(minutes=1)
    assert newest.end_time == base + timedelta(minutes=2)

    only_b = in_window(f'metric.type = "{USER}failures" AND metric.label.dag_id = "b"')
    assert total(only_b) == 4
    env2 = in_window(
        f'metric.type = "{USER}failures" resource.labels.environment_name = one_of("env2", "x")'
    )
    assert total(env2) == 1
    regex = in_window(f'metric.type = starts_with("{USER}fail") AND metric.labels.dag_id =~ "[ab]"')
    assert total(regex) == len(FAILURES)
    headers = in_window(f'metric.type = "{USER}failures"', view="HEADERS")
    assert len(headers) == 3 and all(not one.points for one in headers)
    paged = in_window(f'metric.type = "{USER}failures"', page_size=1)
    assert total(paged) == len(FAILURES)  # the pager followed the page tokens


def test_align_delta_reduce_sum_by_dag(
    monitoring: MetricServiceClient, project: str, counted: datetime
) -> None:
    base = counted
    filter_ = f'metric.type = "{USER}failures"'
    aggregation = {
        "alignment_period": {"seconds": 300},
        "per_series_aligner": "ALIGN_DELTA",
        "cross_series_reducer": "REDUCE_SUM",
        "group_by_fields": ["metric.label.dag_id"],
    }
    found = series(
        monitoring, project, filter_, base, base + timedelta(minutes=5), aggregation=aggregation
    )
    assert by_dag(found) == {"a": [5], "b": [4]}
    assert all(dict(one.resource.labels) == {} for one in found)

    # two windows of 120 s ending at base+4min: (base+2, base+4] and (base, base+2]
    aggregation["alignment_period"] = {"seconds": 120}
    found = series(
        monitoring, project, filter_, base, base + timedelta(minutes=4), aggregation=aggregation
    )
    assert by_dag(found) == {"a": [5], "b": [3, 1]}
    b_points = next(one for one in found if one.metric.labels["dag_id"] == "b").points
    assert b_points[0].interval.end_time == base + timedelta(minutes=4)
    assert b_points[1].interval.end_time == base + timedelta(minutes=2)


def test_align_rate_and_count(
    monitoring: MetricServiceClient, project: str, counted: datetime
) -> None:
    base = counted
    filter_ = f'metric.type = "{USER}failures" AND metric.label.dag_id = "a"'

    def aligned(aligner: str, reducer: str) -> list[Any]:
        """The two minutes from ``base`` in one 120 s window."""
        aggregation = {
            "alignment_period": {"seconds": 120},
            "per_series_aligner": aligner,
            "cross_series_reducer": reducer,
        }
        end = base + timedelta(minutes=2)
        return series(monitoring, project, filter_, base, end, aggregation=aggregation)

    (one,) = aligned("ALIGN_RATE", "REDUCE_SUM")
    assert one.value_type == MetricDescriptor.ValueType.DOUBLE
    assert [p.value.double_value for p in one.points] == [pytest.approx(5 / 120)]
    count = aligned("ALIGN_COUNT", "REDUCE_MAX")
    # env1 has points in minutes 0 and 1, env2 in minute 0: the max count is 2
    assert [p.value.int64_value for p in count[0].points] == [2]


def test_distribution_buckets_and_percentiles(logs: Logs) -> None:
    api, metrics, monitoring, project, base = logs
    create_metric(
        metrics,
        project,
        {
            "name": "durations",
            "filter": 'jsonPayload.event="task_success"',
            "metric_descriptor": {"metric_kind": "DELTA", "value_type": "DISTRIBUTION"},
            "value_extractor": "EXTRACT(jsonPayload.duration)",
            "bucket_options": {"explicit_buckets": {"bounds": [0, 10, 20, 40]}},
        },
    )
    values: list[Any] = [5, 15, 15, 25, 50, "not a number"]
    write(
        api,
        project,
        [
            entry(base + timedelta(seconds=i), event="task_success", duration=v)
            for i, v in enumerate(values)
        ]
        + [entry(base, event="task_success")],  # no value at all: dropped too
    )
    filter_ = f'metric.type = "{USER}durations"'
    (raw,) = series(monitoring, project, filter_, base, base + timedelta(minutes=1))
    assert raw.value_type == MetricDescriptor.ValueType.DISTRIBUTION
    (point,) = raw.points
    dist = point.value.distribution_value
    assert dist.count == 5
    assert list(dist.bucket_counts) == [0, 1, 2, 1, 1]
    assert dist.mean == pytest.approx(22.0)
    assert dist.sum_of_squared_deviation == pytest.approx(
        sum((v - 22.0) ** 2 for v in (5, 15, 15, 25, 50))
    )
    assert list(dist.bucket_options.explicit_buckets.bounds) == [0, 10, 20, 40]

    def percentile(aligner: str) -> float:
        (one,) = series(
            monitoring,
            project,
            filter_,
            base,
            base + timedelta(minutes=1),
            aggregation={"alignment_period": {"seconds": 60}, "per_series_aligner": aligner},
        )
        (only,) = one.points
        return float(only.value.double_value)

    # rank 4.95 of 5 falls in the overflow bucket [40, max=50]: 40 + 0.95 * 10
    assert percentile("ALIGN_PERCENTILE_99") == pytest.approx(49.5)
    # rank 2.5 falls in [10, 20), which holds values 2 and 3: 10 + (1.5 / 2) * 10
    assert percentile("ALIGN_PERCENTILE_50") == pytest.approx(17.5)
    assert percentile("ALIGN_MEAN") == pytest.approx(22.0)


def test_no_backfill_and_late_entries(logs: Logs) -> None:
    api, metrics, monitoring, project, base = logs
    write(api, project, [entry(base, event="task_failed", dag_id="early")])
    failures_metric(metrics, project)
    late = base - timedelta(hours=25)
    write(
        api,
        project,
        [
            entry(base, event="task_failed", dag_id="after"),
            entry(late, event="task_failed", dag_id="late"),
        ],
    )
    filter_ = f'metric.type = "{USER}failures"'
    found = series(
        monitoring, project, filter_, late - timedelta(minutes=1), base + timedelta(minutes=1)
    )
    assert by_dag(found) == {"after": [1]}


def test_extraction_failures_give_default_label_values(logs: Logs) -> None:
    api, metrics, monitoring, project, base = logs
    create_metric(
        metrics,
        project,
        {
            "name": "typed",
            "filter": 'jsonPayload.event="task_failed"',
            "metric_descriptor": {
                "labels": [
                    {"key": "dag_id"},
                    {"key": "try", "value_type": "INT64"},
                    {"key": "final", "value_type": "BOOL"},
                    {"key": "host"},
                ]
            },
            "label_extractors": {
                "dag_id": "EXTRACT(jsonPayload.dag_id)",
                "try": "EXTRACT(jsonPayload.try_number)",
                "final": "EXTRACT(jsonPayload.final)",
                "host": 'REGEXP_EXTRACT(jsonPayload.message, "host=(\\\\w+)")',
            },
        },
    )
    write(
        api,
        project,
        [
            entry(
                base,
                event="task_failed",
                dag_id="x" * 2000,
                try_number=2,
                final=True,
                message="on host=w1 today",
            ),
            entry(base, event="task_failed", try_number="two", message="nothing"),
        ],
    )
    found = series(
        monitoring, project, f'metric.type = "{USER}typed"', base, base + timedelta(minutes=1)
    )
    labels = sorted((dict(one.metric.labels) for one in found), key=lambda d: d["dag_id"])
    assert labels == [
        {"dag_id": "", "try": "0", "final": "false", "host": ""},
        {"dag_id": "x" * 1024, "try": "2", "final": "true", "host": "w1"},
    ]


def test_clock_admin_endpoint_moves_metric_creation_time(
    emulator: Endpoint, metrics: MetricsServiceV2Client, project: str
) -> None:
    before = clock_call(emulator)
    after = clock_call(emulator, ":advance", {"seconds": 90})
    assert after["offsetSeconds"] == pytest.approx(before["offsetSeconds"] + 90)
    created = create_metric(metrics, project, {"name": "timed", "filter": "severity>=ERROR"})
    real_now = datetime.now(timezone.utc)
    assert created.create_time.timestamp() >= real_now.timestamp() + before["offsetSeconds"] + 85
    with pytest.raises(urllib.error.HTTPError) as refused:
        clock_call(emulator, ":advance", {"seconds": -1})
    assert refused.value.code == 400


def test_descriptors_and_refusals(
    metrics: MetricsServiceV2Client, monitoring: MetricServiceClient, project: str
) -> None:
    failures_metric(metrics, project)
    (descriptor,) = monitoring.list_metric_descriptors(
        request={
            "name": f"projects/{project}",
            "filter": 'metric.type = starts_with("logging.googleapis.com/user/")',
        }
    )
    assert descriptor.type == f"{USER}failures"
    assert [label.key for label in descriptor.labels] == ["dag_id"]
    got = monitoring.get_metric_descriptor(
        name=f"projects/{project}/metricDescriptors/{USER}failures"
    )
    assert got.type == descriptor.type
    with pytest.raises(exceptions.NotFound):
        monitoring.get_metric_descriptor(name=f"projects/{project}/metricDescriptors/{USER}nope")
    now = datetime.now(timezone.utc)
    with pytest.raises(exceptions.InvalidArgument, match=r"metric\.type"):
        series(monitoring, project, 'resource.type = "global"', now, now)
    with pytest.raises(exceptions.InvalidArgument, match="position"):
        series(monitoring, project, 'metric.type = "x" AND (', now, now)
    with pytest.raises(exceptions.InvalidArgument, match="needs an aligner"):
        series(
            monitoring,
            project,
            f'metric.type = "{USER}failures"',
            now,
            now,
            aggregation={"cross_series_reducer": "REDUCE_SUM"},
        )


def test_a_replayed_batch_counts_once(logs: Logs) -> None:
    api, metrics, monitoring, project, base = logs
    failures_metric(metrics, project)
    batch = [
        {**entry(base, event="task_failed", dag_id="a"), "insert_id": f"id-{i}"} for i in range(3)
    ]
    write(api, project, batch)
    write(api, project, batch)  # a spool replay: Logging stores these once, so they count once
    write(api, project, [{**batch[0], "timestamp": base + timedelta(seconds=1)}])  # not a replay
    found = series(
        monitoring, project, f'metric.type = "{USER}failures"', base, base + timedelta(minutes=1)
    )
    assert by_dag(found) == {"a": [4]}
