"""The event schema, version 1: the contract between callbacks, metrics, dashboards and tests.

One event is one thing that happened to a task, a DAG run or a third-party call made by a
task. It travels as the ``jsonPayload`` of a Cloud Logging entry (see ``observability.emit``);
log-based metric filters select on ``jsonPayload.event_type`` and extract labels from the fields
below, so renaming a field here is a breaking change: bump ``SCHEMA_VERSION`` instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class EventType(str, Enum):
    """What happened. The value is what filters compare ``jsonPayload.event_type`` with."""

    TASK_STARTED = "task_started"
    TASK_SUCCEEDED = "task_succeeded"
    TASK_FAILED = "task_failed"
    TASK_UP_FOR_RETRY = "task_up_for_retry"
    TASK_SKIPPED = "task_skipped"
    DAG_RUN_SUCCEEDED = "dag_run_succeeded"
    DAG_RUN_FAILED = "dag_run_failed"
    THIRD_PARTY_CALL = "third_party_call"
    # Reported by the watchdog (observability.watchdog), which reads Airflow's own records.
    DAG_IMPORT_ERROR = "dag_import_error"
    DAG_IMPORT_ERROR_CLEARED = "dag_import_error_cleared"
    TASK_STUCK = "task_stuck"
    TASK_RUNNING_LONG = "task_running_long"
    DAG_RUN_LATE = "dag_run_late"
    DAG_PAUSED = "dag_paused"


SEVERITY_BY_EVENT_TYPE: dict[EventType, str] = {
    EventType.TASK_STARTED: "INFO",
    EventType.TASK_SUCCEEDED: "INFO",
    EventType.TASK_FAILED: "ERROR",
    EventType.TASK_UP_FOR_RETRY: "WARNING",
    EventType.TASK_SKIPPED: "NOTICE",
    EventType.DAG_RUN_SUCCEEDED: "INFO",
    EventType.DAG_RUN_FAILED: "ERROR",
    EventType.THIRD_PARTY_CALL: "INFO",
    EventType.DAG_IMPORT_ERROR: "ERROR",
    EventType.DAG_IMPORT_ERROR_CLEARED: "INFO",
    EventType.TASK_STUCK: "WARNING",
    EventType.TASK_RUNNING_LONG: "WARNING",
    EventType.DAG_RUN_LATE: "WARNING",
    EventType.DAG_PAUSED: "WARNING",
}
"""Cloud Logging severity of each event; a failed third-party call is raised to WARNING."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExceptionInfo(_Part):
    """Why a task failed. ``fingerprint`` groups the same error across runs and retries."""

    type: str = Field(description="Qualified class name, e.g. `requests.exceptions.HTTPError`.")
    message: str = Field(description="The exception's text, secrets redacted.")
    fingerprint: str = Field(
        description="16 hex chars: hash of the type and the message and frames with numbers, "
        "ids and paths normalised, so one bug gives one fingerprint."
    )
    traceback: str | None = Field(default=None, description="Formatted traceback.")


class ThirdPartyCall(_Part):
    """One call a task made to a service outside Airflow (a payment API, another cloud)."""

    service: str = Field(description="Logical service name given by the DAG author.")
    operation: str = Field(description="What was asked of it, e.g. `create_charge`.")
    outcome: Literal["success", "error", "timeout"]
    status_code: int | None = Field(default=None, description="HTTP or gRPC status, if any.")
    latency_ms: float = Field(ge=0, description="Wall time of the call.")
    error_type: str | None = Field(default=None, description="Exception class on error.")
    target_host: str | None = Field(
        default=None, description="host[:port] called; never credentials or a query string."
    )
    target: str | None = Field(
        default=None, description="scheme://host[:port]/path, with credentials and query removed."
    )


