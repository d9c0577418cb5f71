"""Alert policies and charts are validated against the descriptors: a condition or chart on
a built-in metric with an aligner that does not fit its kind and value type is refused
INVALID_ARGUMENT naming the field, and so is a condition on a user-defined metric whose
descriptor its project holds; conditions on metrics no descriptor describes yet keep working.
Through the real clients against the emulator process: alert policies over gRPC (the emulator
serves them on no other transport), dashboards over gRPC and REST."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.api import metric_pb2
from google.api_core import exceptions
from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient
from google.cloud.monitoring_dashboard_v1.types import Dashboard
from google.cloud.monitoring_v3 import AlertPolicyServiceClient
from google.cloud.monitoring_v3.types import AlertPolicy, TimeSeries

from observability import gcp
from observability.gcp import Endpoint
from tests.emulator.helpers import emulator_now

pytestmark = pytest.mark.integration

HEALTHY = "composer.googleapis.com/environment/healthy"  # GAUGE BOOL
DAGBAG = "composer.googleapis.com/environment/dagbag_size"  # GAUGE INT64
HEARTBEATS = "composer.googleapis.com/environment/scheduler_heartbeat_count"  # DELTA INT64
LOG_BASED = "logging.googleapis.com/user/composer_obs/task_failures"


def policy(metric_type: str, aligner: str, **extra: Any) -> AlertPolicy:
    body = {
        "displayName": "catalogue check",
        "combiner": "OR",
        "conditions": [
            {
                "displayName": "condition",
                "conditionThreshold": {
                    "filter": f'resource.type="cloud_composer_environment" AND '
                    f'metric.type="{metric_type}"',
                    "aggregations": [{"alignmentPeriod": "300s", "perSeriesAligner": aligner}],
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": 0,
                    "duration": "0s",
                    **extra,
                },
            }
        ],
    }
    return AlertPolicy.from_json(json.dumps(body))


@pytest.fixture(scope="module")
def alerts(emulator: Endpoint) -> Iterator[AlertPolicyServiceClient]:
    client = gcp.alert_policy_api(emulator)
    yield client
    client.transport.close()


@pytest.mark.parametrize(
    ("metric_type", "aligner", "kind"),
    [
        (HEALTHY, "ALIGN_RATE", "GAUGE and value type BOOL"),
        (HEALTHY, "ALIGN_MEAN", "GAUGE and value type BOOL"),
        (DAGBAG, "ALIGN_DELTA", "GAUGE and value type INT64"),
        (HEARTBEATS, "ALIGN_FRACTION_TRUE", "DELTA and value type INT64"),
    ],
)
def test_a_misfit_aligner_on_a_builtin_is_refused_by_field(
    alerts: AlertPolicyServiceClient, project: str, metric_type: str, aligner: str, kind: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument) as caught:
        alerts.create_alert_policy(
            name=f"projects/{project}", alert_policy=policy(metric_type, aligner)
        )
    assert caught.value.message == (
        "Field alert_policy.conditions[0].condition_threshold.aggregations[0].per_series_aligner "
        f'had an invalid value of "{aligner}": The aligner cannot be applied to metrics with '
        f"kind {kind}."
    )
    assert list(alerts.list_alert_policies(name=f"projects/{project}")) == []


@pytest.mark.parametrize(
    ("metric_type", "aligner"),
    [
        (HEALTHY, "ALIGN_FRACTION_TRUE"),
        (HEALTHY, "ALIGN_COUNT"),
        (DAGBAG, "ALIGN_MEAN"),
        (HEARTBEATS, "ALIGN_RATE"),
        (LOG_BASED, "ALIGN_FRACTION_TRUE"),  # unknown to the catalogue: not judged here
        ("custom.googleapis.com/not/created/yet", "ALIGN_DELTA"),
    ],
)
def test_fitting_aligners_and_unknown_metrics_are_accepted(
    alerts: AlertPolicyServiceClient, project: str, metric_type: str, aligner: str
) -> None:
    created = alerts.create_alert_policy(
        name=f"projects/{project}", alert_policy=policy(metric_type, aligner)
    )
    assert created.name.startswith(f"projects/{project}/alertPolicies/")


def test_the_denominator_is_checked_too(alerts: AlertPolicyServiceClient, project: str) -> None:
    ratio = policy(
        HEARTBEATS,
        "ALIGN_RATE",
        denominatorFilter=f'metric.type="{HEALTHY}"',
        denominatorAggregations=[{"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_RATE"}],
    )
    with pytest.raises(exceptions.InvalidArgument, match=r"denominator_aggregations\[0\]"):
        alerts.create_alert_policy(name=f"projects/{project}", alert_policy=ratio)


QUEUE = "custom.googleapis.com/composer_obs/queue_depth"
WRITTEN = "workload.googleapis.com/composer_obs/up"


def misfit_message(aligner: str, kind: str) -> str:
    return (
        "Field alert_policy.conditions[0].condition_threshold.aggregations[0].per_series_aligner "
        f'had an invalid value of "{aligner}": The aligner cannot be applied to metrics with '
        f"kind {kind}."
    )


def test_conditions_on_user_defined_metrics_are_checked_against_the_project_descriptor(
    alerts: AlertPolicyServiceClient, emulator: Endpoint, project: str
) -> None:
    """A descriptor made by CreateMetricDescriptor and one CreateTimeSeries auto-created are
    held to the same aligner rules as the built-ins, in their project only; an update is
    checked too."""
    metrics = gcp.monitoring_metric_api(emulator)
    parent = f"projects/{project}"
    try:
        metrics.create_metric_descriptor(
            name=parent,
            metric_descriptor=metric_pb2.MetricDescriptor(
                type=QUEUE,
                metric_kind=metric_pb2.MetricDescriptor.MetricKind.CUMULATIVE,
                value_type=metric_pb2.MetricDescriptor.ValueType.DOUBLE,
            ),
        )
        up = TimeSeries(
            metric={"type": WRITTEN},
            resource={"type": "global", "labels": {"project_id": project}},
            points=[
                {"interval": {"end_time": emulator_now(emulator)}, "value": {"bool_value": True}}
            ],
        )
        metrics.create_time_series(name=parent, time_series=[up])
    finally:
        metrics.transport.close()
    for metric_type, aligner, kind in (
        (QUEUE, "ALIGN_MEAN", "CUMULATIVE and value type DOUBLE"),
        (WRITTEN, "ALIGN_DELTA", "GAUGE and value type BOOL"),
    ):
        with pytest.raises(exceptions.InvalidArgument) as caught:
            alerts.create_alert_policy(name=parent, alert_policy=policy(metric_type, aligner))
        assert caught.value.message == misfit_message(aligner, kind)
    fitting = alerts.create_alert_policy(name=parent, alert_policy=policy(QUEUE, "ALIGN_RATE"))
    alerts.create_alert_policy(name=parent, alert_policy=policy(WRITTEN, "ALIGN_FRACTION_TRUE"))
    # another project has no such descriptors: nothing to hold the condition to
    alerts.create_alert_policy(
        name=f"projects/other-{project}", alert_policy=policy(QUEUE, "ALIGN_MEAN")
    )
    changed = policy(QUEUE, "ALIGN_MEAN")
    changed.name = fitting.name
    with pytest.raises(exceptions.InvalidArgument) as caught:
        alerts.update_alert_policy(alert_policy=changed)
    assert caught.value.message == misfit_message("ALIGN_MEAN", "CUMULATIVE and value type DOUBLE")


def dashboard(metric_type: str, aligner: str) -> dict[str, Any]:
    query = {
        "timeSeriesFilter": {
            "filter": f'metric.type="{metric_type}"',
            "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": aligner},
        }
    }
    chart = {"title": "c", "xyChart": {"dataSets": [{"timeSeriesQuery": query}]}}
    return {
        "displayName": "catalogue check",
        "mosaicLayout": {"columns": 48, "tiles": [{"width": 24, "height": 16, "widget": chart}]},
    }


PATH = (
    "mosaicLayout.tiles[0].widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter"
    ".aggregation.perSeriesAligner"
)


def test_a_chart_with_a_misfit_aligner_is_refused_on_both_transports(
    emulator: Endpoint, project: str
) -> None:
    body = dashboard(HEALTHY, "ALIGN_RATE")
    with httpx.Client(base_url=str(emulator.http_url), timeout=30) as http:
        response = http.post(f"/v1/projects/{project}/dashboards", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"].startswith(f"{PATH}: The aligner ALIGN_RATE")
        accepted = http.post(
            f"/v1/projects/{project}/dashboards", json=dashboard(HEALTHY, "ALIGN_FRACTION_TRUE")
        )
        assert accepted.status_code == 200, accepted.text
    client: DashboardsServiceClient = gcp.dashboards_api(emulator, transport="grpc")
    try:
        with pytest.raises(exceptions.InvalidArgument) as caught:
            client.create_dashboard(
                parent=f"projects/{project}", dashboard=Dashboard.from_json(json.dumps(body))
            )
        assert caught.value.message.startswith(PATH)
    finally:
        client.transport.close()


def test_a_chart_on_a_user_defined_metric_is_checked_against_its_descriptor(
    emulator: Endpoint, project: str
) -> None:
    metrics = gcp.monitoring_metric_api(emulator)
    try:
        metrics.create_metric_descriptor(
            name=f"projects/{project}",
            metric_descriptor=metric_pb2.MetricDescriptor(
                type=QUEUE,
                metric_kind=metric_pb2.MetricDescriptor.MetricKind.GAUGE,
                value_type=metric_pb2.MetricDescriptor.ValueType.INT64,
            ),
        )
    finally:
        metrics.transport.close()
    ratio = dashboard(QUEUE, "ALIGN_MEAN")
    chart = ratio["mosaicLayout"]["tiles"][0]["widget"]["xyChart"]["dataSets"][0]
    part = chart["timeSeriesQuery"].pop("timeSeriesFilter")
    misfit = {**part, "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_RATE"}}
    chart["timeSeriesQuery"]["timeSeriesFilterRatio"] = {"numerator": part, "denominator": misfit}
    where = PATH.replace("timeSeriesFilter.", "timeSeriesFilterRatio.denominator.")
    with httpx.Client(base_url=str(emulator.http_url), timeout=30) as http:
        response = http.post(f"/v1/projects/{project}/dashboards", json=ratio)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"] == (
            f"{where}: The aligner ALIGN_RATE cannot be applied to metrics with kind GAUGE and "
            f"value type INT64 ({QUEUE})."
        )
        elsewhere = http.post(f"/v1/projects/other-{project}/dashboards", json=ratio)
        assert elsewhere.status_code == 200, elsewhere.text
    client: DashboardsServiceClient = gcp.dashboards_api(emulator, transport="grpc")
    try:
        with pytest.raises(exceptions.InvalidArgument, match="ALIGN_RATE"):
            client.create_dashboard(
                parent=f"projects/{project}", dashboard=Dashboard.from_json(json.dumps(ratio))
            )
    finally:
        client.transport.close()
