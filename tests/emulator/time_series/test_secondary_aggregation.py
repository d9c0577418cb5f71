"""ListTimeSeries' ``secondary_aggregation``, and an alert condition's ``aggregations`` list,
applied after (and on the output of) the first aggregation.

Composer's DELTA counters per environment go in through the emulator's ``timeSeries:seed``
endpoint and are read back with the Monitoring MetricServiceClient; the alert condition runs
in-process on a hand-moved clock through the same engine. Every expected value is worked out
by hand below, with the answer a wrong order of operations would give next to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.api.metric_pb2 import MetricDescriptor
from google.api_core import exceptions
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3 import MetricServiceClient

from observability.gcp import Endpoint
from tests.emulator.alerting.test_evaluator import World, threshold
from tests.emulator.time_series.test_written import rfc3339, seed, values

pytestmark = pytest.mark.integration

EVICTIONS = "composer.googleapis.com/environment/worker/pod_eviction_count"
ZOMBIES = "composer.googleapis.com/environment/zombie_task_killed_count"
COMPOSER_DASHBOARD = (
    Path(__file__).resolve().parents[2]
    / "fixtures/dashboards/google-cloud-composer/cloud-composer-monitoring.json"
)
# evictions in each of the five minutes after ``base`` (None: no point that minute)
COUNTS: dict[tuple[str, str], list[int | None]] = {
    ("env1", "us-central1"): [6, None, 12, None, 24],
    ("env2", "us-central1"): [30, 40, 10, 20, 5],
    ("env3", "europe-west1"): [60, 60, 60, 60, 60],
}
US = 'resource.labels.location = "us-central1"'


def seed_counts(emulator: Endpoint, project: str, metric_type: str, base: datetime) -> None:
    """``COUNTS`` as DELTA INT64 points over ``[base + m, base + m + 1 minute)``, one request
    a minute (a series' points are written in time order)."""
    for minute in range(5):
        start = base + timedelta(minutes=minute)
        interval = {"startTime": rfc3339(start), "endTime": rfc3339(start + timedelta(minutes=1))}
        body: dict[str, Any] = {"timeSeries": []}
        for (env, location), counts in COUNTS.items():
            if counts[minute] is None:
                continue
            labels = {"project_id": project, "location": location, "environment_name": env}
            body["timeSeries"].append(
                {
                    "metric": {"type": metric_type},
                    "resource": {"type": "cloud_composer_environment", "labels": labels},
                    "metricKind": "DELTA",
                    "valueType": "INT64",
                    "points": [
                        {"interval": interval, "value": {"int64Value": str(counts[minute])}}
                    ],
                }
            )
        assert seed(emulator, project, body) == (
            200,
            {"timeSeriesWritten": len(body["timeSeries"])},
        )


def aggregation(period: int, aligner: str, reducer: str = "", *group_by: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"per_series_aligner": aligner, "group_by_fields": list(group_by)}
    if period:
        spec["alignment_period"] = {"seconds": period}
    if reducer:
        spec["cross_series_reducer"] = reducer
    return spec


def read(
    monitoring: MetricServiceClient,
    project: str,
    filter_: str,
    base: datetime,
    first: dict[str, Any] | None,
    second: dict[str, Any] | None,
) -> list[Any]:
    """ListTimeSeries over the five minutes after ``base`` with the two aggregations."""
    request: dict[str, Any] = {
        "name": f"projects/{project}",
        "filter": f'metric.type = "{EVICTIONS}" {filter_}',
        "interval": {"start_time": base, "end_time": base + timedelta(minutes=5)},
    }
    if first is not None:
        request["aggregation"] = first
    if second is not None:
        request["secondary_aggregation"] = second
    return list(monitoring.list_time_series(request=request))


@pytest.fixture
def evictions(emulator: Endpoint, project: str, base: datetime) -> str:
    seed_counts(emulator, project, EVICTIONS, base)
    return project


def test_mean_of_the_per_minute_rates_then_summed_by_location(
    monitoring: MetricServiceClient, evictions: str, base: datetime
) -> None:
    rates = read(monitoring, evictions, "", base, aggregation(60, "ALIGN_RATE"), None)
    assert sorted(len(s.points) for s in rates) == [3, 5, 5]  # env1 has no point in 2 minutes

    found = read(
        monitoring,
        evictions,
        "",
        base,
        aggregation(60, "ALIGN_RATE"),
        aggregation(300, "ALIGN_MEAN", "REDUCE_SUM", "resource.label.location"),
    )
    by_location = {s.resource.labels["location"]: s for s in found}
    assert sorted(by_location) == ["europe-west1", "us-central1"]
    us = by_location["us-central1"]
    # env1: the mean of its three rates, (6 + 12 + 24) / 3 / 60 (not over five minutes,
    # 42 / 300); env2: 105 / 5 / 60; summed. Summing the envs first and then averaging the
    # five minutes, or a rate over the whole five minutes, would both answer 147 / 300 = 0.49.
    assert values(us) == [pytest.approx(42 / 3 / 60 + 105 / 5 / 60)]
    assert values(by_location["europe-west1"]) == [pytest.approx(1.0)]
    assert dict(us.resource.labels) == {"location": "us-central1"}
    assert (us.metric_kind, us.value_type) == (
        MetricDescriptor.MetricKind.GAUGE,
        MetricDescriptor.ValueType.DOUBLE,
    )
    assert us.points[0].interval.end_time == base + timedelta(minutes=5)


def test_second_alignment_reads_what_the_first_reduced(
    monitoring: MetricServiceClient, evictions: str, base: datetime
) -> None:
    per_minute_total = aggregation(60, "ALIGN_DELTA", "REDUCE_SUM")
    # the us-central1 totals a minute: 36, 40, 22, 20, 29; the largest is 40, where the sum
    # of each environment's largest minute would be 24 + 40 = 64
    (peak,) = read(monitoring, evictions, US, base, per_minute_total, aggregation(300, "ALIGN_MAX"))
    assert values(peak) == [40]
    assert (peak.metric_kind, peak.value_type) == (
        MetricDescriptor.MetricKind.GAUGE,
        MetricDescriptor.ValueType.INT64,
    )
    # the first step's output is DELTA, so ALIGN_DELTA takes it: the five minutes' total
    (total,) = read(
        monitoring, evictions, US, base, per_minute_total, aggregation(300, "ALIGN_DELTA")
    )
    assert values(total) == [36 + 40 + 22 + 20 + 29]
    assert total.metric_kind == MetricDescriptor.MetricKind.DELTA
    assert total.points[0].interval.start_time == base


def test_the_composer_dashboard_tiles_query_as_published(
    monitoring: MetricServiceClient, emulator: Endpoint, evictions: str, base: datetime
) -> None:
    """ "Zombie Tasks Killed" and "Worker Pod Evictions" of Google's Composer dashboard:
    their timeSeriesFilter sent as it is (both aggregations one minute long)."""
    seed_counts(emulator, evictions, ZOMBIES, base)
    dashboard = json.loads(COMPOSER_DASHBOARD.read_text(encoding="utf-8"))
    queries = {
        tile["widget"]["title"]: tile["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"][
            "timeSeriesFilter"
        ]
        for tile in dashboard["mosaicLayout"]["tiles"]
        if "xyChart" in tile["widget"]
    }

    def query(title: str) -> list[Any]:
        spec = queries[title]
        request = monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{evictions}",
            filter=spec["filter"],
            interval={"start_time": base, "end_time": base + timedelta(minutes=5)},
            aggregation=monitoring_v3.Aggregation.from_json(json.dumps(spec["aggregation"])),
            secondary_aggregation=monitoring_v3.Aggregation.from_json(
                json.dumps(spec["secondaryAggregation"])
            ),
        )
        return list(monitoring.list_time_series(request=request))

    # a one-minute mean of one-minute rates is each rate: one series per environment
    zombies = {
        s.resource.labels["environment_name"]: values(s) for s in query("Zombie Tasks Killed")
    }
    assert zombies == {
        env: [pytest.approx(c / 60) for c in reversed(counts) if c is not None]
        for (env, _), counts in COUNTS.items()
    }
    # then REDUCE_MEAN over the environments with a point that minute (env1 twice has none:
    # the mean of two, not three with a zero), newest first
    (mean,) = query("Worker Pod Evictions")
    assert values(mean) == [
        pytest.approx(v) for v in (89 / 3 / 60, 80 / 2 / 60, 82 / 3 / 60, 100 / 2 / 60, 96 / 3 / 60)
    ]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (
            None,
            aggregation(60, "ALIGN_MEAN"),
            "secondary_aggregation: may only be specified if aggregation is specified",
        ),
        (
            aggregation(60, "ALIGN_RATE"),
            aggregation(0, "ALIGN_NONE", "REDUCE_SUM"),
            "secondary_aggregation.per_series_aligner: a cross-series reducer needs an aligner",
        ),
        (
            aggregation(60, "ALIGN_RATE"),
            aggregation(0, "ALIGN_MEAN"),
            "secondary_aggregation.alignment_period: required (and positive) with an aligner",
        ),
        (
            aggregation(60, "ALIGN_RATE"),
            aggregation(60, "ALIGN_MEAN", "REDUCE_SUM", "environment_name"),
            "secondary_aggregation.group_by_fields: 'environment_name' is not metric.label.KEY",
        ),
        # ALIGN_RATE answers GAUGE series, which a second ALIGN_RATE cannot read
        (
            aggregation(60, "ALIGN_RATE"),
            aggregation(300, "ALIGN_RATE"),
            'Field secondaryAggregation.perSeriesAligner had an invalid value of "ALIGN_RATE": '
            "The aligner cannot be applied to metrics with kind GAUGE and value type DOUBLE.",
        ),
    ],
)
def test_refusals_name_the_secondary_field(
    monitoring: MetricServiceClient,
    evictions: str,
    base: datetime,
    first: dict[str, Any] | None,
    second: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        read(monitoring, evictions, "", base, first, second)
    assert str(caught.value.message).startswith(message)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    one = World(tmp_path)
    yield one
    one.close()


def test_alert_condition_applies_its_aggregations_in_order(world: World) -> None:
    """Failures a minute by DAG, then summed over five minutes: two failures twice, two
    minutes apart, make four, above 3, where either minute alone (the first aggregation
    only) never is; the incident lasts while both minutes are inside the five."""
    world.metric("failures", "task_failed")
    condition = threshold("failures", value=3)
    condition["conditionThreshold"]["aggregations"].append(
        {"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_SUM"}
    )
    pid = world.policy({"conditions": [condition]})
    first_only = threshold("failures", value=1)  # the first aggregation alone, above 1
    single = world.policy({"conditions": [first_only]})

    world.write(("task_failed", "a"), ("task_failed", "a"))
    world.advance(60)  # t = minute 1: the five minutes hold 2
    assert (world.open_dags(pid), world.open_dags(single)) == ([], ["a"])
    world.advance(60)
    assert world.open_dags(pid) == []
    world.write(("task_failed", "a"), ("task_failed", "a"))
    world.advance(60)  # minute 3: 2 + 2
    assert world.open_dags(pid) == ["a"]
    (incident,) = world.incidents_of(pid)
    assert incident.detail["observed_value"] == "4"
    world.advance(120)  # minute 5: (0, 5] still holds minute 1
    assert world.open_dags(pid) == ["a"]
    world.advance(60)  # minute 6: (1, 6] holds only the second two
    assert world.open_dags(pid) == []
