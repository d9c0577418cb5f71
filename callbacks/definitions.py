"""What a task's definition says (owner, team tag, operator name, retries, sensor mode), read
once per task object in a process rather than at every callback.

A callback builds its event on the task's own thread, so every attribute it reads is time the
task waits (``bench/callback_overhead.py``). The task and its DAG are definitions: built when
the DAG file is parsed, then only read while tries run. What depends on them alone is read on
the first callback that sees them and kept, keyed by the identity of the two objects.

Why keeping it is safe:

- A DAG file parsed again in the same process (the DAG processor, ``airflow dags test``, a
  scheduler refreshing its serialized DAGs, Airflow 2 copying the operator before it runs)
  gives new objects, so new keys: an edited owner, tag or operator is read afresh.
- An entry is used only while it holds the very same objects (``is``). It holds them by weak
  reference, so it never keeps a re-parsed DAG alive, and an ``id`` reused by a new object
  after the old one died is a miss. Objects that take no weak reference (plain namespaces:
  tests, the bench) are held; the table is bounded (``MAX_KEPT``), oldest entry out first.
- Whatever can differ between tries or runs of one definition is not here: the task
  instance's fields and the run's ``params`` (a trigger's conf) are read at every callback.

What it does not see: code that changes a task's ``owner``, tags or ``mode`` on the same
object after its first callback in the process (Airflow does not).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callbacks.reading import attribute

TEAM_TAG_PREFIX = "team:"
MAX_KEPT = 256
"""Definitions kept per process: a task process has one; a scheduler or DAG processor that
sees more reads the others as if nothing were kept (the cost before this table)."""


@dataclass(frozen=True, slots=True)
class Definition:
    """The fields of a task's events that come from the task and its DAG alone."""

    task_id: str | None
    dag_id: str | None
    owner: str | None
    team_tagged: bool
    """The DAG has a ``team:NAME`` tag (its team wins over a param and the owner)."""
    team_tag: str | None
    operator_name: str | None
    """Airflow's display name (``@task``): before the task instance's ``operator``."""
    operator_type: str | None
    """The class as Airflow names it: after the task instance's ``operator``."""
    queue: str | None
    pool: str | None
    retries: int | None
    reschedules: bool
    """A sensor in reschedule mode: one try spans several pokes."""


def _team_tag(dag: Any) -> tuple[bool, str | None]:
    for tag in attribute(dag, "tags", ()) or ():
        if isinstance(tag, str) and tag.lower().startswith(TEAM_TAG_PREFIX):
            return True, tag[len(TEAM_TAG_PREFIX) :].strip() or None
    return False, None


def _read(task: Any, dag: Any) -> Definition:
    tagged, team = _team_tag(dag)
    retries = attribute(task, "retries")
    return Definition(
        task_id=attribute(task, "task_id"),
        dag_id=attribute(dag, "dag_id"),
        owner=attribute(task, "owner") or attribute(dag, "owner"),
        team_tagged=tagged,
        team_tag=team,
        operator_name=attribute(task, "custom_operator_name"),
        operator_type=attribute(task, "task_type")
        or (type(task).__name__ if task is not None else None),
        queue=attribute(task, "queue"),
        pool=attribute(task, "pool"),
        retries=retries if isinstance(retries, int) else None,
        reschedules=attribute(task, "mode") == "reschedule",
    )


Holder = Callable[[], Any]


def _holder(obj: Any) -> Holder:
    try:
        return weakref.ref(obj)
    except TypeError:  # no weak reference to it (a plain namespace): hold it
        return lambda: obj


_lock = threading.Lock()
_kept: dict[tuple[int, int], tuple[Holder, Holder, Definition]] = {}


def definition_of(task: Any, dag: Any) -> Definition:
    """The definition fields of ``task`` in ``dag``, read on the first call for these objects."""
    kept = _kept.get((id(task), id(dag)))
    if kept is not None and kept[0]() is task and kept[1]() is dag:
        return kept[2]
    definition = _read(task, dag)
    with _lock:
        while len(_kept) >= MAX_KEPT:
            del _kept[next(iter(_kept))]
        _kept[(id(task), id(dag))] = (_holder(task), _holder(dag), definition)
    return definition
