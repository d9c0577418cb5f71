"""Reading an Airflow callback context into event fields, on Airflow 2.10 and 3.x alike.

Airflow 3 hands callbacks a ``RuntimeTaskInstance`` and a trimmed context; Airflow 2 hands
them the ORM ``TaskInstance``. Every attribute is read with a default, so a field that one
version lacks is null in the event rather than an exception in the callback. Nothing here
touches Airflow's database session; the two facts a context does not carry (a run's failed
tasks, a sensor's reschedules on Airflow 2.10) come from ``callbacks.metadata``, on a
connection of our own, where the process can reach the database at all.

A callback runs on the task's thread, so what it reads is time the task waits: what comes
from the task's and the DAG's definitions alone is read once per task object
(``callbacks.definitions``), the task instance's fields in one pass per callback.

The result is a plain dict of event fields, not the pydantic ``Event``: Airflow 2's task
process has not loaded pydantic, and loading it would cost the first callback ~0.4 s. The
background writer validates the fields against ``observability.events.Event``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from callbacks import attempts, failures, metadata
from callbacks.definitions import Definition, definition_of
from callbacks.reading import attribute, attributes, aware, text

EventFields = dict[str, Any]
"""Keyword arguments of ``observability.events.Event``, validated later by the writer."""

LABELS_PARAM = "composer_obs_labels"


@cache
def airflow_version() -> str | None:
    module = sys.modules.get("airflow")
    return getattr(module, "__version__", None) if module else None


@cache
def _hostname() -> str:
    return socket.gethostname()


@cache
def _process_fields() -> EventFields:
    """The fields that are the same for every event of this process: Composer sets these per
    environment. Read once per process; callers copy them into each event."""
    return {
        # The same precedence as the settings (observability.settings.Settings.project).
        "project_id": os.environ.get("COMPOSER_OBS_PROJECT")
        or os.environ.get("GCP_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT"),
        "location": os.environ.get("COMPOSER_LOCATION"),
        "environment_name": os.environ.get("COMPOSER_ENVIRONMENT"),
        "airflow_version": airflow_version(),
    }


def _objects(context: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The task instance, task and DAG of a callback's context (each may be None)."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or attribute(ti, "task")
    dag = context.get("dag") or attribute(task, "dag")
    return ti, task, dag


def _params(context: Mapping[str, Any]) -> Mapping[str, Any]:
    params = context.get("params")
    return params if isinstance(params, Mapping) else {}


def _team(definition: Definition, params: Mapping[str, Any]) -> str | None:
    """The team that owns the work: a ``team:NAME`` DAG tag, a ``team`` param, else the owner."""
    if definition.team_tagged:
        return definition.team_tag
    team = params.get("team")
    if isinstance(team, str) and team:
        return team
    return definition.owner


def _labels(params: Mapping[str, Any]) -> dict[str, str]:
    labels = params.get(LABELS_PARAM)
    if labels is None or not isinstance(labels, Mapping):
        return {}
    return {str(key): str(value) for key, value in labels.items()}


def _common(
    context: Mapping[str, Any], definition: Definition, dag_id: Any, run_id: Any
) -> EventFields:
    """Fields every event of a task or a DAG run carries; ``dag_id`` and ``run_id`` are the
    task instance's, when there is one."""
    dag_run = context.get("dag_run")
    params = _params(context)
    logical_date = context.get("logical_date") or attribute(dag_run, "logical_date")
    return {
        **_process_fields(),
        "dag_id": dag_id or definition.dag_id or attribute(dag_run, "dag_id"),
        "run_id": run_id or context.get("run_id") or attribute(dag_run, "run_id"),
        "run_type": text(attribute(dag_run, "run_type")),
        "logical_date": aware(logical_date),
        "owner": definition.owner,
        "team": _team(definition, params),
        "labels": _labels(params),
    }


def _next_try_at(ti: Any, task: Any, now: datetime) -> datetime | None:
    """When the retry is due: Airflow 2's own computation, else retry_delay with its backoff."""
    method = attribute(ti, "next_retry_datetime")
    if callable(method):
        try:
            return aware(method())
        except Exception:  # noqa: BLE001 - fall back to the plain computation
            pass
    delay = attribute(task, "retry_delay")
    if not isinstance(delay, timedelta):
        return None
    if attribute(task, "retry_exponential_backoff"):
        try_number = int(attribute(ti, "try_number", 1) or 1)
        delay = delay * (2 ** max(0, try_number - 1))
        max_delay = attribute(task, "max_retry_delay")
        if isinstance(max_delay, timedelta):
            delay = min(delay, max_delay)
    return now + delay


