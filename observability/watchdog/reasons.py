"""Why a task try or a DAG run ended failed, read from what Airflow kept of it.

A try killed from outside runs no callback, so the reason must come from Airflow's records:
the tail of the try's log (the supervisor writes the signal or the return code there), the
audit log (a state set by a person or through the API), and the DAG run's own timing against
its ``dagrun_timeout``. The order of the checks matters: a try marked failed by hand may also
show a SIGTERM in its log, and the hand is the cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from observability.redact import redact_cut

KILLED = "killed (likely out of memory)"
HEARTBEAT_LOST = "killed: no heartbeat"
"""The words the callbacks use for the same fact (callbacks.failures), so routes match both."""
MARKED_FAILED = "marked failed"
RUN_TIMED_OUT = "run timed out"
TIMED_OUT = "timed out"

_KILLED = re.compile(
    r"SIGKILL|signal 9\b|Signals\.SIGKILL|[Rr]eturn ?code:? ?-9\b|exit(?:ed)? (?:with )?code:? ?"
    r"(?:-9|137)\b|\bKilled\b|MemoryError|[Oo]ut of memory|\bOOM\b|OOMKilled|oom-kill|"
    r"terminated by signal"
)
_HEARTBEAT = re.compile(
    r"[Zz]ombie|heartbeat|[Hh]eartbeat timeout|no longer running|externally set to|"
    r"was not running, but expected"
)
_TIMEOUT = re.compile(r"AirflowTaskTimeout|Timeout, PID|execution_timeout|[Tt]imed out after")
_STATE_EVENTS = re.compile(
    # Airflow 3: patch_task_instance, patch_dag_run; Airflow 2.10: api.patch_task_instance,
    # api.update_dag_run_state, api.post_set_task_instances_state, and the UI's actions.
    r"patch_task_instance|patch_dag_run|update_dag_run_state|set_task_instances?_state|"
    r"set_dag_run_state|"
    r"mark(?:ed)?_?(?:task|dag|run)?.*fail|failed_?dag_?run|dagrun_failed|"
    r"ti_state_change|action_set_failed|confirm",
    re.IGNORECASE,
)
_SYSTEM_OWNERS = frozenset({"", "airflow", "scheduler", "anonymous", "None"})


_EVENT_CHARS = 200
"""Airflow's audit log keeps an event's name in 60 characters; more is not an event name, and
the patterns above would take time quadratic in its length."""


def _event(record: Mapping[str, Any]) -> str:
    return str(record.get("event") or "")[:_EVENT_CHARS]


def marked_by_hand(event_logs: Iterable[Mapping[str, Any]], task_id: str | None) -> bool:
    """An audit record of a person (or an API client) setting a state on this task or run."""
    for record in event_logs:
        event = _event(record)
        if not _STATE_EVENTS.search(event):
            continue
        owner = str(record.get("owner") or "")
        if owner in _SYSTEM_OWNERS and "patch" not in event and "set_" not in event:
            continue
        record_task = record.get("task_id")
        if task_id is None or record_task in (None, "", task_id):
            return True
    return False


def task_reason(log_tail: str, event_logs: Iterable[Mapping[str, Any]], task_id: str) -> str:
    """The reason of a failed try that reported nothing itself."""
    records = list(event_logs)
    if marked_by_hand(records, task_id):
        return MARKED_FAILED
    if _KILLED.search(log_tail):
        return KILLED
    if _TIMEOUT.search(log_tail):
        return TIMED_OUT
    lost = any(
        _HEARTBEAT.search(_event(record))
        for record in records
        if record.get("task_id") in (None, task_id)
    )
    if lost or _HEARTBEAT.search(log_tail) or not log_tail.strip():
        # No log at all: the process died before it wrote one, or its host went away;
        # either way only the missing heartbeat told Airflow it was gone.
        return HEARTBEAT_LOST
    return "failed"


def last_error_line(text: str) -> str | None:
    """The last line that looks like an exception (``Type: message``), else the last line;
    redacted, and cut to 300 characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Timeout)\b", line):
            return redact_cut(line, 300)
    return redact_cut(lines[-1], 300) if lines else None
