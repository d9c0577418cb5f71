"""MetricsServiceV2 through the real GAPIC client: CRUD, and each validation rule Google
documents, refused (INVALID_ARGUMENT naming the field) and accepted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.api.metric_pb2 import MetricDescriptor
from google.api_core import exceptions
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.logging_v2.types import LogEntry, LogMetric

from observability import gcp
from observability.emulator.process import emulator_process

pytestmark = pytest.mark.integration

FILTER = 'jsonPayload.event="task_failed"'
DAG_LABEL = {"key": "dag_id", "value_type": "STRING"}


def create(client: MetricsServiceV2Client, project: str, **metric: Any) -> LogMetric:
    metric.setdefault("filter", FILTER)
    return client.create_log_metric(request={"parent": f"projects/{project}", "metric": metric})


def distribution(**overrides: Any) -> dict[str, Any]:
    metric = {
        "name": "durations",
        "filter": FILTER,
        "metric_descriptor": {"metric_kind": "DELTA", "value_type": "DISTRIBUTION"},
        "value_extractor": "EXTRACT(jsonPayload.duration)",
        "bucket_options": {"explicit_buckets": {"bounds": [1, 10, 100]}},
    }
    metric.update(overrides)
    return metric


def labelled(count: int = 1, **overrides: Any) -> dict[str, Any]:
    keys = [f"l{i}" for i in range(count)]
    metric = {
        "name": "labelled",
        "filter": FILTER,
        "metric_descriptor": {"labels": [{"key": key} for key in keys]},
        "label_extractors": {key: "EXTRACT(jsonPayload.dag_id)" for key in keys},
    }
    metric.update(overrides)
    return metric


def test_crud_round_trip(metrics: MetricsServiceV2Client, project: str) -> None:
    created = create(
        metrics,
        project,
        name="composer_obs/task_failures",
        description="failed tasks",
        metric_descriptor={"labels": [DAG_LABEL]},
        label_extractors={"dag_id": "EXTRACT(jsonPayload.dag_id)"},
    )
    assert (
        created.metric_descriptor.type == "logging.googleapis.com/user/composer_obs/task_failures"
    )
    assert created.metric_descriptor.metric_kind == MetricDescriptor.MetricKind.DELTA
    assert created.metric_descriptor.value_type == MetricDescriptor.ValueType.INT64
    assert created.create_time and created.update_time

    path = f"projects/{project}/metrics/composer_obs/task_failures"
    got = metrics.get_log_metric(metric_name=path)
    assert got == created

    with pytest.raises(exceptions.AlreadyExists):
        create(metrics, project, name="composer_obs/task_failures")

    create(metrics, project, name="other")
    names = [m.name for m in metrics.list_log_metrics(parent=f"projects/{project}")]
    assert names == ["composer_obs/task_failures", "other"]
    paged = metrics.list_log_metrics(request={"parent": f"projects/{project}", "page_size": 1})
    assert [m.name for m in paged] == names  # the pager follows the page token

    changed = LogMetric(got)
    changed.filter = 'jsonPayload.event="task_retry"'
    changed.metric_descriptor.labels.add(key="task_id")
    changed.label_extractors["task_id"] = "EXTRACT(jsonPayload.task_id)"
    updated = metrics.update_log_metric(request={"metric_name": path, "metric": changed})
    assert updated.filter == 'jsonPayload.event="task_retry"'
    assert updated.create_time == created.create_time
    assert [label.key for label in updated.metric_descriptor.labels] == ["dag_id", "task_id"]

    metrics.delete_log_metric(metric_name=path)
    with pytest.raises(exceptions.NotFound):
        metrics.get_log_metric(metric_name=path)
    with pytest.raises(exceptions.NotFound):
        metrics.delete_log_metric(metric_name=path)


def test_update_creates_a_missing_metric(metrics: MetricsServiceV2Client, project: str) -> None:
    made = metrics.update_log_metric(
        request={"metric_name": f"projects/{project}/metrics/fresh", "metric": {"filter": FILTER}}
    )
    assert made.name == "fresh"
    assert metrics.get_log_metric(metric_name=f"projects/{project}/metrics/fresh").name == "fresh"


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("name too long", {"name": "m" * 101}, "metric.name: at most 100"),
    ("name starts with /", {"name": "/m"}, "metric.name: must not start with '/'"),
    ("name bad character", {"name": "a b"}, "metric.name: may only contain"),
    ("name missing", {"name": ""}, "metric.name: required"),
    ("filter missing", {"name": "m", "filter": " "}, "metric.filter: required"),
    ("filter does not parse", {"name": "m", "filter": "a = (b"}, "metric.filter:"),
    ("filter too long", {"name": "m", "filter": "a" * 20_001}, "metric.filter: 20001"),
    ("eleven labels", labelled(11), "metric.metric_descriptor.labels: 11 labels"),
    (
        "extractor without a label",
        labelled(1, label_extractors={"l0": "EXTRACT(jsonPayload.a)", "x": "EXTRACT(labels.x)"}),
        "metric.label_extractors[x]: the label 'x' is not declared",
    ),
    (
        "label without an extractor",
        labelled(1, label_extractors={}),
        "the label 'l0' has no extractor",
    ),
    (
        "extractor syntax",
        labelled(1, label_extractors={"l0": "jsonPayload.dag_id"}),
        "metric.label_extractors[l0]: must be EXTRACT(field) or REGEXP_EXTRACT",
    ),
    (
        "extractor unknown field",
        labelled(1, label_extractors={"l0": "EXTRACT(nosuch.x)"}),
        "metric.label_extractors[l0]: 'nosuch.x' is not a log entry field",
    ),
    (
        "regex without a group",
        labelled(1, label_extractors={"l0": 'REGEXP_EXTRACT(textPayload, "dag=\\\\w+")'}),
        "exactly one capture group, it has 0",
    ),
    (
        "regex with two groups",
        labelled(1, label_extractors={"l0": 'REGEXP_EXTRACT(textPayload, "(a)(b)")'}),
        "exactly one capture group, it has 2",
    ),
    (
        "bad label key",
        labelled(
            1,
            metric_descriptor={"labels": [{"key": "9x"}]},
            label_extractors={"9x": "EXTRACT(jsonPayload.a)"},
        ),
        "metric.metric_descriptor.labels[0].key: must start with a letter",
    ),
    (
        "distribution without value extractor",
        distribution(value_extractor=""),
        "metric.value_extractor: required for a DISTRIBUTION",
    ),
    (
        "distribution without buckets",
        {k: v for k, v in distribution().items() if k != "bucket_options"},
        "metric.bucket_options: required for a DISTRIBUTION",
    ),
    (
        "too many linear buckets",
        distribution(bucket_options={"linear_buckets": {"num_finite_buckets": 199, "width": 1}}),
        "metric.bucket_options: 201 buckets",
    ),
    (
        "exponential growth factor",
        distribution(
            bucket_options={
                "exponential_buckets": {"num_finite_buckets": 5, "growth_factor": 1, "scale": 1}
            }
        ),
        "metric.bucket_options.exponential_buckets.growth_factor: must be > 1",
    ),
    (
        "explicit bounds not increasing",
        distribution(bucket_options={"explicit_buckets": {"bounds": [1, 1]}}),
        "metric.bucket_options.explicit_buckets.bounds: must be strictly increasing",
    ),
    (
        "counter with a value extractor",
        {"name": "m", "value_extractor": "EXTRACT(jsonPayload.duration)"},
        "metric.value_extractor: only a DISTRIBUTION metric",
    ),
    (
        "gauge kind",
        {"name": "m", "metric_descriptor": {"metric_kind": "GAUGE", "value_type": "INT64"}},
        "metric.metric_descriptor.metric_kind: log-based metrics are DELTA",
    ),
    (
        "double value type",
        {"name": "m", "metric_descriptor": {"metric_kind": "DELTA", "value_type": "DOUBLE"}},
        "metric.metric_descriptor.value_type: must be INT64",
    ),
]

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("name of 100 characters", {"name": "m" * 100}),
    ("name with slashes and punctuation", {"name": "a/b_c-d.e,f+g!h*i'j(k)l%20"}),
    ("ten labels", labelled(10)),
    (
        "regex with one group",
        labelled(1, label_extractors={"l0": 'REGEXP_EXTRACT(textPayload, "dag=(\\\\w+)")'}),
    ),
    (
        "quoted label path",
        labelled(1, label_extractors={"l0": 'EXTRACT(labels."task-id")'}),
    ),
    ("distribution, explicit", distribution()),
    (
        "distribution, 198 linear buckets (200 with the overflow ones)",
        distribution(bucket_options={"linear_buckets": {"num_finite_buckets": 198, "width": 1}}),
    ),
    (
        "distribution, exponential",
        distribution(
            bucket_options={
                "exponential_buckets": {"num_finite_buckets": 10, "growth_factor": 2, "scale": 1}
            }
        ),
    ),
    ("explicit counter kind", {"name": "m", "metric_descriptor": {"metric_kind": "DELTA"}}),
]


@pytest.mark.parametrize(("case", "metric", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(
    metrics: MetricsServiceV2Client, project: str, case: str, metric: dict[str, Any], message: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        create(metrics, project, **metric)
    assert message in caught.value.message, caught.value.message


def test_filter_error_gives_the_position(metrics: MetricsServiceV2Client, project: str) -> None:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        create(metrics, project, name="m", filter='severity>=ERROR AND ("x"')
    assert "position" in caught.value.message


@pytest.mark.parametrize(("case", "metric"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(
    metrics: MetricsServiceV2Client, project: str, case: str, metric: dict[str, Any]
) -> None:
    created = create(metrics, project, **metric)
    assert created.name == metric["name"]


UPDATE_REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "value type changed",
        distribution(name="u"),
        "metric.metric_descriptor.value_type: cannot be changed",
    ),
    (
        "label removed",
        {"name": "u", "filter": FILTER},
        "the label 'dag_id' cannot be removed",
    ),
    (
        "label retyped",
        {
            "name": "u",
            "filter": FILTER,
            "metric_descriptor": {"labels": [{"key": "dag_id", "value_type": "INT64"}]},
            "label_extractors": {"dag_id": "EXTRACT(jsonPayload.dag_id)"},
        },
        "the type of label 'dag_id' cannot be changed",
    ),
    ("name differs", {"name": "other", "filter": FILTER}, "metric.name: 'other' differs"),
]


@pytest.mark.parametrize(
    ("case", "metric", "message"), UPDATE_REFUSED, ids=[c[0] for c in UPDATE_REFUSED]
)
def test_update_refused(
    metrics: MetricsServiceV2Client, project: str, case: str, metric: dict[str, Any], message: str
) -> None:
    create(
        metrics,
        project,
        name="u",
        metric_descriptor={"labels": [DAG_LABEL]},
        label_extractors={"dag_id": "EXTRACT(jsonPayload.dag_id)"},
    )
    with pytest.raises(exceptions.InvalidArgument) as caught:
        metrics.update_log_metric(
            request={"metric_name": f"projects/{project}/metrics/u", "metric": metric}
        )
    assert message in caught.value.message, caught.value.message


def test_metrics_and_points_survive_a_restart(tmp_path: Any) -> None:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with emulator_process(tmp_path / "data") as endpoint:
        client = gcp.metrics_api(endpoint)
        create(client, "p", name="kept")
        client.transport.close()
        api = gcp.logging_api(endpoint)
        api.write_log_entries(
            log_name="projects/p/logs/x",
            resource={"type": "global"},
            entries=[LogEntry(json_payload={"event": "task_failed"}, timestamp=now)] * 2,
        )
        api.transport.close()
    with emulator_process(tmp_path / "data") as endpoint:
        client = gcp.metrics_api(endpoint)
        assert client.get_log_metric(metric_name="projects/p/metrics/kept").filter == FILTER
        client.transport.close()
        monitoring = gcp.monitoring_metric_api(endpoint)
        (series,) = monitoring.list_time_series(
            request={
                "name": "projects/p",
                "filter": 'metric.type = "logging.googleapis.com/user/kept"',
                "interval": {"start_time": now, "end_time": now + timedelta(minutes=1)},
            }
        )
        assert [p.value.int64_value for p in series.points] == [2]
        monitoring.transport.close()
