"""Reading an Airflow callback context into event fields, on Airflow 2.10 and 3.x alike.

Airflow 3 hands callbacks a ``RuntimeTaskInstance`` and a trimmed context; Airflow 2 hands
them the ORM ``TaskInstance``. Every attribute is read with a default, so a field that one
version lacks is null in the event rather than an exception in the callback. Nothing here
queries the metadata database, which Airflow 3 workers cannot reach.

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

from callbacks import attempts

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


def task_event(event_type: str, context: Mapping[str, Any]) -> EventFields | None:
    """The event for a task callback (started, succeeded, failed, up for retry, skipped), or
    None when this try's outcome was already recorded by an earlier callback."""
    ti = context.get("task_instance") or context.get("ti")
    task = context.get("task") or _get(ti, "task")
    if event_type == "task_succeeded" and _text(_get(ti, "state")) == "skipped":
        event_type = "task_skipped"  # Airflow 2.10 also runs success callbacks after a skip
    fields = task_fields(context)
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
    )
    if event_type in ("task_failed", "task_up_for_retry"):
        # The object itself: the writer thread formats it (see observability.exceptions).
        fields["exception"] = context.get("exception")
    if event_type == "task_up_for_retry":
        fields["next_try_at"] = _next_try_at(ti, task, now)
    return fields


def _failed_task_ids(context: Mapping[str, Any]) -> list[str]:
    """Tasks that ended failed. Airflow 2's DAG run lists them from the database; Airflow 3
    gives a DAG failure callback only the task instance that failed the run (its context is
    that task's context), so that one task is what the event can name."""
    dag_run = context.get("dag_run")
    getter = _get(dag_run, "get_task_instances")
    if callable(getter):
        try:
            return sorted({ti.task_id for ti in getter(state=["failed", "upstream_failed"])})
        except Exception:  # noqa: BLE001 - no DB here: use what the context has
            pass
    ti = context.get("task_instance") or context.get("ti")
    if ti is not None and _text(_get(ti, "state")) in (None, "failed", "upstream_failed"):
        return [str(_get(ti, "task_id"))]
    return []


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
    if event_type == "dag_run_failed":
        fields["failed_task_ids"] = _failed_task_ids(context)
    return fields
