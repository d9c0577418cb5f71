"""What the reporter reads back from Cloud Logging (the emulator, through the real client)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from observability.events import Event, EventType
from observability.gcp import Endpoint, logging_client
from observability.watchdog.facts import Environment, Fact, task_log_url, try_identity
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


@given(
    dag_id=st.text(min_size=1, max_size=40),
    run_id=st.text(min_size=1, max_size=60),
    task_id=st.text(min_size=1, max_size=40),
    map_index=st.integers(-1, 10_000),
    try_number=st.integers(0, 100),
    major=st.sampled_from(["2.10.5", "3.3.2"]),
)
def test_a_tries_link_names_it_whatever_its_ids_hold(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int, major: str
) -> None:
    """The UI link of a watchdog event decodes back to the try it is about: run ids hold ``+``,
    ``:`` and ``/``, and a user's ids anything; nothing leaks into another part of the URL."""
    url = urlsplit(
        task_log_url("http://af:8080/", major, dag_id, run_id, task_id, map_index, try_number)
    )
    assert (url.scheme, url.netloc) == ("http", "af:8080")
    parts = [unquote(part) for part in url.path.split("/")]
    query = dict(parse_qsl(url.query))
    assert parts[:3] == ["", "dags", dag_id]
    if major.startswith("2"):
        assert parts[3:] == ["grid"]
        assert (query["dag_run_id"], query["task_id"], query["tab"]) == (run_id, task_id, "logs")
        assert query.get("map_index") == (str(map_index) if map_index >= 0 else None)
    else:
        mapped = ["mapped", str(map_index)] if map_index >= 0 else []
        assert parts[3:] == ["runs", run_id, "tasks", task_id, *mapped]
        assert query == ({"try_number": str(try_number)} if try_number else {})


def test_only_a_fact_about_a_try_links_one() -> None:
    now = datetime.now(timezone.utc)
    try_fact = Fact(
        EventType.TASK_FAILED, try_identity("d", "r", "t", 3, 2), now,
        dag_id="d", run_id="scheduled__2026-12-07T00:00:00+00:00", task_id="t", map_index=3,
        try_number=2,
    )  # fmt: skip
    assert try_fact.event(ENVIRONMENT, "3.3.2").log_url == (
        "http://airflow/dags/d/runs/scheduled__2026-12-07T00%3A00%3A00%2B00%3A00/tasks/t"
        "/mapped/3?try_number=2"
    )
    assert try_fact.event(ENVIRONMENT, None).log_url is None  # which UI is unknown
    run_fact = Fact(EventType.DAG_RUN_FAILED, ("d", "r"), now, dag_id="d", run_id="r")
    assert run_fact.event(ENVIRONMENT, "3.3.2").log_url is None


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