class Finding(_Part):
    """What the watchdog measured: the wait, the limit it broke and where that limit came from.

    Only the fields of the event's type are set (``file`` for import errors, ``pool`` slots
    for a stuck task, ``baseline_s`` for a run that is long against its own history)."""

    file: str | None = Field(default=None, description="dag_import_error: the DAG file.")
    waiting_state: str | None = Field(default=None, description="task_stuck: scheduled/queued.")
    since: datetime | None = Field(default=None, description="When the wait or run began.")
    elapsed_s: float | None = Field(default=None, ge=0, description="How long so far.")
    limit_s: float | None = Field(default=None, ge=0, description="The limit it went past.")
    limit_source: Literal["configured", "history", "default"] | None = None
    baseline_s: float | None = Field(
        default=None, ge=0, description="task_running_long: p95 of recent successful tries."
    )
    pool_slots: int | None = None
    pool_open_slots: int | None = None
    deadline: datetime | None = Field(default=None, description="dag_run_late: the deadline.")
    deadline_reference: str | None = Field(
        default=None,
        description="logical_date, queued_at, time_of_day, average_runtime, "
        "next_run (a scheduled run never created).",
    )
    consecutive_failed_runs: int | None = Field(default=None, ge=0, description="dag_paused.")
    critical: bool | None = Field(
        default=None, description="The DAG is marked critical (tag, or the watchdog's file)."
    )


class Event(BaseModel):
    """One structured event. Fields a given event type cannot know stay null."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    schema_version: int = SCHEMA_VERSION
    event_type: EventType
    event_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="Unique id; also the entry's insertId, so a replay never duplicates.",
    )
    timestamp: datetime = Field(
        default_factory=lambda: datetime.now(timezone.utc),
        description="When it happened (UTC); also the entry's timestamp.",
    )
    # where
    project_id: str | None = Field(default=None, description="From GCP_PROJECT.")
    location: str | None = Field(default=None, description="From COMPOSER_LOCATION.")
    environment_name: str | None = Field(default=None, description="From COMPOSER_ENVIRONMENT.")
    airflow_version: str | None = None
    hostname: str | None = Field(default=None, description="Worker that ran the task.")
    # what
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    run_type: str | None = Field(default=None, description="scheduled, manual, backfill, ...")
    map_index: int | None = Field(default=None, description="-1 for unmapped tasks.")
    try_number: int | None = None
    max_tries: int | None = None
    state: str | None = Field(default=None, description="Airflow state at the event.")
    logical_date: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration_s: float | None = Field(default=None, ge=0)
    operator: str | None = Field(default=None, description="Operator class, e.g. PythonOperator.")
    owner: str | None = None
    team: str | None = Field(
        default=None, description="From a `team:NAME` DAG tag, a `team` param, else the owner."
    )
    queue: str | None = None
    pool: str | None = None
    log_url: str | None = Field(default=None, description="Link to the task log in the UI.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="User labels from the DAG's `composer_obs_labels`."
    )
    # by event type
    exception: ExceptionInfo | None = Field(default=None, description="task_failed, retries.")
    next_try_at: datetime | None = Field(
        default=None, description="task_up_for_retry: when the next try is due."
    )
    failed_task_ids: list[str] | None = Field(
        default=None, description="dag_run_failed: tasks that ended failed."
    )
    reason: str | None = Field(
        default=None,
        description="DAG runs: Airflow's reason text. Tasks failed or skipped from outside or "
        "by a limit: `timed out`, `sensor timed out`, `killed: no heartbeat`, "
        "`killed externally`, `marked failed` (see callbacks.failures). The watchdog's "
        "findings say why too, e.g. `killed (likely out of memory)`, `run timed out`.",
    )
    reschedules: int | None = Field(
        default=None,
        ge=0,
        description="Reschedule-mode sensors: pokes rescheduled before this event in this try "
        "(one task_started per try; later pokes are counted here).",
    )
    detected_by: Literal["callback", "listener", "watchdog"] | None = Field(
        default=None, description="Who reported it; absent means a callback."
    )
    finding: Finding | None = Field(default=None, description="The watchdog's measurements.")
    third_party: ThirdPartyCall | None = Field(default=None, description="third_party_call.")
    truncated: list[str] | None = Field(
        default=None, description="Fields cut to keep the entry under Cloud Logging's limit."
    )

    @property
    def severity(self) -> str:
        """Cloud Logging severity: by outcome, a failed third-party call counting as WARNING."""
        if self.third_party is not None and self.third_party.outcome != "success":
            return "WARNING"
        return SEVERITY_BY_EVENT_TYPE[EventType(self.event_type)]

    def payload(self) -> dict[str, object]:
        """The ``jsonPayload``: JSON-safe, nulls dropped so entries stay small and filterable."""
        return self.model_dump(mode="json", exclude_none=True)
