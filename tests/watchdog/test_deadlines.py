"""Deadlines in Airflow 3 Deadline Alerts' terms, against runs served at the wire.

Each reference (``logical_date``, ``queued_at``, ``average_runtime``, ``time_of_day``) is
checked on a run just before and just past its deadline; the DAG's own history (its newest
runs, from ``airflow_wire``) gives the average runtime, where a run that ends before it
starts counts for nothing and a deadline past year 9999 is never missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from observability.events import Finding
from observability.router.duration import MAX_DURATION_S
from observability.watchdog import detect
from observability.watchdog.airflow_api import AirflowAPI, DagRun
from observability.watchdog.config import WatchdogConfig
from tests.watchdog.airflow_wire import AirflowWire, WireClients

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _config(**deadline: Any) -> WatchdogConfig:
    return WatchdogConfig.model_validate(
        {"airflow": [{"name": "local", "url": "http://127.0.0.1:1"}], "deadlines": [deadline]}
    )


def _active(**times: datetime) -> DagRun:
    """A running run of ``etl`` with the given times."""
    return DagRun(
        dag_id="etl",
        run_id="scheduled__now",
        state="running",
        run_type="scheduled",
        logical_date=times.get("logical_date"),
        queued_at=times.get("queued_at"),
        start_date=times.get("start_date"),
        end_date=None,
        note=None,
    )


def _history(wire: AirflowWire, dag_id: str, *minutes: float, state: str = "success") -> None:
    """Finished runs of ``dag_id`` lasting ``minutes`` each (negative: ended before starting)."""
    for length in minutes:
        number = len(wire.runs)
        start = NOW - timedelta(days=number + 1)
        wire.runs.append(
            {
                "dag_id": dag_id,
                "dag_run_id": f"scheduled__{number}",
                "state": state,
                "start_date": _at(start),
                "end_date": _at(start + timedelta(minutes=length)),
            }
        )


@pytest.fixture
def wire(shared_wire: AirflowWire) -> AirflowWire:
    shared_wire.runs.clear()
    shared_wire.reset()
    return shared_wire


@pytest.fixture
def api(wire: AirflowWire, clients: WireClients) -> AirflowAPI:
    return clients()


def _late(api: AirflowAPI, config: WatchdogConfig, *active: DagRun) -> list[Finding]:
    """The findings of the runs past their deadline (each fact has one)."""
    facts = detect.late_runs(api, config, detect.Memory(), list(active), NOW)
    findings = [fact.finding for fact in facts]
    assert all(finding is not None for finding in findings)
    return [finding for finding in findings if finding is not None]


@pytest.mark.parametrize("reference", ["logical_date", "queued_at"])
def test_a_run_is_late_from_its_reference_plus_the_interval_and_not_a_second_before(
    api: AirflowAPI, reference: str
) -> None:
    config = _config(dag="etl", reference=reference, interval="1h")
    on_time = _active(**{reference: NOW - timedelta(minutes=59, seconds=59)})
    late = _active(**{reference: NOW - timedelta(hours=1)})
    assert _late(api, config, on_time) == []
    [finding] = _late(api, config, late)
    assert finding.deadline == NOW
    assert finding.deadline_reference == reference


def test_average_runtime_is_the_mean_of_the_successful_runs_times_the_factor(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    _history(wire, "etl", 10, 20, 30)  # mean 20 min; factor 1.5 and 5 min: 35 min
    _history(wire, "etl", 500, state="failed")  # a failed run is no baseline
    config = _config(dag="etl", reference="average_runtime", factor=1.5, interval="5m")
    assert _late(api, config, _active(start_date=NOW - timedelta(minutes=34))) == []
    [finding] = _late(api, config, _active(start_date=NOW - timedelta(minutes=35)))
    assert finding.deadline == NOW


def test_a_run_that_ended_before_it_started_is_left_out_of_the_average(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    _history(wire, "etl", 10, 10, 10, -100_000)  # with it, the mean would be negative
    config = _config(dag="etl", reference="average_runtime", factor=1)
    assert _late(api, config, _active(start_date=NOW - timedelta(minutes=9))) == []
    assert len(_late(api, config, _active(start_date=NOW - timedelta(minutes=10)))) == 1
    wire.runs.clear()
    _history(wire, "etl", 10, 10, -5)  # two usable runs: no baseline, no deadline
    assert _late(api, config, _active(start_date=NOW - timedelta(days=300))) == []


def test_time_of_day_wants_a_success_in_the_day_before_the_deadline(
    wire: AirflowWire, api: AirflowAPI
) -> None:
    config = _config(dag="etl", reference="time_of_day", at="07:30")
    [finding] = _late(api, config)  # named DAG, no run at all
    assert finding.deadline == NOW.replace(hour=7, minute=30)
    _history(wire, "etl", 1)  # started yesterday at 12:00, succeeded a minute later
    assert _late(api, config) == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reference=st.sampled_from(["logical_date", "queued_at", "average_runtime"]),
    base=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(timezone.utc),
    ),
    interval_s=st.floats(min_value=0, max_value=MAX_DURATION_S),
    factor=st.floats(min_value=0.01, max_value=100),
)
@example(  # the end of time, a year on: past what a datetime holds
    reference="logical_date",
    base=datetime(9999, 12, 30, tzinfo=timezone.utc),
    interval_s=366 * 86400.0,
    factor=1.0,
)
def test_no_date_interval_or_factor_makes_the_check_raise(
    wire: AirflowWire,
    api: AirflowAPI,
    reference: str,
    base: datetime,
    interval_s: float,
    factor: float,
) -> None:
    wire.runs.clear()
    _history(wire, "etl", 10, 20, 30)
    config = _config(dag="etl", reference=reference, interval=interval_s, factor=factor)
    run = _active(logical_date=base, queued_at=base, start_date=base)
    findings = _late(api, config, run)
    assert all(finding.deadline is not None and finding.deadline <= NOW for finding in findings)
