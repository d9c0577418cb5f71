"""The end-to-end alerting test of issue 3, all over the wire against an emulator process:

Airflow callbacks (in their own process, as in a task) write task failures; a log-based metric
created with MetricsServiceV2Client counts them per dag_id; a threshold policy grouped by
dag_id, created with AlertPolicyServiceClient, with a webhook_basicauth channel, opens one
incident per failing DAG once the emulator's clock moves; a local HTTP server receives the
schema 1.2 payloads (basic-auth challenge answered, documentation expanded); with no more
failures and the clock moved again, the incidents close with the same incident ids.

The emulator is a process of this test's own: the test moves its clock, which must not move
under the session's other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import monitoring_v3
from google.cloud.logging_v2.types import LogMetric
from google.protobuf import duration_pb2

from observability import gcp
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint
from tests.emulator.alerting.receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.integration

PROJECT = "e2e-alerting"
FAILING = {"etl_daily": 2, "ml_train": 1}

CALLBACKS = """
import sys, types
from datetime import datetime, timezone
import callbacks

def context(dag_id, task_id, try_number):
    task = types.SimpleNamespace(task_id=task_id, owner="data", retries=0,
                                 task_type="PythonOperator", queue="default", pool="default_pool")
    ti = types.SimpleNamespace(
        dag_id=dag_id, task_id=task_id, run_id="scheduled__2026-01-01T00:00:00+00:00",
        map_index=-1, try_number=try_number, state="failed", task=task, max_tries=0,
        start_date=datetime.now(timezone.utc), end_date=datetime.now(timezone.utc),
        duration=1.5, hostname="worker-1", operator="PythonOperator",
        queue="default", pool="default_pool")
    return {"ti": ti, "task_instance": ti, "task": task, "run_id": ti.run_id, "params": {}}

for dag_id, failures in {failing}.items():
    for n in range(failures):
        callbacks.on_failure(context(dag_id, f"task_{n}", 1))
        callbacks.on_success(context("healthy_dag", f"task_{dag_id}_{n}", 1))
