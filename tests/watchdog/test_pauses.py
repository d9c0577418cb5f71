"""Pauses from the audit records since the last pass; the paused lists only when needed.

At the wire (``airflow_wire`` serves the audit log, the paused lists with Airflow 3's
``last_dag_run_state`` filter, and a DAG's runs); each step counts the requests, since not
reading the paused lists every pass is the point.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from observability.watchdog import detect
from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import AirflowAuth, WatchdogConfig
from tests.watchdog.airflow_wire import AirflowWire, airflow_wire

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
CONFIG = WatchdogConfig.model_validate(
    {"airflow": [{"name": "local", "url": "http://127.0.0.1:1"}], "dag_list_refresh": "10m"}
)


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def _failing(wire: AirflowWire, dag_id: str, failed_runs: int, **fields: Any) -> None:
    """A DAG whose last ``failed_runs`` runs failed, Airflow pausing it after 3 (runs it
    already has are kept: Airflow never lists a run twice)."""
    wire.add(dag_id, max_consecutive_failed_dag_runs=3, **fields)
    had = sum(run["dag_id"] == dag_id for run in wire.runs)
    for number in range(had, failed_runs):
        wire.runs.append(
            {
                "dag_id": dag_id,
                "dag_run_id": f"scheduled__{number}",
                "state": "failed",
                "start_date": _at(60 - number),
                "end_date": _at(59 - number),
                "updated_at": _at(59 - number),
            }
        )


def _paused_by_airflow(wire: AirflowWire, dag_id: str, minutes_ago: float) -> None:
    wire.dags[dag_id]["is_paused"] = True
    wire.audit.append(
        {
            "event": "paused",
            "dag_id": dag_id,
            "owner": "scheduler",
            "when": _at(minutes_ago),
            "extra": f"[('dag_id', '{dag_id}'), ('is_paused', True)]",
        }
    )


@pytest.fixture
def api() -> Iterator[tuple[AirflowWire, AirflowAPI]]:
    with airflow_wire(AirflowWire()) as wire:
        client = AirflowAPI(wire.url, AirflowAuth(kind="none"))
        _ = client.major
        wire.reset()
        yield wire, client
        client.close()


def _pass(api: AirflowAPI, memory: detect.Memory) -> set[tuple[str, str | None]]:
    api.forget()
    facts = detect.paused_dags(api, CONFIG, memory, NOW - timedelta(minutes=5), NOW)
    return {(fact.dag_id or "", fact.reason) for fact in facts}


AUTO = "paused by Airflow after 3 consecutive failed runs"


def test_pauses_come_from_the_audit_records_and_the_lists_only_when_they_cannot(
    api: tuple[AirflowWire, AirflowAPI],
) -> None:
    wire, client = api
    memory = detect.Memory()
    _failing(wire, "paused_yesterday", 3, is_paused=True)  # before any window: no record
    _failing(wire, "failing", 2)
    wire.add("critical_etl", tags=[{"name": "critical"}])

    # The first pass has no memory: the lists, whatever the records say.
    assert _pass(client, memory) == {("paused_yesterday", AUTO)}
    assert sorted(str((q.get("last_dag_run_state"), q.get("tags"))) for q in _dag_lists(wire)) == [
        "(None, ['critical'])",
        "(['failed'], None)",
    ]
    wire.reset()

    # Airflow pauses a DAG: its record names it; the lists are not read.
    _failing(wire, "failing", 3)
    _paused_by_airflow(wire, "failing", minutes_ago=1)
    assert _pass(client, memory) == {("failing", AUTO)}
    assert _dag_lists(wire) == []
    assert wire.paths() == [
        "/api/v2/eventLogs",
        "/api/v2/dags/failing",
        "/api/v2/dags/failing/dagRuns",
    ]
    wire.reset()

    # The next pass's window overlaps this one's: the same record is not looked at again.
    assert _pass(client, memory) == set()
    assert wire.paths() == ["/api/v2/eventLogs"]
    wire.reset()

    # A pause by hand (Airflow 3.3's PATCH /dags/{id} records ``patch_dag`` and its body) of
    # a critical DAG, and an unpause (looked at, not paused: nothing).
    wire.dags["critical_etl"]["is_paused"] = True
    wire.audit.append(
        {
            "event": "patch_dag",
            "dag_id": "critical_etl",
            "when": _at(0.5),
            "extra": '{"is_paused": true}',
        }
    )
    wire.dags["paused_yesterday"]["is_paused"] = False
    wire.audit.append(
        {
            "event": "patch_dag",
            "dag_id": "paused_yesterday",
            "when": _at(0.4),
            "extra": '{"is_paused": false}',
        }
    )
    wire.audit.append({"event": "trigger_dag_run", "dag_id": "failing", "when": _at(0.3)})
    assert _pass(client, memory) == {("critical_etl", "a critical DAG is paused")}
    assert _dag_lists(wire) == []
    assert sorted(wire.paths()) == [
        "/api/v2/dags/critical_etl",
        "/api/v2/dags/critical_etl/dagRuns",
        "/api/v2/dags/paused_yesterday",
        "/api/v2/eventLogs",
    ]
    wire.reset()

    # More records than the audit read takes (3 pages): the lists again.
    wire.audit += [
        {"event": "grid", "dag_id": "busy", "when": _at(0.1), "extra": ""} for _ in range(301)
    ]
    _failing(wire, "also_failing", 3)
    _paused_by_airflow(wire, "also_failing", minutes_ago=0.2)
    assert _pass(client, memory) == {("also_failing", AUTO)}
    assert len(_dag_lists(wire)) == 2
    wire.reset()

    # And every dag_list_refresh, for pauses no record names.
    assert memory.paused_listed_at is not None
    memory.paused_listed_at = time.monotonic() - CONFIG.dag_list_refresh
    wire.audit.clear()
    _failing(wire, "paused_in_the_database", 3, is_paused=True)
    assert _pass(client, memory) == {("paused_in_the_database", AUTO)}
    assert len(_dag_lists(wire)) == 2
    wire.reset()

    # A role that may not read the audit log (2.10's Viewer): the lists every pass.
    wire.audit_refused = True
    _failing(wire, "refused", 3, is_paused=True)
    assert _pass(client, memory) == {("refused", AUTO)}
    assert len(_dag_lists(wire)) == 2


def _dag_lists(wire: AirflowWire) -> list[dict[str, list[str]]]:
    return [query for path, query in wire.requests if path == "/api/v2/dags"]
