"""Written time series, all through the real clients: CreateTimeSeries with the Monitoring
MetricServiceClient, the emulator's ``timeSeries:seed`` endpoint over HTTP, and reading back
with ListTimeSeries (alignment and reduction checked by hand) and ListMetricDescriptors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.api.metric_pb2 import MetricDescriptor
from google.api_core import exceptions
from google.cloud.monitoring_v3 import CreateTimeSeriesSummary, MetricServiceClient

from observability import gcp
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint

pytestmark = pytest.mark.integration

GLOBAL = {"type": "global", "labels": {"project_id": "p"}}
LATENCY = "custom.googleapis.com/queue/latency"
REQUESTS = "custom.googleapis.com/http/requests"


def one_series(
    metric_type: str,
    value: dict[str, Any],
    end: datetime,
    start: datetime | None = None,
    kind: str = "",
    labels: dict[str, str] | None = None,
    resource: dict[str, Any] = GLOBAL,
) -> dict[str, Any]:
    interval = {"end_time": end, **({"start_time": start} if start else {})}
    series: dict[str, Any] = {
        "metric": {"type": metric_type, "labels": labels or {}},
        "resource": resource,
        "points": [{"interval": interval, "value": value}],
    }
    if kind:
        series["metric_kind"] = kind
    return series


def create(monitoring: MetricServiceClient, project: str, *series: dict[str, Any]) -> None:
    monitoring.create_time_series(
        request={"name": f"projects/{project}", "time_series": list(series)}
    )


def read(
    monitoring: MetricServiceClient,
    project: str,
    filter_: str,
    start: datetime,
    end: datetime,
    **aggregation: Any,
) -> list[Any]:
    request: dict[str, Any] = {
        "name": f"projects/{project}",
        "filter": filter_,
        "interval": {"start_time": start, "end_time": end},
    }
    if aggregation:
        request["aggregation"] = aggregation
    return list(monitoring.list_time_series(request=request))


def values(found: Any) -> list[float]:
    return [p.value.double_value or p.value.int64_value for p in found.points]


def seed(emulator: Endpoint, project: str, body: Any) -> tuple[int, dict[str, Any]]:
    """POST the seed endpoint; answers the HTTP status and the JSON body (also on errors)."""
    request = urllib.request.Request(
        f"{emulator.http_url}/v1/emulator/projects/{project}/timeSeries:seed",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def test_custom_gauge_reads_back_aligned_and_reduced(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    hosts = {"a": [1.0, 3.0, 5.0, 7.0], "b": [10.0, 20.0, 30.0, 40.0]}
    for minute in range(4):
        end = base + timedelta(seconds=30 + 60 * minute)
        create(
            monitoring,
            project,
            *(
                one_series(LATENCY, {"double_value": v[minute]}, end, labels={"host": h})
                for h, v in hosts.items()
            ),
        )
    filter_ = f'metric.type = "{LATENCY}"'
    end = base + timedelta(minutes=4)
    raw = read(monitoring, project, filter_ + ' AND metric.labels.host = "a"', base, end)
    (a,) = raw
    assert a.metric_kind == MetricDescriptor.MetricKind.GAUGE
    assert a.value_type == MetricDescriptor.ValueType.DOUBLE
    assert values(a) == [7.0, 5.0, 3.0, 1.0]  # newest first
    assert a.points[0].interval.start_time == a.points[0].interval.end_time

    mean_sum = read(
        monitoring,
        project,
        filter_,
        base,
        end,
        alignment_period={"seconds": 120},
        per_series_aligner="ALIGN_MEAN",
        cross_series_reducer="REDUCE_SUM",
    )
    # (base+2m, base+4m]: means 6 (a) + 35 (b); (base, base+2m]: 2 + 15
    assert [values(s) for s in mean_sum] == [[41.0, 17.0]]
    maxima = read(
        monitoring,
        project,
        filter_,
        base,
        end,
        alignment_period={"seconds": 120},
        per_series_aligner="ALIGN_MAX",
        cross_series_reducer="REDUCE_MEAN",
        group_by_fields=["metric.label.host"],
    )
    assert {s.metric.labels["host"]: values(s) for s in maxima} == {
        "a": [7.0, 3.0],
        "b": [40.0, 20.0],
    }
    with pytest.raises(exceptions.InvalidArgument, match="kind GAUGE and value type DOUBLE"):
        read(
            monitoring,
            project,
            filter_,
            base,
            end,
            alignment_period={"seconds": 120},
            per_series_aligner="ALIGN_DELTA",
        )


def test_cumulative_rate_is_the_increase_per_second(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    totals = [10, 40, 100, 160]  # at base + 1, 2, 3, 4 minutes, all counted from base
    for minute, total in enumerate(totals, start=1):
        end = base + timedelta(minutes=minute)
        create(
            monitoring,
            project,
            one_series(REQUESTS, {"int64_value": total}, end, start=base, kind="CUMULATIVE"),
        )
    # a reset: a new start time, counting from zero again
    reset = base + timedelta(minutes=4, seconds=30)
    create(
        monitoring,
        project,
        one_series(
            REQUESTS,
            {"int64_value": 5},
            base + timedelta(minutes=5),
            start=reset,
            kind="CUMULATIVE",
        ),
    )
    filter_ = f'metric.type = "{REQUESTS}"'
    (raw,) = read(monitoring, project, filter_, base, base + timedelta(minutes=4))
    assert raw.metric_kind == MetricDescriptor.MetricKind.CUMULATIVE
    assert values(raw) == [160, 100, 40, 10]

    (rate,) = read(
        monitoring,
        project,
        filter_,
        base,
        base + timedelta(minutes=4),
        alignment_period={"seconds": 120},
        per_series_aligner="ALIGN_RATE",
    )
    # (2m, 4m]: 60 + 60 over 120 s; (0, 2m]: 10 (since the start) + 30 over 120 s
    assert values(rate) == [pytest.approx(1.0), pytest.approx(40 / 120)]
    assert rate.metric_kind == MetricDescriptor.MetricKind.GAUGE

    # the interval starts after the first points: the delta still counts from the one before
    (delta,) = read(
        monitoring,
        project,
        filter_,
        base + timedelta(minutes=2),
        base + timedelta(minutes=6),
        alignment_period={"seconds": 120},
        per_series_aligner="ALIGN_DELTA",
    )
    assert delta.metric_kind == MetricDescriptor.MetricKind.DELTA
    # (4m, 6m]: the reset point, 5; (2m, 4m]: 60 + 60
    assert values(delta) == [5, 120]


def test_distribution_gauge_keeps_its_buckets(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    durations = "custom.googleapis.com/task/durations"
    distribution = {
        "count": 4,
        "mean": 15.0,
        "sum_of_squared_deviation": 350.0,
        "range": {"min": 5.0, "max": 30.0},
        "bucket_options": {"explicit_buckets": {"bounds": [0.0, 10.0, 20.0]}},
        "bucket_counts": [0, 2, 1, 1],
    }
    create(monitoring, project, one_series(durations, {"distribution_value": distribution}, base))
    filter_ = f'metric.type = "{durations}"'
    (raw,) = read(monitoring, project, filter_, base, base)
    assert raw.value_type == MetricDescriptor.ValueType.DISTRIBUTION
    value = raw.points[0].value.distribution_value
    assert (value.count, value.mean, list(value.bucket_counts)) == (4, 15.0, [0, 2, 1, 1])
    assert value.sum_of_squared_deviation == pytest.approx(350.0)
    assert list(value.bucket_options.explicit_buckets.bounds) == [0.0, 10.0, 20.0]
    (median,) = read(
        monitoring,
        project,
        filter_,
        base - timedelta(minutes=1),
        base,
        alignment_period={"seconds": 60},
        per_series_aligner="ALIGN_PERCENTILE_50",
    )
    # rank 2 of 4 ends the [0, 10) bucket, whose values start at the minimum, 5
    assert values(median) == [pytest.approx(10.0)]


def test_seed_stands_in_for_composer_system_metrics(
    emulator: Endpoint, monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    dagbag = "composer.googleapis.com/environment/dagbag_size"
    zombies = "composer.googleapis.com/environment/zombie_task_killed_count"
    long_ago = base - timedelta(hours=30)  # beyond CreateTimeSeries's 25 hours
    body: dict[str, Any] = {"timeSeries": []}
    for env, size in (("env1", 12), ("env2", 40)):
        resource = {
            "type": "cloud_composer_environment",
            "labels": {"project_id": project, "location": "us-central1", "environment_name": env},
        }
        body["timeSeries"] += [
            {
                "metric": {"type": dagbag, "labels": {"image_version": "composer-2"}},
                "resource": resource,
                "metricKind": "GAUGE",
                "valueType": "INT64",
                "points": [
                    {"interval": {"endTime": rfc3339(long_ago)}, "value": {"int64Value": str(size)}}
                ],
            },
            {
                "metric": {"type": zombies},
                "resource": resource,
                "metricKind": "DELTA",
                "points": [
                    {
                        "interval": {
                            "startTime": rfc3339(long_ago - timedelta(minutes=1)),
                            "endTime": rfc3339(long_ago),
                        },
                        "value": {"int64Value": "6"},
                    }
                ],
            },
        ]
    assert seed(emulator, project, body) == (200, {"timeSeriesWritten": 4})

    window = (long_ago - timedelta(minutes=1), long_ago)
    found = read(
        monitoring,
        project,
        f'metric.type = "{dagbag}" AND resource.labels.environment_name = "env2"',
        *window,
    )
    assert [(s.resource.type, s.resource.labels["environment_name"]) for s in found] == [
        ("cloud_composer_environment", "env2")
    ]
    assert values(found[0]) == [40]
    (rate,) = read(
        monitoring,
        project,
        f'metric.type = "{zombies}" AND resource.type = "cloud_composer_environment"',
        *window,
        alignment_period={"seconds": 60},
        per_series_aligner="ALIGN_RATE",
        cross_series_reducer="REDUCE_SUM",
    )
    assert values(rate) == [pytest.approx(12 / 60)]

    listed = monitoring.list_metric_descriptors(
        request={"name": f"projects/{project}", "filter": 'metric.type = starts_with("composer")'}
    )
    kinds = {d.type: (d.metric_kind, d.value_type, [k.key for k in d.labels]) for d in listed}
    assert kinds == {
        dagbag: (
            MetricDescriptor.MetricKind.GAUGE,
            MetricDescriptor.ValueType.INT64,
            ["image_version"],
        ),
        zombies: (MetricDescriptor.MetricKind.DELTA, MetricDescriptor.ValueType.INT64, []),
    }

    # the same rules otherwise: a gauge with a start time before its end is refused whole
    bad = body["timeSeries"][0] | {"metricKind": "GAUGE"}
    bad["points"] = [
        {
            "interval": {"startTime": rfc3339(base), "endTime": rfc3339(base + timedelta(1))},
            "value": {"int64Value": "1"},
        }
    ]
    status, error = seed(emulator, project, {"timeSeries": [bad]})
    assert status == 400
    assert "must be equal to the end time" in error["error"]["message"]
    status, error = seed(emulator, project, {"timeSeries": [{"metric": {"typo": "x"}}]})
    assert status == 400
    assert "timeSeries[0]" in error["error"]["message"]
    assert "typo" in error["error"]["message"]


def test_written_descriptors_are_listed(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    create(
        monitoring,
        project,
        one_series(LATENCY, {"double_value": 1.5}, base, labels={"host": "a"}),
    )
    create(
        monitoring,
        project,
        one_series(LATENCY, {"double_value": 2.5}, base + timedelta(1 / 1440), labels={"q": "x"}),
    )
    descriptor = monitoring.get_metric_descriptor(
        name=f"projects/{project}/metricDescriptors/{LATENCY}"
    )
    assert descriptor.metric_kind == MetricDescriptor.MetricKind.GAUGE
    assert descriptor.value_type == MetricDescriptor.ValueType.DOUBLE
    assert sorted(label.key for label in descriptor.labels) == ["host", "q"]


def refusal(monitoring: MetricServiceClient, project: str, *series: dict[str, Any]) -> str:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        create(monitoring, project, *series)
    return str(caught.value.message)


def test_rejections_name_the_series_and_field(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    gauge = one_series(LATENCY, {"double_value": 1.0}, base)
    assert refusal(
        monitoring, project, one_series("compute.googleapis.com/x", {"double_value": 1}, base)
    ).startswith('Field timeSeries[0].metric.type had an invalid value of "compute.googleapis')
    too_many = [
        one_series(LATENCY, {"double_value": 1.0}, base, labels={"n": str(n)}) for n in range(201)
    ]
    assert "at most 200 TimeSeries" in refusal(monitoring, project, *too_many)
    two_points = one_series(LATENCY, {"double_value": 1.0}, base)
    two_points["points"] *= 2
    assert refusal(monitoring, project, gauge, two_points) == (
        "Field timeSeries[1].points had an invalid value: "
        "Only one point can be written per TimeSeries per request."
    )
    assert "Duplicate TimeSeries" in refusal(monitoring, project, gauge, gauge)
    assert refusal(
        monitoring,
        project,
        one_series(LATENCY, {"double_value": 1.0}, base, start=base - timedelta(minutes=1)),
    ) == (
        f"Field timeSeries[0].points[0].interval.start_time had an invalid value of "
        f'"{rfc3339(base - timedelta(minutes=1))}": The start time must be equal to the end '
        f"time ({rfc3339(base)}) for the gauge metric '{LATENCY}'."
    )
    assert refusal(
        monitoring,
        project,
        one_series(REQUESTS, {"int64_value": 1}, base, start=base, kind="CUMULATIVE"),
    ).endswith(
        f"must be before the end time ({rfc3339(base)}) for the non-gauge metric '{REQUESTS}'."
    )
    assert "must be GAUGE or CUMULATIVE" in refusal(
        monitoring,
        project,
        one_series(REQUESTS, {"int64_value": 1}, base, start=base - timedelta(1), kind="DELTA"),
    )
    assert "more than 25h in the past" in refusal(
        monitoring, project, one_series(LATENCY, {"double_value": 1.0}, base - timedelta(days=2))
    )
    # nothing of those refusals was written
    assert read(monitoring, project, f'metric.type = "{LATENCY}"', base, base) == []


def test_descriptor_is_fixed_by_the_first_write(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    create(monitoring, project, one_series(LATENCY, {"double_value": 1.0}, base))
    later = base + timedelta(minutes=1)
    message = refusal(monitoring, project, one_series(LATENCY, {"int64_value": 1}, later))
    assert message == (
        "One or more TimeSeries could not be written: Value type for metric "
        f"{LATENCY} must be DOUBLE, but is INT64.: global{{project_id:p}} "
        f"timeSeries[0]: {LATENCY}{{}}"
    )
    message = refusal(
        monitoring,
        project,
        one_series(LATENCY, {"double_value": 1.0}, later, start=base, kind="CUMULATIVE"),
    )
    assert f"Metric kind for metric {LATENCY} must be GAUGE, but is CUMULATIVE." in message


def test_points_must_be_written_in_order_and_others_are_kept(
    monitoring: MetricServiceClient, project: str, base: datetime
) -> None:
    create(monitoring, project, one_series(LATENCY, {"double_value": 1.0}, base))
    older = one_series(LATENCY, {"double_value": 2.0}, base - timedelta(seconds=1))
    other = one_series(LATENCY, {"double_value": 3.0}, base, labels={"host": "b"})
    with pytest.raises(exceptions.InvalidArgument) as caught:
        create(monitoring, project, other, older)
    assert str(caught.value.message) == (
        "One or more TimeSeries could not be written: Points must be written in order. One or "
        "more of the points specified had an older end time than the most recent point.: "
        f"global{{project_id:p}} timeSeries[1]: {LATENCY}{{}}"
    )
    (detail,) = caught.value.details  # google-api-core leaves this type packed in an Any
    summary = CreateTimeSeriesSummary.pb()()
    assert detail.Unpack(summary)
    assert (summary.total_point_count, summary.success_point_count) == (2, 1)
    assert [e.status.message for e in summary.errors] == [str(caught.value.message)]
    found = read(monitoring, project, f'metric.type = "{LATENCY}"', base, base)
    assert sorted(values(s)[0] for s in found) == [1.0, 3.0]  # the refused point is not there


def test_written_series_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "emulator"
    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    with emulator_process(data_dir) as endpoint:
        client = gcp.monitoring_metric_api(endpoint)
        create(client, "restart", one_series(LATENCY, {"double_value": 4.5}, end))
        client.transport.close()
    with emulator_process(data_dir) as endpoint:
        client = gcp.monitoring_metric_api(endpoint)
        (found,) = read(client, "restart", f'metric.type = "{LATENCY}"', end, end)
        assert values(found) == [4.5]
        # the newest point survived too: an older one is still out of order
        with pytest.raises(exceptions.InvalidArgument, match="written in order"):
            create(
                client,
                "restart",
                one_series(LATENCY, {"double_value": 1.0}, end - timedelta(seconds=5)),
            )
        client.transport.close()