TRY_ATTRIBUTES = (
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "try_number",
    "operator",
    "queue",
    "pool",
    "hostname",
)
"""What the task instance says about the try: read in one pass (``reading.attributes``)."""
STARTED_ATTRIBUTES = (*TRY_ATTRIBUTES, "start_date", "max_tries", "log_url")
ENDED_ATTRIBUTES = (*STARTED_ATTRIBUTES, "state", "end_date", "duration")


def _try_fields(
    context: Mapping[str, Any], definition: Definition, values: list[Any]
) -> EventFields:
    """The task's fields from the task instance's ``TRY_ATTRIBUTES`` (``values``, in order),
    its definition and the context."""
    dag_id, run_id, task_id, map_index, try_number, operator, queue, pool, hostname = values[
        : len(TRY_ATTRIBUTES)
    ]
    fields = _common(context, definition, dag_id, run_id)
    fields["task_id"] = task_id or definition.task_id
    fields["map_index"] = int(map_index) if isinstance(map_index, int) else None
    fields["try_number"] = try_number or context.get("try_number")
    # As users write it: Airflow's display name (``@task``, ``@task.branch``) before the
    # class name, which for a decorated function is a private ``_PythonDecoratedOperator``.
    fields["operator"] = definition.operator_name or operator or definition.operator_type
    fields["queue"] = queue or definition.queue
    fields["pool"] = pool or definition.pool
    fields["hostname"] = hostname or _hostname()
    return fields


def task_fields(context: Mapping[str, Any]) -> EventFields:
    """The fields of the running task, for its own events and for calls it makes."""
    ti, task, dag = _objects(context)
    return _try_fields(context, definition_of(task, dag), attributes(ti, TRY_ATTRIBUTES))


STATE_BY_EVENT_TYPE = {
    "task_started": "running",
    "task_succeeded": "success",
    "task_failed": "failed",
    "task_up_for_retry": "up_for_retry",
    "task_skipped": "skipped",
    "dag_run_succeeded": "success",
    "dag_run_failed": "failed",
}
"""The state an event stands for. Airflow's own ``state`` attribute is not reliable at callback
time (Airflow 2.10 shows ``scheduled`` to on_execute and ``running`` to success callbacks)."""


def _reschedules(
    context: Mapping[str, Any], ti: Any, definition: Definition, fields: EventFields
) -> int | None:
    """How often this try of a reschedule-mode sensor was rescheduled before now; None for
    every other task. Airflow 3 puts it in the context, Airflow 2.10 only in its database."""
    if not definition.reschedules:
        return None
    count = context.get("task_reschedule_count")
    if not isinstance(count, int):  # a listener's context: Airflow 3's task instance has it
        count = attribute(attribute(ti, "_ti_context_from_server"), "task_reschedule_count")
    if isinstance(count, int):
        return count
    if not (airflow_version() or "3").startswith("2."):
        return None  # Airflow 3 tasks cannot reach the database
    try:
        return metadata.reschedule_count(
            fields["dag_id"],
            fields["task_id"],
            fields["run_id"],
            fields["map_index"] if fields["map_index"] is not None else -1,
            int(fields["try_number"] or 1),
        )
    except Exception:  # noqa: BLE001 - unknown: count this poke as a start
        return None


def _why(
    event_type: str,
    context: Mapping[str, Any],
    task: Any,
    state: str | None,
    duration: Any,
    reschedules: int | None,
) -> tuple[str | None, Any]:
    """(reason, exception) of a failed, retried or skipped try (see ``callbacks.failures``);
    ``state`` is the task instance's."""
    reason, exception = failures.explain(event_type, context.get("exception"), state)
    if event_type == "task_skipped" and reason is None and attribute(task, "soft_fail"):
        interval = attribute(task, "poke_interval", 0)
        poked = (reschedules or 0) * float(interval if isinstance(interval, (int, float)) else 0)
        elapsed = duration + poked if isinstance(duration, (int, float)) else None
        reason = failures.soft_fail_skip(
            attribute(task, "timeout"), elapsed, interval if reschedules is not None else 0
        )
    return reason, exception


