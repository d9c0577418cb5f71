"""An Airflow listener: task events for every task of an environment, no DAG edited.

Registered by ``callbacks.plugin``. Task hooks run where the task runs (the worker's task
process) and, for tasks Airflow ends from outside, in the scheduler, the API server (marked
failed) or the DAG processor (lost heartbeats on 2.10). DAG-run hooks run in the scheduler and
the API server, which Composer 3 does not give plugins: use ``on_dag_success`` /
``on_dag_failure`` on the DAG for run-level events there. A task that already has our callbacks
is skipped here, and a run outcome is sent once per machine, so installing both never doubles
an event.

These hooks run inside Airflow's own processes, on Airflow's objects, in the middle of
Airflow's transactions: they never raise, never read an attribute that would make SQLAlchemy
query (``callbacks.snapshot``), and in the scheduler's loop do nothing but build the event.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.listeners import hookimpl

from callbacks import metadata
from callbacks.lifecycle import TASK_CALLBACKS, Context, is_ours
from callbacks.snapshot import loaded


def _safely(hook: str, action: Callable[[], None]) -> None:
    """Run a hook's work; whatever goes wrong is printed, never raised into Airflow (which
    would end the scheduler loop or the API request that called the hook)."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a listener must never hurt Airflow
        print(f"composer-observability: listener {hook} failed: {exc!r}", file=sys.stderr)


def _context(task_instance: Any, error: BaseException | str | None = None) -> Context:
    task = getattr(task_instance, "task", None)
    context: dict[str, Any] = {"task_instance": task_instance, "ti": task_instance, "task": task}
    if error is not None:
        context["exception"] = error
    return context


def _instrumented(task_instance: Any, callback_argument: str) -> bool:
    task = getattr(task_instance, "task", None)
    return task is not None and is_ours(getattr(task, callback_argument, None))


def _record(callback_argument: str, task_instance: Any, error: Any = None) -> None:
    def record() -> None:
        ti = loaded(task_instance)
        if not _instrumented(ti, callback_argument):
            TASK_CALLBACKS[callback_argument](_context(ti, error))

    _safely(callback_argument, record)


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _record("on_execute_callback", task_instance)


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _record("on_success_callback", task_instance)


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    """Fires for both final failures and failures that will be retried: the state tells."""
    state = getattr(task_instance, "state", None)
    retrying = str(getattr(state, "value", state)) == "up_for_retry"
    _record("on_retry_callback" if retrying else "on_failure_callback", task_instance, error)


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    """Airflow 3 only; Airflow 2.10 has no skip hook for listeners."""
    _record("on_skipped_callback", task_instance)


def _reason(run: Any, dag: Any, msg: str) -> str | None:
    """Airflow's reason; Airflow 2.10 gives none for a run it ends at ``dagrun_timeout``."""
    if msg:
        return msg
    timeout, start = getattr(dag, "dagrun_timeout", None), getattr(run, "start_date", None)
    if isinstance(timeout, timedelta) and isinstance(start, datetime):
        start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        if datetime.now(timezone.utc) - start >= timeout:
            return metadata.TIMED_OUT
    return None


def _run_context(dag_run: Any, msg: str) -> Context:
    run = loaded(dag_run)
    dag = getattr(run, "dag", None)
    return {"dag_run": run, "reason": _reason(run, dag, msg), "dag": dag}


def _run_event(hook: str, event_type: str, dag_run: Any, msg: str) -> None:
    """Runs in the scheduler's loop (or an API request): the event is built from what the
    hook carries; the rest (a marker file against Airflow's repeats, the failed tasks' lookup,
    queueing) happens on a thread of ours."""

    def build() -> None:
        from callbacks.context import dag_run_event

        fields = dag_run_event(event_type, _run_context(dag_run, msg))
        metadata.in_background(lambda: _safely(hook, lambda: _complete(fields)))

    _safely(hook, build)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _run_event("on_dag_run_success", "dag_run_succeeded", dag_run, msg)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _run_event("on_dag_run_failed", "dag_run_failed", dag_run, msg)


def _complete(fields: dict[str, Any]) -> None:
    """Off the scheduler's loop: skip a run outcome already sent from this machine, name a
    failed run's tasks, queue the event."""
    from callbacks.context import first_run_outcome
    from observability.emit import emit

    if not first_run_outcome(fields):
        return
    if fields["event_type"] == "dag_run_failed":
        try:
            found = metadata.failed_task_ids(fields["dag_id"], fields["run_id"])
        except Exception as exc:  # noqa: BLE001 - still report the run, without its tasks
            print(f"composer-observability: tasks of {fields['run_id']}: {exc!r}", file=sys.stderr)
            found = None
        fields["failed_task_ids"] = found or []
    emit(fields)
