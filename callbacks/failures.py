"""Why a task ended: a short ``reason`` and a readable exception, from what Airflow hands us.

A task that raised has its exception. A task Airflow ended from outside has none: Airflow 2.10
passes the scheduler's zombie record (a dict of ids, as text), Airflow 3 passes a message from
the API server or the scheduler, or (DAG-processor callbacks) nothing at all. Those become a
``TaskKilled`` whose message says what happened, and a ``reason`` that alerts can filter on.
"""

from __future__ import annotations

import ast
from typing import Any

TIMED_OUT = "timed out"
SENSOR_TIMED_OUT = "sensor timed out"
NO_HEARTBEAT = "killed: no heartbeat"
KILLED_EXTERNALLY = "killed externally"
MARKED_FAILED = "marked failed"
REASONS = (TIMED_OUT, SENSOR_TIMED_OUT, NO_HEARTBEAT, KILLED_EXTERNALLY, MARKED_FAILED)
"""Every task ``reason`` value (README: the event schema)."""
FROM_OUTSIDE = (NO_HEARTBEAT, KILLED_EXTERNALLY, MARKED_FAILED)
"""Reasons Airflow reports from the scheduler, API server or DAG processor, not the task."""


class TaskKilled(Exception):
    """Airflow ended the task from outside: no exception was raised inside it."""


def _type_name(error: BaseException) -> str:
    return type(error).__name__


def _zombie_record(message: str) -> dict[str, Any] | None:
    """Airflow 2.10's heartbeat-loss message: ``str()`` of a dict with 'DAG Id', 'Task Id'..."""
    if not (message.startswith("{") and "'DAG Id'" in message):
        return None
    try:
        record = ast.literal_eval(message)
    except (ValueError, SyntaxError):
        return None
    return record if isinstance(record, dict) else None


def _from_message(message: str) -> tuple[str | None, Any]:
    record = _zombie_record(message)
    if record is not None:
        where = ", ".join(f"{key}: {value}" for key, value in record.items() if key != "DAG Id")
        return NO_HEARTBEAT, TaskKilled(
            f"The task stopped sending heartbeats and Airflow failed it ({where})"
        )
    if "state was manually set to" in message:
        return MARKED_FAILED, TaskKilled(f"The task was marked failed from outside: {message}")
    if message.startswith("Executor ") and "reported that the task instance" in message:
        return KILLED_EXTERNALLY, TaskKilled(
            "The task's process ended without reporting a result (killed, or it crashed "
            f"before starting): {message}"
        )
    if "heartbeat" in message.lower():
        return NO_HEARTBEAT, TaskKilled(message)
    return None, message


SOFT_FAIL = " (soft_fail)"


def soft_fail_skip(timeout: Any, elapsed_s: float | None, poke_interval: Any = 0) -> str:
    """The reason of a ``soft_fail`` sensor's skip when Airflow passes no exception (skip
    callbacks and listeners): it timed out if it ran at least its ``timeout``, give or take
    one ``poke_interval`` (a rescheduled sensor's first start is not in its context), else
    it failed."""
    if isinstance(timeout, (int, float)) and elapsed_s is not None:
        interval = poke_interval if isinstance(poke_interval, (int, float)) else 0
        if elapsed_s + interval >= timeout:
            return SENSOR_TIMED_OUT + SOFT_FAIL
    return "sensor failed" + SOFT_FAIL


def explain(event_type: str, error: Any, state: str | None) -> tuple[str | None, Any]:
    """(reason, exception) for a task event; ``state`` is the task instance's state as the
    callback sees it. An ordinary exception has no reason: its type and message say it all."""
    if isinstance(error, BaseException):
        name = _type_name(error)
        if name == "AirflowSensorTimeout":
            return SENSOR_TIMED_OUT, error
        if name == "AirflowTaskTimeout":
            return TIMED_OUT, error
        if name == "AirflowTaskTerminated":
            return KILLED_EXTERNALLY, error
        if name == "AirflowSkipException" and "timed out" in str(error).lower():
            return SENSOR_TIMED_OUT + SOFT_FAIL, error
        return None, error
    if isinstance(error, str):
        return _from_message(error)
    if error is None and event_type in ("task_failed", "task_up_for_retry"):
        # A task that fails by itself hands its callbacks the exception. None: Airflow 3 ran
        # the callbacks of a task it failed from outside, in the DAG processor; the state the
        # scheduler saw tells whether it stopped heartbeating while running.
        if state == "running":
            return NO_HEARTBEAT, TaskKilled(
                "The task stopped sending heartbeats and Airflow failed it"
            )
        return KILLED_EXTERNALLY, TaskKilled(
            "The task's process ended without reporting a result (killed, or it crashed)"
        )
    return None, error
