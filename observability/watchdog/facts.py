"""A fact the watchdog found, with the one event id every reporter gives it.

Decision 9 of the design: the same fact has one deterministic event id whoever reports it.
The id is a hash of the environment and the fact's identity (its type and the DAG, run, task,
map index and try it is about, or the file of an import error); the event's timestamp is the
time of the fact itself (a try's end, the moment a wait crossed its limit), not the time it
was noticed. Two watchdogs that notice the same fact therefore write the same ``insertId``
with the same timestamp, which Cloud Logging stores once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from observability.events import Event, EventType, Finding


@dataclass(frozen=True)
class Environment:
    """One watched Airflow: where events say it is, and where its API answers."""

    name: str
    airflow_url: str
    project: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class Fact:
    """Something that happened in Airflow that on-call must hear about, once."""

    event_type: EventType
    identity: tuple[Any, ...]
    timestamp: datetime
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    reason: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    finding: Finding | None = None
    time_moves: bool = False
    """The time is not fixed by Airflow's record (seen now, or re-stamped at every parse):
    racing watchdogs agree on one through claims (see ``claims``) before writing."""

    def event_id(self, environment: Environment) -> str:
        return event_id(environment, self.event_type, self.identity)

    def event(self, environment: Environment, airflow_version: str | None) -> Event:
        """The schema v1 event for this fact, marked as the watchdog's."""
        return Event.model_validate(
            {
                **self.fields,
                "event_type": self.event_type,
                "event_id": self.event_id(environment),
                "timestamp": self.timestamp,
                "project_id": environment.project,
                "location": environment.location,
                "environment_name": environment.name,
                "airflow_version": airflow_version,
                "dag_id": self.dag_id,
                "run_id": self.run_id,
                "task_id": self.task_id,
                "map_index": self.map_index,
                "try_number": self.try_number,
                "reason": self.reason,
                "detected_by": "watchdog",
                "finding": self.finding,
                "log_url": self._log_url(environment, airflow_version),
            }
        )

    def _log_url(self, environment: Environment, airflow_version: str | None) -> str | None:
        """The try's page in Airflow's UI, so the page on-call gets links where to look, as a
        callback's event does; only for a fact about a try of a known Airflow line."""
        if not (self.dag_id and self.run_id and self.task_id and airflow_version):
            return None
        return task_log_url(
            environment.airflow_url,
            airflow_version,
            self.dag_id,
            self.run_id,
            self.task_id,
            -1 if self.map_index is None else self.map_index,
            self.try_number or 0,
        )


def event_id(environment: Environment, event_type: EventType, identity: tuple[Any, ...]) -> str:
    """32 hex chars from the environment and the fact's identity, never from the clock."""
    parts = (environment.project, environment.location, environment.name, event_type.value)
    text = "\x1f".join(str(part) for part in (*parts, *identity))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def task_log_url(
    airflow_url: str,
    airflow_version: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
) -> str:
    """The link Airflow itself gives a try's log (``TaskInstance.log_url``) on its line: the
    task instance's page on Airflow 3, the grid's log tab on Airflow 2. Every part is quoted:
    a run id holds ``+`` and ``:``, and a user's id may hold anything the UI accepts."""
    base = airflow_url.rstrip("/")
    dag = quote(dag_id, safe="")
    if airflow_version.split(".", 1)[0] == "2":
        query = {"dag_run_id": run_id, "task_id": task_id, "tab": "logs"}
        if map_index >= 0:
            query["map_index"] = str(map_index)
        return f"{base}/dags/{dag}/grid?{urlencode(query)}"
    path = f"{base}/dags/{dag}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    if map_index >= 0:
        path += f"/mapped/{map_index}"
    return f"{path}?try_number={try_number}" if try_number > 0 else path


def try_identity(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> tuple[Any, ...]:
    """The identity of one task try, as both callbacks' events and the watchdog's name it."""
    return (dag_id, run_id, task_id, map_index, try_number)