def task_event(event_type: str, context: Mapping[str, Any]) -> EventFields | None:
    """The event for a task callback (started, succeeded, failed, up for retry, skipped), or
    None when this try's story already has it: an outcome recorded by an earlier callback, or
    a later poke of a reschedule-mode sensor (one ``task_started`` per try; the outcome
    counts the reschedules)."""
    ti, task, dag = _objects(context)
    definition = definition_of(task, dag)
    started = event_type == "task_started"
    values = attributes(ti, STARTED_ATTRIBUTES if started else ENDED_ATTRIBUTES)
    began, max_tries, log_url, *ended = values[len(TRY_ATTRIBUTES) :]
    state, end_date, duration = ended if ended else (None, None, None)
    state = text(state)
    if event_type == "task_succeeded" and state == "skipped":
        event_type = "task_skipped"  # Airflow 2.10 also runs success callbacks after a skip
    fields = _try_fields(context, definition, values)
    reschedules = _reschedules(context, ti, definition, fields)
    if started and reschedules:
        return None
    key = (
        fields["dag_id"],
        fields["task_id"],
        fields["run_id"],
        fields["map_index"],
        fields["try_number"],
    )
    now = datetime.now(timezone.utc)
    began = aware(began)
    start: datetime | None
    if started:
        start = began or now
        attempts.remember_start(key, start)
        end = None
    else:
        if not attempts.first_outcome(key, event_type):
            return None
        start = began or attempts.start_of(key)
        end = aware(end_date) or now
        if not isinstance(duration, (int, float)) and start:
            duration = max(0.0, (end - start).total_seconds())
    if max_tries is None:
        max_tries = definition.retries
    fields["event_type"] = event_type
    fields["timestamp"] = now
    fields["state"] = STATE_BY_EVENT_TYPE[event_type]
    fields["max_tries"] = max_tries
    fields["start_date"] = start
    fields["end_date"] = end
    fields["duration_s"] = float(duration) if isinstance(duration, (int, float)) else None
    fields["log_url"] = log_url
    fields["reschedules"] = reschedules or None
    if event_type in ("task_failed", "task_up_for_retry", "task_skipped"):
        reason, exception = _why(event_type, context, task, state, duration, reschedules)
        if reason in failures.FROM_OUTSIDE and not attempts.first_outcome(
            (*key, "outside"), event_type, shared=True, began=began
        ):
            return None  # Airflow reported this kill twice: once is the truth
        fields["reason"] = reason
        if event_type != "task_skipped":
            # The object itself: the writer thread formats it (see observability.exceptions).
            fields["exception"] = exception
    if event_type == "task_up_for_retry":
        fields["next_try_at"] = _next_try_at(ti, task, now)
    return fields


def failed_task_ids_in_context(context: Mapping[str, Any]) -> list[str]:
    """The failed tasks a DAG callback's context names: Airflow 3 gives it only the task
    instance that ended the run (for a timed-out run, the one it stopped)."""
    ti = context.get("task_instance") or context.get("ti")
    if ti is None:
        return []
    state = text(attribute(ti, "state"))
    timed_out = text(context.get("reason")) == metadata.TIMED_OUT
    if state in (None, "failed", "upstream_failed") or timed_out:
        return [str(attribute(ti, "task_id"))]
    return []


def _failed_task_ids(context: Mapping[str, Any], fields: EventFields) -> list[str]:
    """Every failed task of the run, from the metadata database when this process reaches it
    (on a connection of our own), else what the context names."""
    try:
        found = metadata.failed_task_ids(fields["dag_id"], fields["run_id"])
    except Exception:  # noqa: BLE001 - the database is busy or gone: use the context
        found = None
    return found if found else failed_task_ids_in_context(context)


def dag_run_event(event_type: str, context: Mapping[str, Any]) -> EventFields:
    """The event for a DAG-level callback (run succeeded or failed)."""
    dag_run = context.get("dag_run")
    now = datetime.now(timezone.utc)
    start = aware(attribute(dag_run, "start_date"))
    end = aware(attribute(dag_run, "end_date")) or now
    ti, task, dag = _objects(context)
    dag_id, run_id = attributes(ti, ("dag_id", "run_id"))
    fields = _common(context, definition_of(task, dag), dag_id, run_id)
    fields.update(
        event_type=event_type,
        timestamp=now,
        state=STATE_BY_EVENT_TYPE[event_type],
        start_date=start,
        end_date=end,
        duration_s=max(0.0, (end - start).total_seconds()) if start else None,
        reason=text(context.get("reason")),
        hostname=_hostname(),
    )
    return fields


def dag_callback_event(event_type: str, context: Mapping[str, Any]) -> EventFields:
    """The event of a DAG's own success or failure callback (the DAG processor, or ``airflow
    dags test``): a failure names the run's failed tasks."""
    fields = dag_run_event(event_type, context)
    if event_type == "dag_run_failed":
        fields["failed_task_ids"] = _failed_task_ids(context, fields)
    return fields


def first_run_outcome(fields: EventFields) -> bool:
    """False when this machine already sent this run's outcome: Airflow 2.10 can end a run
    twice, and the DAG callback (DAG processor) and the listener (scheduler) both see it."""
    key = (fields["dag_id"], fields["run_id"], fields["event_type"])
    began = fields["start_date"]
    return attempts.first_outcome(key, fields["event_type"], shared=True, began=began)
