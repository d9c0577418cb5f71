"""What an Airflow ORM object already holds, read without ever going through its session.

Listener hooks get Airflow's own ``TaskInstance`` and ``DagRun`` objects, bound to the session
of the scheduler, the API server or the DAG processor, in the middle of its transaction. Reading
an attribute that is not loaded (or was expired by a commit) makes SQLAlchemy query or refresh
through that session, and once anything ends that session the object is detached: the next
read raises ``DetachedInstanceError`` in Airflow's own code (issue 12). ``loaded`` copies the
attributes the object already has into a plain namespace, which is all an event needs.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

RELATED = ("dag_run",)
"""Relationships copied the same way when already loaded (a task instance's DAG run)."""


def loaded(obj: Any) -> Any:
    """A plain copy of an ORM object's loaded attributes; any other object as it is (Airflow
    3's task-side ``RuntimeTaskInstance`` is a pydantic model, safe to read)."""
    try:
        attributes = vars(obj)
    except TypeError:
        return obj
    if "_sa_instance_state" not in attributes:
        return obj
    copy = SimpleNamespace(
        **{
            name: loaded(value) if name in RELATED else value
            for name, value in attributes.items()
            if not name.startswith("_sa_")
        }
    )
    log_url = _computed(type(obj), "log_url", copy)
    if log_url is not None:
        copy.log_url = log_url
    return copy


def _computed(cls: type, name: str, copy: SimpleNamespace) -> Any:
    """Airflow's own property ``name`` of ``cls``, computed on the copy: a task instance's
    ``log_url`` needs only its ids and Airflow's configuration (3.x: ``[api] base_url``; 2.10:
    ``[webserver] base_url`` and the run's logical date, read from the run when it is loaded),
    so the copy gives it without touching the session. None when the copy lacks what it needs."""
    prop = getattr(cls, name, None)
    if not isinstance(prop, property) or prop.fget is None:
        return None
    run = getattr(copy, "dag_run", None)
    borrowed = [
        attribute
        for attribute in ("execution_date", "logical_date")
        if not hasattr(copy, attribute) and hasattr(run, attribute)
    ]
    for attribute in borrowed:
        setattr(copy, attribute, getattr(run, attribute))
    try:
        return prop.fget(copy)
    except Exception:  # noqa: BLE001 - an attribute not loaded, or config missing: no URL
        return None
    finally:
        for attribute in borrowed:
            delattr(copy, attribute)
