"""What the reporter reads back from Cloud Logging (the emulator, through the real client)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from observability.events import Event, EventType
from observability.gcp import Endpoint, logging_client
from observability.watchdog.facts import Environment, Fact, try_identity
from observability.watchdog.report import Reporter
from tests.support.cloud_logging import read_events

ENVIRONMENT = Environment("obs-test", "http://airflow", "", "europe-west1")


def _write(endpoint: Endpoint, project: str, **fields: Any) -> None:
    client = logging_client(project, endpoint)
    event = Event.model_validate({"environment_name": "obs-test", **fields})
    client.logger("composer-observability").log_struct(
        event.payload(), insert_id=event.event_id, timestamp=event.timestamp
    )


def test_a_callbacks_failure_and_the_watchdogs_own_events_are_read_back(
    emulator: Endpoint, project: str, emulator_env: dict[str, str]
) -> None:
    environment = Environment("obs-test", "http://airflow", project, "europe-west1")
    now = datetime.now(timezone.utc)
    _write(
        emulator, project, event_type="task_failed", dag_id="d", run_id="r", task_id="t",
        map_index=-1, try_number=1,
    )  # fmt: skip
    _write(emulator, project, event_type="dag_run_failed", dag_id="d", run_id="r")
    _write(emulator, project, event_type="task_failed", dag_id="other-env", environment_name="x")
    stuck = Fact(EventType.TASK_STUCK, (*try_identity("d", "r", "s", -1, 1), "queued"), now)
    reporter = Reporter(environment, logging_client(project, emulator), project)
    try:
        assert reporter.write([stuck], "3.3.2") == [stuck]
        assert reporter.flush()
        said = reporter.said(now - timedelta(hours=1))
    finally:
        reporter.close()
    assert said.tries == {("d", "r", "t", -1, 1)}
    assert said.runs == {("d", "r")}
    assert stuck.event_id(environment) in said.event_ids
    failed = Fact(EventType.TASK_FAILED, try_identity("d", "r", "t", -1, 1), now)
    assert said.covers(failed, environment)
    assert not said.covers(
        Fact(EventType.TASK_FAILED, try_identity("d", "r", "t", -1, 2), now), environment
    )


def test_a_fact_dated_in_the_future_is_written_as_of_now_and_costs_no_other(
    emulator: Endpoint, project: str, emulator_env: dict[str, str]
) -> None:
    """Cloud Logging refuses an entry more than a day ahead: Airflow's odd date must not
    cost the fact, nor the others written with it."""
    environment = Environment("obs-test", "http://airflow", project, "europe-west1")
    now = datetime.now(timezone.utc)
    ahead = {"a": timedelta(0), "far": timedelta(days=3000), "b": timedelta(minutes=5)}
    facts = [
        Fact(EventType.DAG_PAUSED, (dag,), now + delta, dag_id=dag) for dag, delta in ahead.items()
    ]
    reporter = Reporter(environment, logging_client(project, emulator), project)
    try:
        assert len(reporter.write(facts, "3.3.2")) == 3
        assert reporter.flush()
    finally:
        reporter.close()
    stamps = {event["dag_id"]: event["entry"].timestamp for event in read_events(emulator, project)}
    assert set(stamps) == {"a", "far", "b"}
    assert stamps["b"] == now + ahead["b"]
    assert stamps["far"] < now + timedelta(minutes=1)
