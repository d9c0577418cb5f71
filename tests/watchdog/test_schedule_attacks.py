"""The overdue scan against DAG lists that lie, and against an honest one, at the wire.

A lying server (``fault`` answers every ``/dags`` request from a script hypothesis draws:
pages out of order, the same page forever, DAGs on two pages, ``total_entries`` more, fewer,
negative, absent or not a count, next runs missing, garbage, without a zone or past year
9000): a pass makes at most ``pages + 1`` requests (the one more tells a NULLs-first database
from a list with no next run at all), raises nothing but ``AirflowAPIError`` (an answer that
is not a list fails the pass, as the README says), and reports a DAG only when the record this
pass read says it is overdue.

An honest server: every overdue DAG is found within ``ceil((U + C + 1) / (pages * S)) + 1``
passes, U the DAGs without a next run that lead the list (SQLite, MySQL), C those due by the
grace, S the page size: a round reads U + C + 1 DAGs, and one pass more when a round's last
pass stops exactly where the unscheduled DAGs end.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.watchdog.airflow_api import AirflowAPIError, Dag
from observability.watchdog.catalog import DagCatalog
from observability.watchdog.overdue import ScheduleScan, overdue_dags, overdue_fact
from tests.watchdog.airflow_wire import AirflowWire, Fault, WireClients

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
GRACE = 1800.0


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def wire(shared_wire: AirflowWire) -> AirflowWire:
    shared_wire.major, shared_wire.maximum_page_limit, shared_wire.fault = 3, 100, None
    shared_wire.dags.clear()
    shared_wire.reset()
    return shared_wire


_WHEN = st.one_of(
    st.none(),
    st.integers(-300, 60).map(lambda minutes: _at(NOW + timedelta(minutes=minutes))),
    st.integers(-300, 60).map(  # without a zone: read as UTC
        lambda minutes: (NOW + timedelta(minutes=minutes)).replace(tzinfo=None).isoformat()
    ),
    st.sampled_from(
        [
            "garbage",
            "",
            "9000-12-31T23:59:59Z",
            "9999-12-31T23:59:59.999999+00:00",
            "0001-01-01T00:00:00+14:00",
            "2026-13-45T99:00:00Z",
        ]
    ),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)
_RECORD = st.fixed_dictionaries(
    {
        "dag_id": st.one_of(st.sampled_from([f"dag_{n}" for n in range(6)]), st.none()),
        "next_dagrun_logical_date": _WHEN,
        "next_dagrun_run_after": _WHEN,
        "is_paused": st.booleans(),
    }
)
_TOTAL = st.one_of(
    st.just("absent"),
    st.integers(-5, 40),
    st.sampled_from([10**30, 1e300, 2.5, None]),
)
_PAGE = st.one_of(
    st.tuples(st.lists(_RECORD, max_size=6), _TOTAL),
    st.sampled_from(["[]", "not json", '{"dags": {"a": 1}, "total_entries": 3}']),
)


def _body(page: Any) -> bytes:
    if isinstance(page, str):
        return page.encode()
    records, total = page
    answer: dict[str, Any] = {"dags": records}
    if total != "absent":
        answer["total_entries"] = total
    return json.dumps(answer).encode()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(_PAGE, min_size=1, max_size=8), pages=st.integers(1, 3))
def test_a_lying_dag_list_ends_each_pass_and_reports_only_what_its_record_says(
    wire: AirflowWire, clients: WireClients, script: list[Any], pages: int
) -> None:
    served: list[list[Any]] = []

    def lie(path: str, query: dict[str, Any]) -> Fault | None:
        if path != "/api/v2/dags":
            return None
        page = script[len(served) % len(script)]  # the script again and again: forever
        served.append(page[0] if isinstance(page, tuple) else [])
        return Fault(body=_body(page))

    wire.fault = lie
    scan = ScheduleScan(clients(), pages=pages)
    for _ in range(4):
        before = len(served)
        try:
            facts, _ = scan.overdue(GRACE, NOW)
        except AirflowAPIError:
            facts = []
        this_pass = served[before:]
        assert len(this_pass) <= pages + 1
        for fact in facts:
            own = [
                overdue_fact(Dag.from_api(record), GRACE, NOW)
                for page in this_pass
                for record in page
                if record.get("dag_id") == fact.dag_id
            ]
            assert fact in own, fact


_DAG = st.tuples(
    st.integers(-120, 60),  # the next run's logical date, minutes from now
    st.one_of(st.just(0), st.integers(0, 90)),  # minutes from it to when it may be created
    st.booleans(),  # paused: the list leaves it out
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dags=st.lists(_DAG, max_size=30),
    unscheduled=st.integers(0, 12),
    nulls_first=st.booleans(),
    page_size=st.integers(1, 5),
    pages=st.integers(1, 3),
)
def test_an_honest_list_yields_every_overdue_dag_within_the_bound(
    wire: AirflowWire,
    clients: WireClients,
    dags: list[tuple[int, int, bool]],
    unscheduled: int,
    nulls_first: bool,
    page_size: int,
    pages: int,
) -> None:
    wire.dags.clear()
    wire.nulls_first, wire.maximum_page_limit = nulls_first, page_size
    expected, due = set(), 0
    for number, (logical, span, paused) in enumerate(dags):
        dag_id = f"dag_{number:03d}"
        run_after = NOW + timedelta(minutes=logical + span)
        wire.add(
            dag_id,
            _at(NOW + timedelta(minutes=logical)),
            next_dagrun_run_after=_at(run_after),
            is_paused=paused,
        )
        if paused:
            continue
        due += NOW + timedelta(minutes=logical) <= NOW - timedelta(seconds=GRACE)
        if run_after + timedelta(seconds=GRACE) <= NOW:
            expected.add(dag_id)
    wire.add("stuck", _at(NOW - timedelta(hours=3)))  # always one to find
    expected.add("stuck")
    due += 1
    for number in range(unscheduled):
        wire.add(f"manual_{number:03d}")
    leading = unscheduled if nulls_first else 0
    bound = math.ceil((leading + due + 1) / (pages * page_size)) + 1
    scan = ScheduleScan(clients(), pages=pages)
    found: set[str] = set()
    for _ in range(bound):
        facts, _ = scan.overdue(GRACE, NOW)
        batch = {fact.dag_id or "" for fact in facts}
        assert batch <= expected
        found |= batch
    assert found == expected


def test_unscheduled_dags_filling_whole_pages_do_not_hide_the_overdue_ones(
    wire: AirflowWire, clients: WireClients
) -> None:
    """On SQLite, 200 DAGs without a next run lead, two pages of 100: a pass that stops at
    its page limit exactly where they end reads on from there the next pass (it used to take
    that for fewer unscheduled DAGs leading, start again from the first, and never get past
    them)."""
    wire.nulls_first = True
    for number in range(200):
        wire.add(f"manual_{number:03d}")
    wire.add("stuck", _at(NOW - timedelta(hours=2)))
    scan = ScheduleScan(clients(), pages=1)
    found = [{fact.dag_id for fact in scan.overdue(GRACE, NOW)[0]} for _ in range(4)]
    assert {"stuck"} in found


def test_odd_records_and_a_date_past_9000_cost_only_themselves(
    wire: AirflowWire, clients: WireClients
) -> None:
    """A page whose records all lack a ``dag_id`` is read past (the scan counted the records it
    kept, so a page of odd ones looked like the list's end); and on SQLite a DAG whose next
    run is past year 9000 (unreadable: read as none) heads the list sorted the other way, which
    made the scan conclude that no DAG had a next run at all."""
    wire.maximum_page_limit = 2
    for minutes, dag_id in ((300, "odd_1"), (299, "odd_2")):
        wire.add(dag_id, _at(NOW - timedelta(minutes=minutes)))
        wire.dags[dag_id]["dag_id"] = None
    wire.add("stuck", _at(NOW - timedelta(hours=2)))
    wire.add("later", _at(NOW + timedelta(hours=1)))
    scan = ScheduleScan(clients(), pages=3)
    assert {fact.dag_id for fact in scan.overdue(GRACE, NOW)[0]} == {"stuck"}

    wire.dags.clear()
    wire.nulls_first = True
    wire.add("manual")
    wire.add("far_future", "9500-01-01T00:00:00Z")
    wire.add("stuck", _at(NOW - timedelta(hours=2)))
    scan = ScheduleScan(clients(), pages=3)
    assert {fact.dag_id for fact in scan.overdue(GRACE, NOW)[0]} == {"stuck"}


def test_on_airflow_2_a_dag_that_cannot_be_read_again_costs_itself_only(
    wire: AirflowWire, clients: WireClients
) -> None:
    """2.10 reads each overdue DAG of the catalogue again: one answering 500 is left for the
    next pass, and the other is reported."""
    wire.major = 2
    wire.add("stuck_a", _at(NOW - timedelta(hours=2)))
    wire.add("stuck_b", _at(NOW - timedelta(hours=2)))
    api = clients()
    catalog = DagCatalog(api, pages_per_pass=3, refresh_s=3600)
    catalog.advance()
    wire.fault = lambda path, query: Fault(status=500) if path == "/api/v1/dags/stuck_a" else None
    facts = overdue_dags(ScheduleScan(api, 3), catalog, GRACE, lambda fact: False, NOW)
    assert [fact.dag_id for fact in facts] == ["stuck_b"]
    wire.fault = None
    facts = overdue_dags(ScheduleScan(api, 3), catalog, GRACE, lambda fact: False, NOW)
    assert [fact.dag_id for fact in facts] == ["stuck_a", "stuck_b"]
