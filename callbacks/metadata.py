"""Reading Airflow's metadata database on a connection of our own, never on Airflow's session:
which tasks of a DAG run failed, how often a sensor was rescheduled.

A DAG run's failure hook gets a ``DagRun`` bound to the session of the process that calls it
(the scheduler's, in the middle of its loop). Asking that object for its task instances runs a
query on that session and ends it, which detaches the scheduler's objects: the scheduler loop
dies with ``DetachedInstanceError`` (issue 12). So we never ask Airflow's objects anything that
needs the database. We read the plain ids the hook carries and ask the database ourselves:
one short read-only ``SELECT`` on a connection that nothing of Airflow's shares, with a
statement timeout. In the scheduler and the API server even that waits for no one: the query
and the event it completes run on a thread of ours (``in_background``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from observability.emit.signal_mask import leave_signals_to_the_main_thread

FAILED_STATES = ("failed", "upstream_failed")
UNFINISHED_STATES = ("running", "queued", "scheduled", "up_for_retry", "up_for_reschedule", None)
TIMED_OUT = "timed_out"
"""Airflow's reason for a run it ended at ``dagrun_timeout``."""

_QUERY_TIMEOUT_MS = 5_000
_lock = threading.Lock()
_engine: Any = None
_engine_pid: int | None = None
_background: ThreadPoolExecutor | None = None
_background_pid: int | None = None


def _database_url() -> str | None:
    """Airflow's metadata database, where this process may reach it (not Airflow 3 tasks)."""
    if "airflow" not in sys.modules:
        return None
    try:
        from airflow.configuration import conf

        url = conf.get("database", "sql_alchemy_conn", fallback=None)
    except Exception:  # noqa: BLE001 - no configuration, no database
        return None
    return url or None


def _connect_args(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {
            "connect_timeout": 5,
            "options": f"-c statement_timeout={_QUERY_TIMEOUT_MS}"
            " -c default_transaction_read_only=on",
        }
    if url.startswith("sqlite"):
        return {"timeout": _QUERY_TIMEOUT_MS / 1000}
    return {}


def _our_engine() -> Any:
    """An engine of our own (no pool: one short connection per lookup), one per process."""
    global _engine, _engine_pid
    with _lock:
        if _engine is None or _engine_pid != os.getpid():
            url = _database_url()
            if url is None:
                return None
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            _engine = create_engine(url, poolclass=NullPool, connect_args=_connect_args(url))
            _engine_pid = os.getpid()
        return _engine


def _select(engine: Any, dag_id: str, run_id: str) -> list[tuple[str, str | None, Any]]:
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT task_id, state, end_date FROM task_instance"
                " WHERE dag_id = :dag_id AND run_id = :run_id"
            ),
            {"dag_id": dag_id, "run_id": run_id},
        )
        return [(row[0], row[1], row[2]) for row in rows]


def failed_task_ids(dag_id: str, run_id: str) -> list[str] | None:
    """The tasks a failed run names: those that failed, and those its end stopped (a timed-out
    or marked-failed run skips its unfinished tasks without an end date, or has not yet);
    None when the database is out of reach from this process."""
    engine = _our_engine()
    if engine is None or not dag_id or not run_id:
        return None
    found = set()
    for task_id, state, end_date in _select(engine, dag_id, run_id):
        stopped = state in UNFINISHED_STATES or (state == "skipped" and not end_date)
        if state in FAILED_STATES or stopped:
            found.add(task_id)
    return sorted(found)


def reschedule_count(
    dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int
) -> int:
    """How many times this try of a reschedule-mode sensor was rescheduled so far (Airflow
    2.10; Airflow 3 puts it in the context); 0 when the database is out of reach."""
    engine = _our_engine()
    if engine is None:
        return 0
    from sqlalchemy import text

    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM task_reschedule WHERE dag_id = :dag_id"
                " AND task_id = :task_id AND run_id = :run_id AND map_index = :map_index"
                " AND try_number = :try_number"
            ),
            {
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "map_index": map_index,
                "try_number": try_number,
            },
        ).scalar()
    return int(count or 0)


def in_background(job: Callable[[], None]) -> None:
    """Run ``job`` on this process's lookup thread (started on first use; a fork gets its
    own). The thread is joined at interpreter exit, before ``atexit`` flushes the events."""
    global _background, _background_pid
    with _lock:
        if _background is None or _background_pid != os.getpid():
            _background = ThreadPoolExecutor(
                1,
                thread_name_prefix="composer-obs-run-tasks",
                initializer=leave_signals_to_the_main_thread,
            )
            _background_pid = os.getpid()
        _background.submit(job)
