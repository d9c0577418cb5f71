"""UpdateLogMetric as the hand-written client sends it: ``Metric.update()`` puts the full path
``projects/P/metrics/M`` in ``metric.name`` (Google's system test test_update_metric)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.api_core import exceptions
from google.cloud.logging import Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["test-update-metric", "composer_obs/task_failures"])
def test_metric_update_sends_the_full_path_and_is_accepted(
    hand_client: Callable[[str], Client], name: str, project: str
) -> None:
    client = hand_client("grpc")
    metric = client.metric(name, filter_="logName:syslog AND severity>=INFO", description="d")
    metric.create()
    metric.filter_ = "logName:other"
    metric.description = "updated"

    metric.update()

    (after,) = client.list_metrics()
    assert (after.name, after.filter_, after.description) == (name, "logName:other", "updated")
    fresh = client.metric(name)
    fresh.reload()
    assert (fresh.filter_, fresh.description) == ("logName:other", "updated")


def test_a_full_path_naming_another_metric_is_refused(
    metrics: MetricsServiceV2Client, project: str
) -> None:
    path = f"projects/{project}/metrics/one"
    metrics.create_log_metric(
        request={"parent": f"projects/{project}", "metric": {"name": "one", "filter": "x"}}
    )
    for other in (f"projects/{project}/metrics/two", "projects/elsewhere/metrics/one"):
        with pytest.raises(exceptions.InvalidArgument, match=r"metric\.name"):
            metrics.update_log_metric(
                request={"metric_name": path, "metric": {"name": other, "filter": "y"}}
            )
    updated = metrics.update_log_metric(
        request={"metric_name": path, "metric": {"name": path, "filter": "y"}}
    )
    assert (updated.name, updated.filter) == ("one", "y")
