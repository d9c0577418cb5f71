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
    return SimpleNamespace(
        **{
            name: loaded(value) if name in RELATED else value
            for name, value in attributes.items()
            if not name.startswith("_sa_")
        }
    )
