"""The task and DAG callbacks themselves: each turns the context into an event and queues it.

Every callback is wrapped so that it can never raise into Airflow (Airflow would log "Failed
to run task callback" and the event would be gone) and never waits on the network: it builds
the event, puts it on the in-process queue and returns.

The modules that build and queue events load on the first callback, not when a DAG file
imports ``callbacks``; they are then kept (``_building``, ``_queueing``), since an ``import``
statement inside the callback would cost the task a microsecond or two at every call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from functools import cache, wraps
from types import ModuleType
from typing import Any

Context = Mapping[str, Any]
Event = dict[str, Any]
"""Event fields (see ``callbacks.context``); the writer validates them."""
Callback = Callable[[Context], None]


@cache
def _building() -> ModuleType:
    """``callbacks.context``, loaded by the first callback."""
    from callbacks import context

    return context


@cache
def _queueing() -> Callable[[Event], None]:
    """``observability.emit.emit``, loaded by the first callback."""
    from observability.emit import emit

    return emit


def _never_raises(build: Callable[[Context], Event | None]) -> Callback:
    """Make an Airflow callback from an event builder: emit its event (if it has one: a
    repeated callback for an outcome already recorded has none), swallow any error."""

    @wraps(build)
    def callback(context: Context) -> None:
        try:
            event = build(context)
            if event is not None:
                _queueing()(event)
        except Exception as exc:  # noqa: BLE001 - a callback must never hurt the task
            print(f"composer-observability: {build.__name__} failed: {exc!r}", file=sys.stderr)

    return callback


def _task(event_type: str) -> Callable[[Context], Event | None]:
    def build(context: Context) -> Event | None:
        return _building().task_event(event_type, context)

    return build


def _dag_run(event_type: str) -> Callable[[Context], Event | None]:
    def build(context: Context) -> Event | None:
        events = _building()
        event = events.dag_callback_event(event_type, context)
        return event if events.first_run_outcome(event) else None

    return build


def _named(name: str, doc: str, build: Callable[[Context], Event | None]) -> Callback:
    build.__name__ = build.__qualname__ = name
    build.__doc__ = doc
    return _never_raises(build)


on_execute = _named("on_execute", "on_execute_callback: the task started.", _task("task_started"))
on_success = _named(
    "on_success", "on_success_callback: the task succeeded.", _task("task_succeeded")
)
on_failure = _named(
    "on_failure", "on_failure_callback: the task failed for good.", _task("task_failed")
)
on_retry = _named(
    "on_retry",
    "on_retry_callback: the task failed and will be retried.",
    _task("task_up_for_retry"),
)
on_skipped = _named(
    "on_skipped",
    "on_skipped_callback: the task raised AirflowSkipException.",
    _task("task_skipped"),
)
on_dag_success = _named(
    "on_dag_success",
    "DAG on_success_callback: the run succeeded.",
    _dag_run("dag_run_succeeded"),
)
on_dag_failure = _named(
    "on_dag_failure", "DAG on_failure_callback: the run failed.", _dag_run("dag_run_failed")
)

TASK_CALLBACKS: dict[str, Callback] = {
    "on_execute_callback": on_execute,
    "on_success_callback": on_success,
    "on_failure_callback": on_failure,
    "on_retry_callback": on_retry,
    "on_skipped_callback": on_skipped,
}
"""Operator argument -> our callback; what ``default_args()`` installs."""


def is_ours(callback: object) -> bool:
    """True if ``callback`` (or any member of a callback list) is one of these callbacks."""
    members = callback if isinstance(callback, (list, tuple)) else [callback]
    return any(member in TASK_CALLBACKS.values() for member in members)
