"""An Airflow listener: task events for every task of an environment, no DAG edited.

Registered by ``callbacks.plugin``. Listeners run where the task runs (the worker's task
process), so they see task starts, successes, failures, retries and (Airflow 3) skips. DAG-run
hooks run in the scheduler, which Composer 3 does not give plugins: use ``on_dag_success`` /
``on_dag_failure`` on the DAG for run-level events there. A task that already has our
callbacks is skipped here, so installing both never doubles an event.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl

from callbacks.lifecycle import TASK_CALLBACKS, Context, is_ours, on_dag_failure, on_dag_success


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
    if not _instrumented(task_instance, callback_argument):
        TASK_CALLBACKS[callback_argument](_context(task_instance, error))


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


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    on_dag_success({"dag_run": dag_run, "reason": msg, "dag": getattr(dag_run, "dag", None)})


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    on_dag_failure({"dag_run": dag_run, "reason": msg, "dag": getattr(dag_run, "dag", None)})