assert callbacks.flush(20), "events not delivered"
"""


def admin(endpoint: Endpoint, path: str, body: Any = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{endpoint.http_url}{path}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def advance(endpoint: Endpoint, seconds: float) -> None:
    admin(endpoint, "/v1/emulator/clock:advance", {"seconds": seconds})
    admin(endpoint, "/v1/emulator/alerting:evaluate", {})


def wait_for(what: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with emulator_process(tmp_path_factory.mktemp("e2e-emulator")) as found:
        yield found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver(credentials=("alerts", "hunter2-basic")) as found:
        yield found


def test_failing_dags_page_once_each_then_recover(
    endpoint: Endpoint, receiver: Receiver, tmp_path: Path
) -> None:
    metrics = gcp.metrics_api(endpoint)
    policies = gcp.alert_policy_api(endpoint)
    channels = gcp.notification_channel_api(endpoint)
    parent = f"projects/{PROJECT}"
    metrics.create_log_metric(
        parent=parent,
        metric=LogMetric(
            name="composer_obs/task_failures",
            filter=f'logName="projects/{PROJECT}/logs/composer-observability" '
            'AND jsonPayload.event_type="task_failed"',
            label_extractors={"dag_id": "EXTRACT(jsonPayload.dag_id)"},
            metric_descriptor={
                "metric_kind": "DELTA",
                "value_type": "INT64",
                "labels": [{"key": "dag_id", "value_type": "STRING"}],
            },
        ),
    )
    channel = channels.create_notification_channel(
        name=parent,
        notification_channel=monitoring_v3.NotificationChannel(
            type_="webhook_basicauth",
            display_name="router",
            labels={
                "url": f"{receiver.url}/alerts",
                "username": "alerts",
                "password": "hunter2-basic",
            },
        ),
    )
    policy = policies.create_alert_policy(
        name=parent,
        alert_policy=monitoring_v3.AlertPolicy(
            display_name="Task failures by DAG",
            combiner=monitoring_v3.AlertPolicy.ConditionCombinerType.OR,
            severity=monitoring_v3.AlertPolicy.Severity.ERROR,
            user_labels={"team": "data"},
            notification_channels=[channel.name],
            documentation=monitoring_v3.AlertPolicy.Documentation(
                content="DAG ${metric.label.dag_id} failed in ${project} "
                "(team ${policy.user_label.team}, ${condition.display_name})",
                mime_type="text/markdown",
                subject="${metric.label.dag_id}: ${policy.display_name}",
            ),
            conditions=[
                monitoring_v3.AlertPolicy.Condition(
                    display_name="failures > 0",
                    condition_threshold=monitoring_v3.AlertPolicy.Condition.MetricThreshold(
                        filter='metric.type="logging.googleapis.com/user/composer_obs/task_failures"',
                        aggregations=[
                            monitoring_v3.Aggregation(
                                alignment_period=duration_pb2.Duration(seconds=300),
                                per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_DELTA,
                                cross_series_reducer=monitoring_v3.Aggregation.Reducer.REDUCE_SUM,
                                group_by_fields=["metric.label.dag_id"],
                            )
                        ],
                        comparison=monitoring_v3.ComparisonType.COMPARISON_GT,
                        threshold_value=0,
                        duration=duration_pb2.Duration(seconds=0),
                        trigger=monitoring_v3.AlertPolicy.Condition.Trigger(count=1),
                        # no failures in the window counts as recovered (unset would keep the
                        # incidents open until autoClose)
                        evaluation_missing_data=monitoring_v3.AlertPolicy.Condition.EvaluationMissingData.EVALUATION_MISSING_DATA_INACTIVE,
                    ),
                )
            ],
        ),
    )
    for client in (metrics, policies, channels):
        client.transport.close()

    env = {
        **os.environ,
        "COMPOSER_OBS_EMULATOR": str(endpoint.grpc_target),
        "COMPOSER_OBS_EMULATOR_HTTP": str(endpoint.http_url).removeprefix("http://"),
        "COMPOSER_OBS_PROJECT": PROJECT,
        "COMPOSER_OBS_SPOOL_DIR": str(tmp_path / "spool"),
        # Outcomes are told once per machine (callbacks.attempts); this test's fixed run ids
        # must not count as told by an earlier run of it.
        "TMPDIR": str(tmp_path),
    }
    script = textwrap.dedent(CALLBACKS).replace("{failing}", repr(FAILING))
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)

    # the failures are counted in their minute; once the clock has passed it, they page
    advance(endpoint, 60)
    opened = wait_for(
        lambda: (
            len(
                admin(endpoint, f"/v1/emulator/projects/{PROJECT}/incidents?state=open")[
                    "incidents"
                ]
            )
            == 2
        ),
        60,  # one evaluation of the minute; a loaded machine may take a while to get to it
    )
    incidents = admin(endpoint, f"/v1/emulator/projects/{PROJECT}/incidents")["incidents"]
    assert opened, incidents
    ids = {i["metric"]["labels"]["dag_id"]: i["incidentId"] for i in incidents}
    assert set(ids) == set(FAILING)
    assert all(i["policy"] == policy.name for i in incidents)
    assert {i["metric"]["labels"]["dag_id"]: i["observedValue"] for i in incidents} == {
        "etl_daily": "2",
        "ml_train": "1",
    }
    assert wait_for(lambda: len(receiver.accepted()) == 2)
    assert receiver.challenges == 2  # each delivery answered the 401 challenge
    for request in receiver.accepted():
        assert request.path == "/alerts"
        assert request.authorization == "Basic YWxlcnRzOmh1bnRlcjItYmFzaWM="
        assert request.body["version"] == "1.2"
        got = request.body["incident"]
        dag = got["metric"]["labels"]["dag_id"]
        assert got["incident_id"] == ids[dag]
        assert got["state"] == "open" and got["ended_at"] is None
        assert got["scoping_project_id"] == PROJECT
        assert got["severity"] == "error"
        assert got["policy_name"] == "Task failures by DAG"
        assert got["policy_user_labels"] == {"team": "data"}
        assert got["condition_name"] == "failures > 0"
        assert got["metric"]["type"] == "logging.googleapis.com/user/composer_obs/task_failures"
        assert got["threshold_value"] == "0"
        assert got["observed_value"] == str(FAILING[dag])
        assert got["documentation"]["content"] == (
            f"DAG {dag} failed in {PROJECT} (team data, failures > 0)"
        )
        assert got["documentation"]["subject"] == f"{dag}: Task failures by DAG"
        assert got["documentation"]["mime_type"] == "text/markdown"

    # no more failures: once the 5-minute window has passed them, both incidents close
    advance(endpoint, 360)
    assert wait_for(lambda: len(receiver.accepted()) == 4)
    closed = [r.body["incident"] for r in receiver.accepted()[2:]]
    assert {c["incident_id"] for c in closed} == set(ids.values())
    assert all(c["state"] == "closed" and c["ended_at"] >= c["started_at"] for c in closed)
    after = admin(endpoint, f"/v1/emulator/projects/{PROJECT}/incidents")
    assert {i["state"] for i in after["incidents"]} == {"closed"}
    assert after["notEvaluated"] == []
