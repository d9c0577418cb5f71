"""What changed since the last pass, in as few list requests as Airflow allows (at the wire).

A query list (``GET``, ``updated_at_gte``) serves 100 records a page; the batch list (``POST
.../list``) serves 1,000 but cannot filter on ``updated_at``. The watchdog reads one query
page, and when more remain, the records that ended in the window from the batch list plus
those changed in it that ended before (a state set by hand on an old try) from the query list.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from observability.watchdog.airflow_api import AirflowAPI
from tests.watchdog.airflow_wire import AirflowWire, WireClients

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
SINCE = NOW - timedelta(hours=6)


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _record(
    kind: str, number: int, state: str, ended: datetime, updated: datetime
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "dag_id": f"dag_{number:05d}",
        "dag_run_id": "scheduled__2026-12-07T06:00:00+00:00",
        "state": state,
        "end_date": _at(ended),
        "updated_at": _at(updated),
    }
    if kind == "tries":
        record.update(task_id="load", map_index=-1, try_number=1)
    return record


def _seed(wire: AirflowWire, kind: str, failed_in_window: int) -> None:
    records = getattr(wire, kind)
    for number in range(failed_in_window):
        ended = NOW - timedelta(minutes=number % 300)
        records.append(_record(kind, number, "failed", ended, ended))
    long_ago = NOW - timedelta(hours=10)
    # Ended long ago, set failed by hand an hour ago: changed in the window, ended before it.
    records.append(_record(kind, 90000, "failed", long_ago, NOW - timedelta(hours=1)))
    records.append(_record(kind, 90001, "failed", long_ago, long_ago))  # old news
    for number in range(90002, 90052):
        records.append(_record(kind, number, "success", NOW, NOW))


@pytest.fixture
def wire(shared_wire: AirflowWire) -> AirflowWire:
    shared_wire.runs.clear()
    shared_wire.tries.clear()
    return shared_wire


@pytest.fixture
def api(wire: AirflowWire, clients: WireClients) -> AirflowAPI:
    return clients()


def _read(api: AirflowAPI, kind: str) -> set[str]:
    if kind == "tries":
        return {ti.dag_id for ti in api.changed_task_instances(["failed"], SINCE)}
    return {run.dag_id for run in api.changed_dag_runs(["failed"], SINCE)}


@pytest.mark.parametrize("kind", ["tries", "runs"])
def test_a_long_window_reads_the_ended_in_batch_pages_and_the_rest_by_query(
    wire: AirflowWire, api: AirflowAPI, kind: str
) -> None:
    _seed(wire, kind, failed_in_window=1500)
    found = _read(api, kind)
    assert found == {f"dag_{number:05d}" for number in [*range(1500), 90000]}
    methods = ["POST" if "body" in query else "GET" for _, query in wire.requests]
    # One query page (100 of 1,501), 2 batch pages (1,000 each), one query page for the rest;
    # the query list alone would have taken 16 pages.
    assert sorted(methods) == ["GET", "GET", "POST", "POST"]
    assert wire.requests[0][1]["updated_at_gte"] == [_at(SINCE)]


@pytest.mark.parametrize("kind", ["tries", "runs"])
@pytest.mark.parametrize(("failed", "pages"), [(20, 1), (150, 2)])
def test_a_short_window_is_read_by_query_pages_alone(
    wire: AirflowWire, api: AirflowAPI, kind: str, failed: int, pages: int
) -> None:
    """Where the batch list would not save a request (2 query pages against a batch page and
    a query page), the query list is read."""
    _seed(wire, kind, failed_in_window=failed)
    assert _read(api, kind) == {f"dag_{number:05d}" for number in [*range(failed), 90000]}
    assert ["body" in query for _, query in wire.requests] == [False] * pages
