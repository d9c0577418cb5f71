"""Overdue DAGs from the DAG list sorted by next run, at the wire (``airflow_wire``).

The wire sorts as Airflow 3.3 does (``order_by=next_dagrun``, then ``dag_id``), with DAGs
without a next run last (PostgreSQL) or first (SQLite, MySQL), and refuses that sort as 2.10
does. The tests count the requests: one page a pass, whatever the DAG count, is the point.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from observability.watchdog.catalog import DagCatalog
from observability.watchdog.overdue import ScheduleScan, overdue_dags
from tests.watchdog.airflow_wire import AirflowWire, WireClients

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
GRACE = 1800.0


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _ago(minutes: float) -> str:
    return _at(NOW - timedelta(minutes=minutes))


@pytest.fixture
def wire(shared_wire: AirflowWire) -> AirflowWire:
    shared_wire.major, shared_wire.nulls_first, shared_wire.maximum_page_limit = 3, False, 100
    shared_wire.dags.clear()
    shared_wire.reset()
    return shared_wire


def _overdue(scan: ScheduleScan) -> set[str]:
    facts, _ = scan.overdue(GRACE, NOW)
    return {fact.dag_id or "" for fact in facts}


def _populate(wire: AirflowWire, scheduled: int, unscheduled: int) -> None:
    for number in range(scheduled):  # hourly, each due at some point of the next hour
        wire.add(f"dag_{number:05d}", _at(NOW + timedelta(seconds=number % 3600 + 1)))
    for number in range(unscheduled):
        wire.add(f"manual_{number:05d}")


@pytest.fixture(params=[False, True], ids=["postgresql", "sqlite"])
def ordered(wire: AirflowWire, request: pytest.FixtureRequest) -> AirflowWire:
    """The wire sorting a missing next run last (PostgreSQL) or first (SQLite, MySQL)."""
    wire.nulls_first = request.param
    return wire


def test_the_overdue_dags_of_thousands_cost_one_page_a_pass(
    ordered: AirflowWire, clients: WireClients
) -> None:
    wire, nulls_first = ordered, ordered.nulls_first
    _populate(wire, scheduled=2000, unscheduled=250)
    wire.add("stuck_6h", _ago(360))
    wire.add("stuck_40m", _ago(40))
    wire.add("within_grace", _ago(20))
    wire.add("paused_stuck", _ago(600), is_paused=True)
    # A data-interval DAG: logical date an hour before it may run, not due yet.
    wire.add("interval", _ago(50), next_dagrun_run_after=_at(NOW + timedelta(minutes=10)))
    scan = ScheduleScan(clients(), pages=3)
    assert _overdue(scan) == {"stuck_6h", "stuck_40m"}
    first = len(wire.requests)
    # PostgreSQL: one page. SQLite: the page of unscheduled DAGs, the list sorted the other
    # way (do they lead, or has no DAG a next run?), then the pages up to the first scheduled.
    assert first == (1 if not nulls_first else 1 + 1 + 2)
    wire.reset()
    assert _overdue(scan) == {"stuck_6h", "stuck_40m"}
    assert len(wire.requests) == 1  # from where the scheduled DAGs begin
    query = wire.requests[0][1]
    assert query["paused"] == ["false"] and query["order_by"] == ["next_dagrun"]


def test_fewer_or_more_unscheduled_dags_on_sqlite_move_where_the_scan_starts(
    wire: AirflowWire,
    clients: WireClients,
) -> None:
    wire.nulls_first = True
    _populate(wire, scheduled=300, unscheduled=150)
    wire.add("stuck", _ago(90))
    scan = ScheduleScan(clients(), pages=3)
    assert _overdue(scan) == {"stuck"}
    for number in range(100):
        del wire.dags[f"manual_{number:05d}"]
    wire.reset()
    assert _overdue(scan) == {"stuck"}
    assert len(wire.requests) == 2  # the boundary moved before the page read: from the first
    for number in range(300):
        wire.add(f"manual_more_{number:05d}")
    wire.reset()
    assert _overdue(scan) == set()  # 3 pages of the 350 unscheduled that lead now...
    assert _overdue(scan) == {"stuck"}  # ...and the next pass reads on past them
    assert len(wire.requests) == 4
    wire.reset()
    assert _overdue(scan) == {"stuck"}
    assert [query["offset"] for _, query in wire.requests] == [["349"]]


def test_with_no_scheduled_dag_at_all_two_requests_say_so(
    ordered: AirflowWire, clients: WireClients
) -> None:
    _populate(ordered, scheduled=0, unscheduled=400)
    scan = ScheduleScan(clients(), pages=3)
    assert _overdue(scan) == set()
    assert [query["order_by"] for _, query in ordered.requests] == [
        ["next_dagrun"],
        ["-next_dagrun"],
    ]


def test_when_every_dag_is_overdue_the_next_pass_reads_on_then_starts_over(
    wire: AirflowWire,
    clients: WireClients,
) -> None:
    """A stopped scheduler: 450 overdue DAGs, 3 pages a pass."""
    for number in range(450):
        wire.add(f"dag_{number:05d}", _ago(60 + number))
    scan = ScheduleScan(clients(), pages=3)
    found = [_overdue(scan) for _ in range(3)]
    assert [len(batch) for batch in found] == [300, 150, 300]
    assert found[0] | found[1] == set(wire.dags)
    assert [int(query["offset"][0]) for _, query in wire.requests] == [
        *(0, 100, 200),
        *(300, 400),
        *(0, 100, 200),
    ]


def test_on_airflow_2_the_catalogue_rounds_find_them(
    wire: AirflowWire, clients: WireClients
) -> None:
    """2.10 sorts by dag_id only: the catalogue's copy, read again before it is reported."""
    wire.major = 2
    _populate(wire, scheduled=50, unscheduled=0)
    wire.add("stuck", _ago(90))
    api = clients()
    catalog = DagCatalog(api, pages_per_pass=3, refresh_s=3600)
    catalog.advance()
    facts = overdue_dags(ScheduleScan(api, 3), catalog, GRACE, lambda fact: False, NOW)
    assert [fact.dag_id for fact in facts] == ["stuck"]
    assert "next_dagrun" not in str(wire.requests)
    assert wire.paths()[-1] == "/api/v1/dags/stuck"
