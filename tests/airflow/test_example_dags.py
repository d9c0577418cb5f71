"""The example DAGs on real Airflow 2.10 and 3.x, events read back through the real client.

One run per Airflow installation: the module's fixture runs both example DAGs once with
`airflow dags test`, then every test of both classes checks a part of what arrived in the
emulator.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from examples.payments_service import PaymentsService
from observability.gcp import Endpoint
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from tests.airflow.conftest import (
    AirflowRun,
    NewAirflow,
    airflow_params,
    read_events,
)
from tests.provision.conftest import default_spec
from tests.support.timeseries import LabelKey, labels, metric_counts

pytestmark = [pytest.mark.airflow, pytest.mark.integration]


@pytest.fixture(scope="module", params=airflow_params())
def run(
    request: pytest.FixtureRequest,
    emulator: Endpoint,
    payments_service: PaymentsService,
    new_airflow: NewAirflow,
) -> AirflowRun:
    composer = new_airflow(request.param, "airflow", emulator)
    airflow, project = composer.airflow, composer.project
    airflow.env["OBS_EXAMPLE_SERVICE_URL"] = payments_service.url
    # The default metrics exist before any event (log-based metrics never backfill).
    api = Api(project, emulator)
    assert apply_plan(plan_from_api(default_spec(project), api), api).ok
    api.close()
    started = datetime.now(timezone.utc)
    outputs = {}
    for dag_id in ("obs_example_success", "obs_example_failure"):
        result = airflow.dags_test(dag_id)
        outputs[dag_id] = result.stdout + result.stderr
    return AirflowRun(
        airflow=airflow,
        project=project,
        events=read_events(emulator, project),
        outputs=outputs,
        service_requests=dict(payments_service.requests),
        extra={"endpoint": emulator, "started": started},
    )


def _types(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(event["event_type"], event.get("try_number")) for event in events]


class TestExampleDags:
    def test_the_task_logs_carry_no_warning_of_ours(self, run: AirflowRun) -> None:
        """Issue 19: Airflow 3 logged a DeprecatedImportWarning from the redaction module in
        every task (it imported the secrets masker from its deprecated location first)."""
        for dag_id, output in run.outputs.items():
            warnings = [line for line in output.splitlines() if "Warning" in line]
            assert not [line for line in warnings if "DeprecatedImport" in line], (dag_id, warnings)
            assert not [line for line in warnings if "observability" in line], (dag_id, warnings)

    def test_nothing_was_spooled(self, run: AirflowRun) -> None:
        assert not list((run.airflow.home / "spool").glob("*.jsonl")), "events fell back to spool"

    def test_task_lifecycles(self, run: AirflowRun) -> None:
        dag = "obs_example_success"
        assert _types(run.of(dag, "extract")) == [("task_started", 1), ("task_succeeded", 1)]
        assert _types(run.of(dag, "load_with_retry")) == [
            ("task_started", 1),
            ("task_up_for_retry", 1),
            ("task_started", 2),
            ("task_succeeded", 2),
        ]
        assert _types(run.of(dag, "maybe_skip")) == [("task_started", 1), ("task_skipped", 1)]
        assert _types(run.of(dag, "charge_customer")) == [
            ("task_started", 1),
            ("third_party_call", 1),
            ("task_succeeded", 1),
        ]
        failing = "obs_example_failure"
        assert _types(run.of(failing, "transform")) == [("task_started", 1), ("task_failed", 1)]

    def test_dag_run_outcomes(self, run: AirflowRun) -> None:
        [succeeded] = run.of("obs_example_success", event_type="dag_run_succeeded")
        assert succeeded["state"] == "success"
        assert succeeded["reason"] == "success"
        assert "task_id" not in succeeded
        [failed] = run.of("obs_example_failure", event_type="dag_run_failed")
        assert failed["state"] == "failed"
        assert failed["reason"] == "task_failure"
        assert failed["failed_task_ids"] == ["transform"]
        assert failed["entry"].severity == "ERROR"
        for event in (succeeded, failed):
            assert event["duration_s"] > 0
            assert event["run_type"] == "manual"

    def test_common_fields_every_event_carries(self, run: AirflowRun) -> None:
        assert run.events
        for event in run.events:
            assert event["schema_version"] == 1
            assert event["airflow_version"] == run.airflow.version
            assert event["project_id"] == run.project
            assert event["location"] == "europe-west1"
            assert event["environment_name"] == "obs-test"
            assert event["run_id"]
            assert event["hostname"]
            assert event["entry"].insert_id == event["event_id"]
            assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            resource = event["entry"].resource
            assert resource.type == "cloud_composer_environment"
            assert resource.labels == {
                "project_id": run.project,
                "location": "europe-west1",
                "environment_name": "obs-test",
            }

    def test_task_fields(self, run: AirflowRun) -> None:
        for event in run.of("obs_example_success", "extract"):
            assert event["owner"] == "data-eng"
            assert event["team"] == "payments"  # from the team:payments tag
            assert event["labels"] == {"cost_center": "cc-42"}
            assert event["map_index"] == -1
            assert event["max_tries"] == 1
            assert event["queue"] == "default"
            assert event["pool"] == "default_pool"
            assert event["operator"] == "@task"  # as written, not _PythonDecoratedOperator
            assert event["log_url"].startswith("http")
            assert event["logical_date"]
            assert event["start_date"]
            assert event["entry"].labels == {
                "event_type": event["event_type"],
                "dag_id": "obs_example_success",
                "task_id": "extract",
                "run_id": event["run_id"],
                "try_number": "1",
            }
        started, succeeded = run.of("obs_example_success", "extract")
        assert started["state"] == "running"
        assert started["entry"].severity == "INFO"
        assert succeeded["state"] == "success"
        assert succeeded["duration_s"] >= 0
        assert succeeded["end_date"] >= succeeded["start_date"]
        [failed_team] = run.of("obs_example_failure", "transform", "task_failed")
        assert failed_team["team"] == "analytics"

    def test_retry_carries_the_error_and_when_the_next_try_is_due(self, run: AirflowRun) -> None:
        [retry] = run.of("obs_example_success", "load_with_retry", "task_up_for_retry")
        assert retry["state"] == "up_for_retry"
        assert retry["entry"].severity == "WARNING"
        assert retry["exception"]["type"] == "ConnectionError"
        assert retry["exception"]["message"] == "warehouse connection reset by peer (attempt 1)"
        assert len(retry["exception"]["fingerprint"]) == 16
        assert "Traceback" in retry["exception"]["traceback"]
        assert retry["next_try_at"] > retry["timestamp"]

    def test_failure_is_redacted_and_fingerprinted(self, run: AirflowRun) -> None:
        [failed] = run.of("obs_example_failure", "transform", "task_failed")
        exception = failed["exception"]
        assert exception["type"] == "ValueError"
        assert "s3cr3t-pw" not in str(failed)
        assert "abc123def456" not in str(failed)
        assert "postgres://etl:***@db.internal:5432/sales" in exception["message"]
        assert failed["state"] == "failed"
        assert failed["entry"].severity == "ERROR"

    def test_third_party_calls(self, run: AirflowRun) -> None:
        [ok] = run.of("obs_example_success", "charge_customer", "third_party_call")
        call = ok["third_party"]
        assert call["service"] == "payments-api"
        assert call["operation"] == "create_charge"
        assert call["outcome"] == "success"
        assert call["status_code"] == 201
        assert call["latency_ms"] > 0
        assert call["target"].endswith("/v1/charges")
        assert ok["entry"].severity == "INFO"
        down, slow = run.of(
            "obs_example_failure", "charge_when_provider_down", "third_party_call"
        ) + run.of("obs_example_failure", "refund_times_out", "third_party_call")
        assert down["third_party"]["outcome"] == "error"
        assert down["third_party"]["status_code"] == 503
        assert down["third_party"]["error_type"] == "HTTPError"
        assert "?" not in down["third_party"]["target"]
        assert slow["third_party"]["outcome"] == "timeout"
        assert slow["third_party"]["latency_ms"] >= 250
        assert "hunter2" not in str(slow)
        assert "refund-user" not in slow["third_party"]["target"]
        assert slow["entry"].severity == "WARNING"
        assert run.service_requests.get("/v1/charges", 0) >= 2


def _count(events: list[dict[str, Any]], event_type: str, *fields: str) -> Counter[LabelKey]:
    return Counter(
        labels(**{field: str(_field(event, field)) for field in fields})
        for event in events
        if event["event_type"] == event_type
    )


def _field(event: dict[str, Any], field: str) -> Any:
    return (
        event["third_party"][field]
        if field in ("service", "operation", "outcome")
        else event[field]
    )


class TestDefaultMetricsCountTheEvents:
    """The default log-based metrics, provisioned before the runs, count exactly the events the
    real Airflow runs wrote, with the labels the policies and dashboards group by."""

    def test_every_default_metric(self, run: AirflowRun) -> None:
        endpoint, start = run.extra["endpoint"], run.extra["started"]
        end = datetime.now(timezone.utc) + timedelta(minutes=2)

        def series(metric: str) -> Counter[LabelKey]:
            return metric_counts(
                endpoint, run.project, f"composer_obs/{metric}", start - timedelta(minutes=2), end
            )

        events = run.events
        task = ("dag_id", "task_id", "team")
        assert series("task_failures") == _count(events, "task_failed", *task)
        assert series("task_retries") == _count(events, "task_up_for_retry", *task)
        assert series("task_successes") == _count(events, "task_succeeded", *task)
        finished = [e for e in events if e["event_type"] in ("task_failed", "task_succeeded")]
        assert sum(series("task_duration").values()) == len(finished)
        assert series("dag_run_failures") == _count(events, "dag_run_failed", "dag_id", "team")
        assert series("dag_run_successes") == _count(events, "dag_run_succeeded", "dag_id", "team")
        runs = [e for e in events if e["event_type"].startswith("dag_run_")]
        assert sum(series("dag_run_duration").values()) == len(runs) == 2
        calls = _count(events, "third_party_call", "service", "operation", "outcome", "team")
        assert series("third_party_calls") == calls
        assert sum(calls.values()) == 3
        assert sum(series("third_party_latency").values()) == 3
