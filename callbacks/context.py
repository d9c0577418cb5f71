"""Reading an Airflow callback context into event fields, on Airflow 2.10 and 3.x alike.

Airflow 3 hands callbacks a ``RuntimeTaskInstance`` and a trimmed context; Airflow 2 hands
them the ORM ``TaskInstance``. Every attribute is read with a default, so a field that one
version lacks is null in the event rather than an exception in the callback. Nothing here
touches Airflow's database session; the two facts a context does not carry (a run's failed
tasks, a sensor's reschedules on Airflow 2.10) come from ``callbacks.metadata``, on a
connection of our own, where the process can reach the database at all.

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

EventFields = dict[str, Any]
"""Keyword arguments of ``observability.events.Event``, validated later by the writer."""

TEAM_TAG_PREFIX = "team:"
LABELS_PARAM = "composer_obs_labels"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """getattr that also survives properties raising (some need a DB session or config)."""
    try:
        value = getattr(obj, name, default)
    except Exception:  # noqa: BLE001 - a property needing a DB or config is just absent
        return default
    return default if value is None else value


def _text(value: Any) -> str | None:
    """Enum members (states, run types) by their value, everything else by str()."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@cache
def airflow_version() -> str | None:
    module = sys.modules.get("airflow")
    return getattr(module, "__version__", None) if module else None


@cache
def _hostname() -> str:
    return socket.gethostname()


@cache
def _environment() -> dict[str, str | None]:
    """Composer sets these per environment; read once per process."""
    return {
        # The same precedence as the settings (observability.settings.Settings.project).
        "project_id": os.environ.get("COMPOSER_OBS_PROJECT")
        or os.environ.get("GCP_PROJECT")
        or os.environ.get("GOOGLE_CLOUD_PROJECT"),
        "location": os.environ.get("COMPOSER_LOCATION"),
        "environment_name": os.environ.get("COMPOSER_ENVIRONMENT"),
    }


def _params(context: Mapping[str, Any]) -> Mapping[str, Any]:
    params = context.get("params")
    return params if isinstance(params, Mapping) else {}


def _team(dag: Any, params: Mapping[str, Any], owner: str | None) -> str | None:
    """The team that owns the work: a ``team:NAME`` DAG tag, a ``team`` param, else the owner."""
    for tag in _get(dag, "tags", ()) or ():
        if isinstance(tag, str) and tag.lower().startswith(TEAM_TAG_PREFIX):
            return tag[len(TEAM_TAG_PREFIX) :].strip() or None
    team = params.get("team")
    if isinstance(team, str) and team:
        return team
    return owner


def _labels(params: Mapping[str, Any]) -> dict[str, str]:
    labels = params.get(LABELS_PARAM)
    if not isinstance(labels, Mapping):
        return {}
    return {str(key): str(value) for key, value in labels.items()}


def _common(context: Mapping[str, Any]) -> EventFields:
    """Fields every event of a task or a DAG run carries."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    dag = context.get("dag") or _get(task, "dag")
    dag_run = context.get("dag_run")
    params = _params(context)
    owner = _get(task, "owner") or _get(dag, "owner")
    logical_date = context.get("logical_date") or _get(dag_run, "logical_date")
    return {
        **_environment(),
        "airflow_version": airflow_version(),
        "dag_id": _get(ti, "dag_id") or _get(dag, "dag_id") or _get(dag_run, "dag_id"),
        "run_id": _get(ti, "run_id") or context.get("run_id") or _get(dag_run, "run_id"),
        "run_type": _text(_get(dag_run, "run_type")),
        "logical_date": _aware(logical_date),
        "owner": owner,
        "team": _team(dag, params, owner),
        "labels": _labels(params),
    }


def _operator(ti: Any, task: Any) -> str | None:
    """As users write it: Airflow's display name (``@task``, ``@task.branch``) before the
    class name, which for a decorated function is a private ``_PythonDecoratedOperator``."""
    return (
        _get(task, "custom_operator_name")
        or _get(ti, "operator")
        or _get(task, "task_type")
        or (type(task).__name__ if task is not None else None)
    )


def _next_try_at(ti: Any, task: Any, now: datetime) -> datetime | None:
    """When the retry is due: Airflow 2's own computation, else retry_delay with its backoff."""
    method = _get(ti, "next_retry_datetime")
    if callable(method):
        try:
            return _aware(method())
        except Exception:  # noqa: BLE001 - fall back to the plain computation
            pass
    delay = _get(task, "retry_delay")
    if not isinstance(delay, timedelta):
        return None
    if _get(task, "retry_exponential_backoff"):
        try_number = int(_get(ti, "try_number", 1) or 1)
        delay = delay * (2 ** max(0, try_number - 1))
        max_delay = _get(task, "max_retry_delay")
        if isinstance(max_delay, timedelta):
            delay = min(delay, max_delay)
    return now + delay


