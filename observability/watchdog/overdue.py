"""Scheduled DAGs whose next run is overdue: read in the order of their next run.

A DAG is overdue when it is unpaused and the time its next run may be created
(``next_run_after``) is more than ``overdue_grace`` ago: the scheduler stopped, the DAG is at
``max_active_runs``, or nothing else created the run.

Airflow 3 sorts the DAG list by ``next_dagrun``, the next run's logical date (3.3's
``order_by`` accepts ``dag_id``, ``dag_display_name``, ``next_dagrun``, ``state`` and
``start_date``), and that date is never after ``next_run_after``: equal for Airflow 3's default
trigger timetables, an interval earlier for data-interval ones. So every overdue DAG lies
before the first unpaused DAG whose logical date is within the grace: the scan reads from the
start of the list up to that DAG, one page a pass when few DAGs are due, whatever the DAG count.
DAGs without a next run (``schedule=None``, assets) sort last on PostgreSQL (the scan stops at
the first) but first on SQLite and MySQL: there the scan learns how many lead (one request
sorted the other way tells the two apart) and starts next pass at the last of them. When more
than ``pages`` pages are candidates (a stopped scheduler makes every DAG overdue; data-interval
timetables make a DAG a candidate one interval before it is due) the next pass reads on from
where this one stopped.

Airflow 2.10 sorts its DAG list by ``dag_id`` only (``allowed_attrs = ["dag_id"]`` in its
``get_dags``): there the DAGs come from the catalogue's rounds, each read again before it is
reported, since the catalogue's copy may be old.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from observability.events import EventType, Finding
from observability.watchdog.airflow_api import AirflowAPI, AirflowAPIError, Dag
from observability.watchdog.catalog import DagCatalog
from observability.watchdog.facts import Fact

_log = logging.getLogger(__name__)


def overdue_fact(dag: Dag, grace_s: float, now: datetime) -> Fact | None:
    """The ``dag_run_late`` fact (reference ``next_run``) of a DAG overdue now, else None."""
    grace = timedelta(seconds=grace_s)
    if dag.is_paused or dag.next_run_after is None or now < dag.next_run_after + grace:
        return None
    return Fact(
        event_type=EventType.DAG_RUN_LATE,
        identity=(dag.dag_id, dag.next_run_after.isoformat(), "next_run"),
        timestamp=dag.next_run_after + grace,
        dag_id=dag.dag_id,
        reason="the next scheduled run was never created "
        "(scheduler stopped, max_active_runs reached, or no free slot)",
        finding=Finding(deadline=dag.next_run_after + grace, deadline_reference="next_run"),
    )


class ScheduleScan:
    """Where the scan of the schedule-ordered DAG list starts, remembered between passes."""

    def __init__(self, api: AirflowAPI, pages: int) -> None:
        self._api = api
        self._pages = pages
        self._nulls_first: bool | None = None
        """Whether this Airflow's database sorts DAGs without a next run first (None: unknown)."""
        self._unscheduled_lead = 0
        """How many DAGs without a next run led the list last time (NULLs-first databases)."""
        self._resume: tuple[int, bool] | None = None
        """Where the next pass reads on when this one stopped at its page limit, and whether
        among the unscheduled DAGs that lead."""

    @property
    def available(self) -> bool:
        """Whether this Airflow sorts its DAG list by the next run (Airflow 3)."""
        return self._api.major >= 3

    def overdue(self, grace_s: float, now: datetime) -> tuple[list[Fact], list[Dag]]:
        """The overdue facts found this pass, and every DAG read (fresh: for the catalogue).

        At most ``pages`` pages are read, and one request more the first time the list begins
        with a DAG without a next run. On a list that holds still, a round from the first DAG
        to the first one not yet due takes ``ceil((U + C + 1) / (pages * S)) + 1`` passes at
        most (U DAGs without a next run leading, C due, S a page's size): every overdue DAG is
        found within that many."""
        due_by = now - timedelta(seconds=grace_s)
        resumed = self._resume is not None
        start, leading = self._resume or (max(0, self._unscheduled_lead - 1), True)
        # ``leading``: no DAG with a next run seen yet, where DAGs without one may lead.
        self._resume = None
        offset = start
        facts: list[Fact] = []
        read: list[Dag] = []
        for _ in range(self._pages):
            page, served, total = self._api.schedule_page(offset)
            read += page
            from_lead = leading and not resumed and offset == start > 0
            if from_lead and page and page[0].next_logical_date is not None:
                # Fewer unscheduled DAGs lead than last time: start again from the first. Not
                # when reading on from a pass that stopped at its page limit: that pass may have
                # stopped exactly where they end, and would start over forever.
                self._unscheduled_lead, offset = 0, 0
                continue
            unscheduled_first = (
                leading and offset == 0 and page and page[0].next_logical_date is None
            )
            if unscheduled_first and not self._sorts_nulls_first():
                return facts, read  # no DAG has a next run at all
            done = False
            for index, dag in enumerate(page):
                if dag.next_logical_date is None:
                    if leading:
                        continue
                    done = True  # NULLs last: no DAG after this one has a next run
                    break
                if leading:
                    self._unscheduled_lead, leading = offset + index, False
                if dag.next_logical_date > due_by:
                    done = True  # no DAG after this one can be due yet
                    break
                if (fact := overdue_fact(dag, grace_s, now)) is not None:
                    facts.append(fact)
            offset += served  # not len(page): odd records skipped still hold their place
            if done or not served or offset >= total:
                if leading:
                    self._unscheduled_lead = offset
                return facts, read
        self._resume = (offset, leading)
        return facts, read

    def _sorts_nulls_first(self) -> bool:
        """The list begins with a DAG without a next run: either the database sorts those
        first (SQLite, MySQL) or no DAG has one. The list sorted the other way tells: its
        first DAG has a next run only in the first case."""
        if self._nulls_first is None:
            latest, _, _ = self._api.schedule_page(0, latest_first=True)
            if not latest or latest[0].next_logical_date is None:
                return False
            self._nulls_first = True
        return self._nulls_first


def overdue_dags(
    scan: ScheduleScan,
    catalog: DagCatalog,
    grace_s: float,
    said: Callable[[Fact], bool],
    now: datetime,
) -> list[Fact]:
    """Scheduled, unpaused DAGs whose next run should have been created ``grace_s`` ago."""
    if scan.available:
        facts, read = scan.overdue(grace_s, now)
        catalog.learn(read)
        return facts
    facts = []
    for known in catalog.known():
        candidate = overdue_fact(known, grace_s, now)
        if candidate is None or said(candidate):
            continue
        try:
            dag = catalog.fresh(known.dag_id)
        except AirflowAPIError as exc:  # one DAG that cannot be read costs itself only
            _log.warning(
                "DAG %r, overdue in the catalogue, is read again next pass: %s", known.dag_id, exc
            )
            continue
        fact = overdue_fact(dag, grace_s, now) if dag is not None else None
        if fact is not None:
            facts.append(fact)
    return facts
