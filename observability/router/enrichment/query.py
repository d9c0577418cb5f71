"""The Cloud Logging queries behind an alert, and the links that open them.

A log-based metric counts the entries its ``filter`` matches, labelled by its
``labelExtractors``; so the entries behind one of its time series are "the filter AND each
extracted field equal to the series' label value", within the incident's window. That holds
for any log-based metric, not only ours. Fields are compared with ``=``, which in the Logging
query language is a case-insensitive equality on strings and numeric on numbers, as the
extractor saw them. A ``REGEXP_EXTRACT`` label cannot be turned back into an equality and is
left out: the query is then broader, never wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

LOGS_EXPLORER = "https://console.cloud.google.com/logs/query"
TASK_LOG_NAME = "airflow-worker"
"""Where Composer stores the Airflow task logs (entry labels ``workflow``, ``task-id``,
``try-number``; resource ``cloud_composer_environment``)."""

_EXTRACT = re.compile(r"\s*EXTRACT\(\s*([A-Za-z_][\w.\"/-]*)\s*\)\s*")


@dataclass(frozen=True)
class Window:
    """The time range the queries cover (UTC)."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, started_at: float, ended_at: float, before: float, after: float) -> Window:
        start = datetime.fromtimestamp(started_at - before, tz=timezone.utc)
        end = datetime.fromtimestamp(ended_at + after, tz=timezone.utc)
        return cls(start, max(start, end))

    def widened(self, before: timedelta) -> Window:
        return Window(self.start - before, self.end)

    def clause(self) -> str:
        return f'timestamp>="{rfc3339(self.start)}" AND timestamp<="{rfc3339(self.end)}"'


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def literal(value: str) -> str:
    """``value`` as a quoted string of the query language."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def extracted_field(extractor: str) -> str | None:
    """The field an ``EXTRACT(field)`` label extractor reads; None for ``REGEXP_EXTRACT``."""
    match = _EXTRACT.fullmatch(extractor)
    return match.group(1) if match else None


def behind_series(
    base_filter: str,
    extractors: dict[str, str],
    labels: dict[str, str],
    resource_type: str | None,
    resource_labels: dict[str, str],
    window: Window,
) -> str:
    """The entries a log-based metric (or log-match condition) counted into one series."""
    parts = [f"({base_filter.strip()})"] if base_filter.strip() else []
    for key in sorted(extractors):
        field = extracted_field(extractors[key])
        if field and labels.get(key):
            parts.append(f"{field}={literal(labels[key])}")
    if resource_type:
        parts.append(f"resource.type={literal(resource_type)}")
    for key in sorted(resource_labels):
        parts.append(f"resource.labels.{key}={literal(resource_labels[key])}")
    parts.append(window.clause())
    return " AND ".join(parts)


def events_of_run(log_name: str, dag_id: str, run_id: str, window: Window) -> str:
    """The task failures of one DAG run (our events)."""
    return " AND ".join(
        [
            f"logName={literal(log_name)}",
            'jsonPayload.event_type="task_failed"',
            f"jsonPayload.dag_id={literal(dag_id)}",
            f"jsonPayload.run_id={literal(run_id)}",
            window.clause(),
        ]
    )


def same_fingerprint(log_name: str, fingerprint: str, window: Window) -> str:
    """Every failure or retry with this error fingerprint (our events)."""
    return " AND ".join(
        [
            f"logName={literal(log_name)}",
            'jsonPayload.event_type=("task_failed" OR "task_up_for_retry")',
            f"jsonPayload.exception.fingerprint={literal(fingerprint)}",
            window.clause(),
        ]
    )


def task_log(
    project: str,
    environment: str | None,
    dag_id: str,
    task_id: str,
    try_number: int | None,
    window: Window,
) -> str:
    """One try's task log, where Composer writes it."""
    log_name = f"projects/{project}/logs/{TASK_LOG_NAME}"
    parts = [f"logName={literal(log_name)}", 'resource.type="cloud_composer_environment"']
    if environment:
        parts.append(f"resource.labels.environment_name={literal(environment)}")
    parts += [f"labels.workflow={literal(dag_id)}", f'labels."task-id"={literal(task_id)}']
    if try_number is not None:
        parts.append(f'labels."try-number"={literal(str(try_number))}')
    parts.append(window.clause())
    return " AND ".join(parts)


def logs_explorer_url(project: str, query: str, window: Window) -> str:
    """A Logs Explorer link that opens exactly ``query`` over ``window``."""
    return (
        f"{LOGS_EXPLORER};query={quote(query, safe='')}"
        f";startTime={rfc3339(window.start)};endTime={rfc3339(window.end)}"
        f"?project={quote(project, safe='')}"
    )


def dag_run_url(airflow_uri: str, dag_id: str, run_id: str, airflow_version: str | None) -> str:
    """The DAG run in the Airflow UI: the grid view (Airflow 2) or the run page (Airflow 3)."""
    base = airflow_uri.rstrip("/")
    dag, run = quote(dag_id, safe=""), quote(run_id, safe="")
    if airflow_version and airflow_version.split(".", 1)[0] >= "3":
        return f"{base}/dags/{dag}/runs/{run}"
    return f"{base}/dags/{dag}/grid?dag_run_id={run}"