def task_fields(context: Mapping[str, Any]) -> EventFields:
    """The fields of the running task, for its own events and for calls it makes."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    map_index = _get(ti, "map_index")
    return {
        **_common(context),
        "task_id": _get(ti, "task_id") or _get(task, "task_id"),
        "map_index": int(map_index) if isinstance(map_index, int) else None,
        "try_number": _get(ti, "try_number") or context.get("try_number"),
        "operator": _operator(ti, task),
        "queue": _get(ti, "queue") or _get(task, "queue"),
        "pool": _get(ti, "pool") or _get(task, "pool"),
        "hostname": _get(ti, "hostname") or _hostname(),
    }


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


def _reschedules(context: Mapping[str, Any], fields: EventFields) -> int | None:
    """How often this try of a reschedule-mode sensor was rescheduled before now; None for
    every other task. Airflow 3 puts it in the context, Airflow 2.10 only in its database."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    if _get(task, "mode") != "reschedule":
        return None
    count = context.get("task_reschedule_count")
    if not isinstance(count, int):  # a listener's context: Airflow 3's task instance has it
        count = _get(_get(ti, "_ti_context_from_server"), "task_reschedule_count")
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
    event_type: str, context: Mapping[str, Any], duration: Any, reschedules: int | None
) -> tuple[str | None, Any]:
    """(reason, exception) of a failed, retried or skipped try (see ``callbacks.failures``)."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    reason, exception = failures.explain(
        event_type, context.get("exception"), _text(_get(ti, "state"))
    )
    if event_type == "task_skipped" and reason is None and _get(task, "soft_fail"):
        interval = _get(task, "poke_interval", 0)
        poked = (reschedules or 0) * float(interval if isinstance(interval, (int, float)) else 0)
        elapsed = duration + poked if isinstance(duration, (int, float)) else None
        reason = failures.soft_fail_skip(
            _get(task, "timeout"), elapsed, interval if reschedules is not None else 0
        )
    return reason, exception


def task_event(event_type: str, context: Mapping[str, Any]) -> EventFields | None:
    """The event for a task callback (started, succeeded, failed, up for retry, skipped), or
    None when this try's story already has it: an outcome recorded by an earlier callback, or
    a later poke of a reschedule-mode sensor (one ``task_started`` per try; the outcome
    counts the reschedules)."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    if event_type == "task_succeeded" and _text(_get(ti, "state")) == "skipped":
        event_type = "task_skipped"  # Airflow 2.10 also runs success callbacks after a skip
    fields = task_fields(context)
    reschedules = _reschedules(context, fields)
    if event_type == "task_started" and reschedules:
        return None
    key = (
        fields["dag_id"],
        fields["task_id"],
        fields["run_id"],
        fields["map_index"],
        fields["try_number"],
    )
    now = datetime.now(timezone.utc)
    start = _aware(_get(ti, "start_date"))
    if event_type == "task_started":
        start = start or now
        attempts.remember_start(key, start)
        end = None
        duration = None
    else:
        if not attempts.first_outcome(key, event_type):
            return None
        start = start or attempts.start_of(key)
        end = _aware(_get(ti, "end_date")) or now
        duration = _get(ti, "duration")
        if not isinstance(duration, (int, float)) and start:
            duration = max(0.0, (end - start).total_seconds())
    max_tries = _get(ti, "max_tries")
    if max_tries is None and isinstance(_get(task, "retries"), int):
        max_tries = task.retries
    fields.update(
        event_type=event_type,
        timestamp=now,
        state=STATE_BY_EVENT_TYPE[event_type],
        max_tries=max_tries,
        start_date=start,
        end_date=end,
        duration_s=float(duration) if isinstance(duration, (int, float)) else None,
        log_url=_get(ti, "log_url"),
        reschedules=reschedules or None,
    )
    if event_type in ("task_failed", "task_up_for_retry", "task_skipped"):
        reason, exception = _why(event_type, context, duration, reschedules)
        if reason in failures.FROM_OUTSIDE and not attempts.first_outcome(
            (*key, "outside"), event_type, shared=True, began=_aware(_get(ti, "start_date"))
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
    state = _text(_get(ti, "state"))
    timed_out = _text(context.get("reason")) == metadata.TIMED_OUT
    if state in (None, "failed", "upstream_failed") or timed_out:
        return [str(_get(ti, "task_id"))]
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
    start = _aware(_get(dag_run, "start_date"))
    end = _aware(_get(dag_run, "end_date")) or now
    fields = _common(context)
    fields.update(
        event_type=event_type,
        timestamp=now,
        state=STATE_BY_EVENT_TYPE[event_type],
        start_date=start,
        end_date=end,
        duration_s=max(0.0, (end - start).total_seconds()) if start else None,
        reason=_text(context.get("reason")),
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
