"""Percentile and mean reducers over distributions, and the BOOL aligners, all through the
real clients: log entries with the GAPIC Logging client, a distribution log-based metric with
MetricsServiceV2Client, Composer's BOOL health points through the emulator's
``timeSeries:seed`` endpoint, read back with the Monitoring MetricServiceClient. Expected
values are worked out by hand from the buckets and points written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from google.api.metric_pb2 import MetricDescriptor
from google.api_core import exceptions
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.monitoring_v3 import MetricServiceClient

from observability.gcp import Endpoint
from tests.emulator.time_series.test_list_time_series import USER, create_metric, entry, write
from tests.emulator.time_series.test_written import create, one_series, read, rfc3339, seed, values

pytestmark = pytest.mark.integration

HEALTHY = "composer.googleapis.com/environment/healthy"
BOUNDS = [0, 10, 20, 40]
# (service, operation, latency): in buckets [0,10) x6, [20,40) x2, overflow [40, max=50] x1
# for "sftp"; one value, 12, for "api"
CALLS = [("sftp", "list", 5)] * 6 + [
    ("sftp", "upload", 30),
    ("sftp", "upload", 35),
    ("sftp", "upload", 50),
    ("api", "get", 12),
]


@pytest.fixture
def latency(
    api: LoggingServiceV2Client, metrics: MetricsServiceV2Client, project: str, base: datetime
) -> str:
    """The filter of a DELTA distribution log-based metric holding ``CALLS``, all in the
    minute after ``base``, one series per service and operation."""
    create_metric(
        metrics,
        project,
        {
            "name": "latency",
            "filter": 'jsonPayload.event="call"',
            "metric_descriptor": {
                "metric_kind": "DELTA",
                "value_type": "DISTRIBUTION",
                "labels": [{"key": "service"}, {"key": "operation"}],
            },
            "label_extractors": {
                "service": "EXTRACT(jsonPayload.service)",
                "operation": "EXTRACT(jsonPayload.operation)",
            },
            "value_extractor": "EXTRACT(jsonPayload.ms)",
            "bucket_options": {"explicit_buckets": {"bounds": BOUNDS}},
        },
    )
    write(
        api,
        project,
        [
            entry(base + timedelta(seconds=i), event="call", service=s, operation=o, ms=ms)
            for i, (s, o, ms) in enumerate(CALLS)
        ],
    )
    return f'metric.type = "{USER}latency"'


def by_service(
    monitoring: MetricServiceClient, project: str, filter_: str, base: datetime, reducer: str
) -> dict[str, Any]:
    """The one point of each service: ALIGN_DELTA over five minutes, then ``reducer``."""
    found = read(
        monitoring,
        project,
        filter_,
        base,
        base + timedelta(minutes=5),
        alignment_period={"seconds": 300},
        per_series_aligner="ALIGN_DELTA",
        cross_series_reducer=reducer,
        group_by_fields=["metric.label.service"],
    )
    result = {}
    for one in found:
        (point,) = one.points
        result[one.metric.labels["service"]] = (one.value_type, point.value)
    return result


@pytest.mark.parametrize(
    ("reducer", "sftp"),
    [
        # rank 0.95 * 9 = 8.55 falls in the overflow bucket [40, max=50], after 8 values
        ("REDUCE_PERCENTILE_95", 40 + 0.55 * 10),
        ("REDUCE_PERCENTILE_99", 40 + 0.91 * 10),
        # rank 4.5 falls in [0, 10), holding 6 values from the minimum, 5: 5 + 4.5 / 6 * 5
        ("REDUCE_PERCENTILE_50", 5 + 4.5 / 6 * 5),
        ("REDUCE_PERCENTILE_05", 5 + 0.45 / 6 * 5),
        # the mean of all nine calls, not the mean of the two operations' means (21.67)
        ("REDUCE_MEAN", (6 * 5 + 30 + 35 + 50) / 9),
    ],
)
def test_distribution_reducers_read_the_merged_distribution(
    monitoring: MetricServiceClient,
    project: str,
    base: datetime,
    latency: str,
    reducer: str,
    sftp: float,
) -> None:
    found = by_service(monitoring, project, latency, base, reducer)
    double = MetricDescriptor.ValueType.DOUBLE
    assert {service: value_type for service, (value_type, _) in found.items()} == {
        "sftp": double,
        "api": double,
    }
    assert found["sftp"][1].double_value == pytest.approx(sftp)
    # a single value: every percentile (and the mean) is that value
    assert found["api"][1].double_value == pytest.approx(12.0)


def test_reduce_sum_merges_and_min_is_refused(
    monitoring: MetricServiceClient, project: str, base: datetime, latency: str
) -> None:
    found = by_service(monitoring, project, latency, base, "REDUCE_SUM")
    value_type, value = found["sftp"]
    assert value_type == MetricDescriptor.ValueType.DISTRIBUTION
    merged = value.distribution_value
    assert (merged.count, list(merged.bucket_counts)) == (9, [0, 6, 0, 2, 1])
    assert (merged.range.min, merged.range.max) == (5.0, 50.0)
    assert list(merged.bucket_options.explicit_buckets.bounds) == BOUNDS
    # Google documents REDUCE_MIN for numeric values only
    with pytest.raises(exceptions.InvalidArgument, match="REDUCE_MIN does not apply to DISTR"):
        by_service(monitoring, project, latency, base, "REDUCE_MIN")


def test_distributions_over_other_buckets_are_not_merged(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    durations = "custom.googleapis.com/task/durations"
    for host, bounds in (("a", [0.0, 10.0]), ("b", [0.0, 5.0, 10.0])):
        distribution = {
            "count": 1,
            "mean": 3.0,
            "range": {"min": 3.0, "max": 3.0},
            "bucket_options": {"explicit_buckets": {"bounds": bounds}},
            "bucket_counts": [0, 1],
        }
        create(
            monitoring,
            project,
            one_series(durations, {"distribution_value": distribution}, base, labels={"h": host}),
        )
    with pytest.raises(exceptions.InvalidArgument, match="different bucket bounds"):
        read(
            monitoring,
            project,
            f'metric.type = "{durations}"',
            base - timedelta(minutes=1),
            base,
            alignment_period={"seconds": 60},
            per_series_aligner="ALIGN_SUM",
            cross_series_reducer="REDUCE_PERCENTILE_50",
        )


def seed_points(
    emulator: Endpoint,
    project: str,
    metric_type: str,
    kind: str,
    points: dict[str, list[bool | int]],
    base: datetime,
) -> None:
    """Seed one point a minute per environment (at base + 30s, 1m30s, ...), as Composer
    reports them; ``points`` maps environment name to its values (bool or int)."""
    for env, series in points.items():
        resource = {
            "type": "cloud_composer_environment",
            "labels": {"project_id": project, "environment_name": env},
        }
        for minute, value in enumerate(series):
            end = base + timedelta(seconds=30 + 60 * minute)
            interval = {"endTime": rfc3339(end)}
            if kind == "DELTA":
                interval["startTime"] = rfc3339(end - timedelta(seconds=60))
            typed = {"boolValue": value} if isinstance(value, bool) else {"int64Value": str(value)}
            one = {
                "metric": {"type": metric_type},
                "resource": resource,
                "metricKind": kind,
                "points": [{"interval": interval, "value": typed}],
            }
            assert seed(emulator, project, {"timeSeries": [one]})[0] == 200


# env1 is healthy at minutes 0, 2 and 3; env2 always
HEALTH: dict[str, list[bool | int]] = {
    "env1": [True, False, True, True, False, False],
    "env2": [True] * 6,
}


def health(
    monitoring: MetricServiceClient, project: str, base: datetime, aligner: str, reducer: str = ""
) -> list[Any]:
    """``HEALTH`` over (base, base+6m] in two three-minute periods, newest first."""
    aggregation: dict[str, Any] = {
        "alignment_period": {"seconds": 180},
        "per_series_aligner": aligner,
    }
    if reducer:
        aggregation |= {"cross_series_reducer": reducer, "group_by_fields": ["resource.type"]}
    return read(
        monitoring,
        project,
        f'metric.type = "{HEALTHY}"',
        base,
        base + timedelta(minutes=6),
        **aggregation,
    )


@pytest.mark.parametrize(
    ("aligner", "value_type", "env1", "env2"),
    [
        # (3m, 6m]: true, false, false; (0, 3m]: true, false, true
        ("ALIGN_FRACTION_TRUE", "DOUBLE", [1 / 3, 2 / 3], [1.0, 1.0]),
        ("ALIGN_COUNT_TRUE", "INT64", [1, 2], [3, 3]),
        ("ALIGN_COUNT_FALSE", "INT64", [2, 1], [0, 0]),
        ("ALIGN_COUNT", "INT64", [3, 3], [3, 3]),
    ],
)
def test_bool_aligners_count_true_and_false_points(
    emulator: Endpoint,
    monitoring: MetricServiceClient,
    project: str,
    base: datetime,
    aligner: str,
    value_type: str,
    env1: list[float],
    env2: list[float],
) -> None:
    seed_points(emulator, project, HEALTHY, "GAUGE", HEALTH, base)
    found = health(monitoring, project, base, aligner)
    got = {}
    for one in found:
        assert one.metric_kind == MetricDescriptor.MetricKind.GAUGE
        assert one.value_type == MetricDescriptor.ValueType.Value(value_type)
        got[one.resource.labels["environment_name"]] = [
            p.value.double_value if value_type == "DOUBLE" else p.value.int64_value
            for p in one.points
        ]
    assert got == {"env1": pytest.approx(env1), "env2": env2}


def test_bool_aligners_then_reducers(
    emulator: Endpoint, monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    seed_points(emulator, project, HEALTHY, "GAUGE", HEALTH, base)
    (raw,) = read(
        monitoring,
        project,
        f'metric.type = "{HEALTHY}" AND resource.labels.environment_name = "env1"',
        base,
        base + timedelta(minutes=6),
    )
    assert raw.value_type == MetricDescriptor.ValueType.BOOL
    assert [p.value.bool_value for p in raw.points] == HEALTH["env1"][::-1]
    (mean,) = health(monitoring, project, base, "ALIGN_FRACTION_TRUE", "REDUCE_MEAN")
    assert mean.value_type == MetricDescriptor.ValueType.DOUBLE
    assert values(mean) == [pytest.approx((1 / 3 + 1) / 2), pytest.approx((2 / 3 + 1) / 2)]
    (trues,) = health(monitoring, project, base, "ALIGN_COUNT_TRUE", "REDUCE_SUM")
    assert trues.value_type == MetricDescriptor.ValueType.INT64
    assert values(trues) == [1 + 3, 2 + 3]


def test_bool_aligners_need_a_bool_gauge(
    emulator: Endpoint,
    monitoring: MetricServiceClient,
    project: str,
    base: datetime,
    latency: str,
) -> None:
    seed_points(emulator, project, HEALTHY, "GAUGE", HEALTH, base)
    delta_bool = "composer.googleapis.com/environment/delta_flag"
    seed_points(emulator, project, delta_bool, "DELTA", {"env1": [True, False]}, base)
    parse_errors = "composer.googleapis.com/environment/dag_processing/parse_error_count"
    seed_points(emulator, project, parse_errors, "GAUGE", {"env1": [1, 0]}, base)
    window = (base, base + timedelta(minutes=6))

    def refusal(filter_: str, aligner: str) -> str:
        with pytest.raises(exceptions.InvalidArgument) as caught:
            read(
                monitoring,
                project,
                filter_,
                *window,
                alignment_period={"seconds": 180},
                per_series_aligner=aligner,
            )
        return str(caught.value.message)

    prefix = 'Field aggregation.perSeriesAligner had an invalid value of "ALIGN_FRACTION_TRUE": '
    assert refusal(f'metric.type = "{delta_bool}"', "ALIGN_FRACTION_TRUE") == (
        prefix + "The aligner cannot be applied to metrics with kind DELTA and value type BOOL."
    )
    assert refusal(f'metric.type = "{parse_errors}"', "ALIGN_FRACTION_TRUE").endswith(
        "kind GAUGE and value type INT64."
    )
    # a log-based metric is DELTA, never BOOL
    assert refusal(latency, "ALIGN_COUNT_TRUE").endswith("kind DELTA and value type DISTRIBUTION.")
    # and a BOOL series takes no numeric aligner
    assert refusal(f'metric.type = "{HEALTHY}"', "ALIGN_MEAN").endswith(
        "kind GAUGE and value type BOOL."
    )
    # ALIGN_COUNT takes DELTA BOOL series too
    (counted,) = read(
        monitoring,
        project,
        f'metric.type = "{delta_bool}"',
        *window,
        alignment_period={"seconds": 360},
        per_series_aligner="ALIGN_COUNT",
    )
    assert values(counted) == [2]
