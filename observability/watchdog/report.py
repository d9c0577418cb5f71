"""What was already said, and saying the rest: Cloud Logging is the watchdog's only memory.

Before writing, the reporter reads back the events of the window from Cloud Logging: the
callbacks' ``task_failed`` and ``dag_run_failed`` (so a failure a callback reported is never
reported again) and every event id the watchdog wrote (so a restart, or a second watchdog,
repeats nothing). Import errors are kept open for 30 days: the latest event per file says
whether the file is broken and with which error.

What stays unsaid after the read goes through the same writer as the callbacks (queue,
batched writes, spool), one writer per environment so each event carries its environment's
monitored resource.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from observability.emit.emitter import Emitter
from observability.events import EventType
from observability.settings import LOG_NAME, load_settings
from observability.watchdog.facts import Environment, Fact

_log = logging.getLogger(__name__)

_LATEST_TIMESTAMP = timedelta(hours=1)
"""Later than this ahead of now, a fact's time is not believed (clock skew stays below)."""

IMPORT_ERROR_MEMORY = timedelta(days=30)
"""How far back an open import error is looked for (Cloud Logging's default retention)."""

_REPORTED_TYPES = (
    EventType.TASK_FAILED,
    EventType.DAG_RUN_FAILED,
    EventType.TASK_STUCK,
    EventType.TASK_RUNNING_LONG,
    EventType.DAG_RUN_LATE,
    EventType.DAG_PAUSED,
)


def rfc3339(value: datetime) -> str:
    """A time as Logging's filters and payloads write it, to the microsecond."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Said:
    """What Cloud Logging already holds for one environment."""

    event_ids: set[str] = field(default_factory=set)
    tries: set[tuple[Any, ...]] = field(default_factory=set)
    runs: set[tuple[str, str]] = field(default_factory=set)
    open_import_errors: dict[str, str] = field(default_factory=dict)
    import_generations: dict[str, int] = field(default_factory=dict)
    """How often each file's import error was cleared: a new error after a clear is new."""

    def covers(self, fact: Fact, environment: Environment) -> bool:
        if fact.event_id(environment) in self.event_ids:
            return True
        if fact.event_type == EventType.TASK_FAILED:
            return fact.identity[:5] in self.tries
        if fact.event_type == EventType.DAG_RUN_FAILED:
            return (fact.dag_id, fact.run_id) in self.runs
        return False


class Reporter:
    """Reads what was said and writes what was not, for one environment."""

    def __init__(self, environment: Environment, logging_client: Any, project: str) -> None:
        self.environment = environment
        self._client = logging_client
        self._project = project
        self._log_name = f"projects/{project}/logs/{LOG_NAME}"
        self.emitter = Emitter(
            lambda: load_settings(
                project=project,
                location=environment.location,
                environment_name=environment.name,
            )
        )
        self.calls = 0

    def _scope(self) -> str:
        """Events of this environment only, when callbacks name it (Composer sets it)."""
        return (
            f' AND jsonPayload.environment_name="{self.environment.name}"'
            if self.environment.location
            else ""
        )

    def _entries(self, filter_: str) -> list[Any]:
        self.calls += 1
        entries = self._client.list_entries(
            resource_names=[f"projects/{self._project}"],
            filter_=filter_,
            order_by="timestamp asc",
            page_size=1000,
        )
        return list(entries)

    def said(self, since: datetime) -> Said:
        """The events already written for this environment since ``since``."""
        said = Said()
        types = " OR ".join(f'"{kind.value}"' for kind in _REPORTED_TYPES)
        for entry in self._entries(
            f'logName="{self._log_name}" AND timestamp>="{rfc3339(since)}"'
            f" AND jsonPayload.event_type=({types}){self._scope()}"
        ):
            payload = entry.payload if isinstance(entry.payload, dict) else {}
            said.event_ids.add(entry.insert_id)
            kind = payload.get("event_type")
            if kind == EventType.TASK_FAILED.value:
                said.tries.add(
                    (
                        payload.get("dag_id"),
                        payload.get("run_id"),
                        payload.get("task_id"),
                        int(payload.get("map_index", -1)),
                        int(payload.get("try_number") or 0),
                    )
                )
            elif kind == EventType.DAG_RUN_FAILED.value:
                said.runs.add((str(payload.get("dag_id")), str(payload.get("run_id"))))
        now = datetime.now(timezone.utc)
        kinds = (
            f'"{EventType.DAG_IMPORT_ERROR.value}" OR "{EventType.DAG_IMPORT_ERROR_CLEARED.value}"'
        )
        for entry in self._entries(
            f'logName="{self._log_name}" AND timestamp>="{rfc3339(now - IMPORT_ERROR_MEMORY)}"'
            f" AND jsonPayload.event_type=({kinds}){self._scope()}"
        ):
            payload = entry.payload if isinstance(entry.payload, dict) else {}
            said.event_ids.add(entry.insert_id)
            file = (payload.get("finding") or {}).get("file")
            if not file:
                continue
            if payload.get("event_type") == EventType.DAG_IMPORT_ERROR.value:
                said.open_import_errors[file] = (payload.get("exception") or {}).get(
                    "fingerprint", ""
                )
            else:
                said.open_import_errors.pop(file, None)
                said.import_generations[file] = said.import_generations.get(file, 0) + 1
        return said

    def write(self, facts: list[Fact], airflow_version: str | None) -> list[Fact]:
        """Queue the events of ``facts``; returns those written. A fact whose event does not
        validate (an odd value from a future Airflow) is logged and skipped: one bad fact
        never costs the others. A fact dated in the future (Airflow's record, e.g. a run's
        end, says so) is written as of now: Cloud Logging refuses an entry more than a day
        ahead, and would refuse it on every pass."""
        written = []
        latest = datetime.now(timezone.utc) + _LATEST_TIMESTAMP
        for fact in facts:
            if fact.timestamp > latest:
                _log.warning(
                    "%s: %s is dated %s, in the future: written as of now",
                    self.environment.name,
                    fact.identity,
                    fact.timestamp.isoformat(),
                )
                fact = replace(fact, timestamp=latest - _LATEST_TIMESTAMP)
            try:
                event = fact.event(self.environment, airflow_version)
            except ValueError as exc:
                _log.warning("%s: %s not reported: %s", self.environment.name, fact.identity, exc)
                continue
            self.emitter.emit(event)
            written.append(fact)
        return written

    def flush(self, timeout: float = 10.0) -> bool:
        return self.emitter.flush(timeout)

    def close(self) -> None:
        self.emitter.close()
