"""One incident's cause: the queries, in as few rounds as their dependencies allow.

Round 1 reads the entries behind the alert (after the metric's definition, cached). Round 2,
only for a failed DAG run, reads the run's task failures. Round 3 asks, in parallel, how
often each error fingerprint was seen, the failed try's task log, and the environment's
Airflow URL. Only round 1 is essential: when a later part fails, the cause goes out without
it and says so in ``notes``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from observability.router.duration import parse_duration
from observability.router.enrichment import query
from observability.router.enrichment.cause import (
    CallGroup,
    Cause,
    ErrorSummary,
    FailedTask,
    Link,
    LogTail,
    Recurrence,
    clean_line,
    first_line,
    parse_time,
)
from observability.router.enrichment.settings import EnrichmentConfig
from observability.router.enrichment.sources import GoogleSources, Unavailable, explain

T = TypeVar("T")
LOG_METRIC_PREFIX = "logging.googleapis.com/user/"
LOGGING_ROLE = "roles/logging.viewer"
COMPOSER_ROLE = "roles/composer.user"
SLACK_BEFORE = 300.0
"""How far before the incident's start the entries are searched, beyond the alignment
period: Monitoring opens the incident a minute or more after the entry."""
SLACK_AFTER = 60.0
MAX_TASKS = 5
MAX_FINGERPRINTS = 3
FINGERPRINT_CAP = 1000
RUN_LOOKBACK = timedelta(hours=24)
Runner = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class IncidentFacts:
    """What the incident's webhook payload says about where its entries are."""

    incident_id: str
    project: str
    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str | None
    resource_labels: dict[str, str]
    condition: dict[str, Any]
    started_at: float
    ended_at: float | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> IncidentFacts | None:
        incident = payload.get("incident")
        if not isinstance(incident, dict):
            return None
        resource = _mapping(incident.get("resource"))
        metric = _mapping(incident.get("metric"))
        condition = incident.get("condition")
        resource_labels = _strings(resource.get("labels"))
        project = str(incident.get("scoping_project_id") or resource_labels.get("project_id") or "")
        started = incident.get("started_at")
        if not project or not isinstance(started, int | float):
            return None
        ended = incident.get("ended_at")
        return cls(
            incident_id=str(incident.get("incident_id", "")),
            project=project,
            metric_type=str(metric.get("type") or ""),
            metric_labels=_strings(metric.get("labels")),
            resource_type=str(resource.get("type") or "") or None,
            resource_labels=resource_labels,
            condition=condition if isinstance(condition, dict) else {},
            started_at=float(started),
            ended_at=float(ended) if isinstance(ended, int | float) else None,
        )

    @property
    def log_metric(self) -> str | None:
        if self.metric_type.startswith(LOG_METRIC_PREFIX):
            return self.metric_type[len(LOG_METRIC_PREFIX) :]
        return None

    @property
    def matched_log(self) -> dict[str, Any] | None:
        found = self.condition.get("conditionMatchedLog")
        return found if isinstance(found, dict) and found.get("filter") else None

    @property
    def enrichable(self) -> bool:
        return self.log_metric is not None or self.matched_log is not None

    @property
    def absence(self) -> bool:
        """The condition fires when entries stop (``conditionAbsent``)."""
        return isinstance(self.condition.get("conditionAbsent"), dict)

    def window(self, now: float) -> query.Window:
        """The incident's span, reaching back over the condition's alignment period and
        duration (for an absence, the duration is how long the entries have been missing,
        so the last of them falls in the window)."""
        threshold = (
            self.condition.get("conditionThreshold") or self.condition.get("conditionAbsent") or {}
        )
        periods = [
            _seconds(a.get("alignmentPeriod"))
            for a in threshold.get("aggregations") or []
            if isinstance(a, dict)
        ]
        duration = _seconds(threshold.get("duration"))
        before = max([0.0, *periods]) + duration + SLACK_BEFORE
        return query.Window.around(self.started_at, self.ended_at or now, before, SLACK_AFTER)


def _seconds(value: Any) -> float:
    """A protobuf duration as the API spells it ("60s", "1.5s"); 0 when absent or odd."""
    text = str(value or "").strip()
    try:
        seconds = float(text.removesuffix("s")) if text.endswith("s") else parse_duration(text)
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), 86400.0) if seconds == seconds else 0.0


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


@dataclass
class Lookup:
    """Looks up causes with ``sources``, running each blocking call through ``run`` and
    giving it what is left until ``deadline`` (monotonic)."""

    sources: GoogleSources
    settings: EnrichmentConfig
    run: Runner
    deadline: float
    notes: list[str] = field(default_factory=list)

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Unavailable("Cloud Logging did not answer within the budget")
        return left

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self.run(fn, *args, self._left())
        return result

    async def cause(self, facts: IncidentFacts, now: float) -> Cause | None:
        """The cause of ``facts``' incident; None when its condition is not on logs."""
        window = facts.window(now)
        built = await self._base_query(facts, window)
        if built is None:
            return None
        source, text = built
        try:
            entries = await self._call(
                self.sources.entries, facts.project, text, self.settings.max_entries, True
            )
        except Exception as exc:
            raise Unavailable(explain(exc, "Cloud Logging", LOGGING_ROLE)) from exc
        cause = Cause(
            source=source,
            project=facts.project,
            query=text,
            start=query.rfc3339(window.start),
            end=query.rfc3339(window.end),
            logs_explorer_url=query.logs_explorer_url(facts.project, text, window),
            matched=len(entries),
        )
        await self._summarise(cause, facts, entries, window)
        cause.links.append(Link(text="Logs Explorer", url=cause.logs_explorer_url))
        cause.notes = self.notes
        return cause

    async def _base_query(
        self, facts: IncidentFacts, window: query.Window
    ) -> tuple[str, str] | None:
        name = facts.log_metric
        if name is not None:
            try:
                metric = await self._call(self.sources.log_metric, facts.project, name)
            except Exception as exc:
                raise Unavailable(explain(exc, "Cloud Logging", LOGGING_ROLE)) from exc
            if metric is None:
                raise Unavailable(f"the log-based metric {name} no longer exists")
            base, extractors = str(metric.get("filter", "")), metric.get("labelExtractors") or {}
            source = f"log-based metric {name}"
        elif facts.matched_log is not None:
            matched = facts.matched_log
            base, extractors = str(matched["filter"]), matched.get("labelExtractors") or {}
            source = "log-match condition"
        else:
            return None
        text = query.behind_series(
            base,
            _strings(extractors),
            facts.metric_labels,
            facts.resource_type,
            facts.resource_labels,
            window,
        )
        return source, text

    async def _summarise(
        self,
        cause: Cause,
        facts: IncidentFacts,
        entries: list[dict[str, Any]],
        window: query.Window,
    ) -> None:
        events = [e for e in entries if isinstance(e.get("jsonPayload", {}).get("event_type"), str)]
        if facts.absence:
            cause.absent = True
            if entries:
                cause.last_seen = str(entries[0].get("timestamp") or "") or None
            if events:
                cause.event_type = str(events[0]["jsonPayload"]["event_type"])
            return
        if not events:
            if entries:
                cause.latest_entry = _entry_text(entries[0])
            return
        latest = events[0]["jsonPayload"]
        cause.event_type = str(latest["event_type"])
        log_name = str(events[0].get("logName", ""))
        calls = [e["jsonPayload"] for e in events if e["jsonPayload"].get("third_party")]
        cause.calls = _call_groups(calls)
        failed = [
            e
            for e in events
            if e["jsonPayload"].get("event_type") in ("task_failed", "task_up_for_retry")
        ]
        runs = [e for e in events if e["jsonPayload"].get("event_type") == "dag_run_failed"]
        if runs and not failed:
            run = runs[0]["jsonPayload"]
            cause.dag_id, cause.run_id = run.get("dag_id"), run.get("run_id")
            if cause.dag_id and cause.run_id and log_name:
                failed = await self._run_failures(
                    facts, log_name, str(cause.dag_id), str(cause.run_id), run, window
                )
            if not failed:
                cause.tasks = [
                    FailedTask(dag_id=str(run.get("dag_id", "")), task_id=str(task))
                    for task in (run.get("failed_task_ids") or [])[:MAX_TASKS]
                ]
        cause.tasks = cause.tasks or [_failed_task(e) for e in failed[:MAX_TASKS]]
        if cause.tasks:
            cause.dag_id = cause.dag_id or cause.tasks[0].dag_id
            cause.run_id = cause.run_id or cause.tasks[0].run_id
        elif not cause.calls:
            cause.reason = first_line(str(latest.get("reason") or "")) or None
        await self._details(cause, facts, log_name, latest, window)

    async def _run_failures(
        self,
        facts: IncidentFacts,
        log_name: str,
        dag_id: str,
        run_id: str,
        run: dict[str, Any],
        window: query.Window,
    ) -> list[dict[str, Any]]:
        started = parse_time(run.get("start_date"))
        span = query.Window(started - timedelta(minutes=1), window.end) if started else None
        text = query.events_of_run(log_name, dag_id, run_id, span or window.widened(RUN_LOOKBACK))
        try:
            return await self._call(self.sources.entries, facts.project, text, MAX_TASKS, True)
        except Exception as exc:  # noqa: BLE001 - the run's own event still says enough
            self.notes.append(
                "failed tasks unavailable: " + explain(exc, "Cloud Logging", LOGGING_ROLE)
            )
            return []

    async def _details(
        self,
        cause: Cause,
        facts: IncidentFacts,
        log_name: str,
        latest: dict[str, Any],
        window: query.Window,
    ) -> None:
        """Round 3: recurrence of each fingerprint, the task log's tail, the Airflow URL."""
        fingerprints = list(
            dict.fromkeys(
                t.error.fingerprint for t in cause.tasks if t.error and t.error.fingerprint
            )
        )[:MAX_FINGERPRINTS]
        jobs: list[Awaitable[Any]] = [
            self._recurrence(facts.project, log_name, fp, cause, window) for fp in fingerprints
        ]
        first = cause.tasks[0] if cause.tasks else None
        if first is not None and first.try_number is not None and self.settings.log_tail_lines:
            jobs.append(self._log_tail(cause, facts, first, window))
        jobs.append(self._links(cause, facts, latest))
        await asyncio.gather(*jobs)

    async def _recurrence(
        self, project: str, log_name: str, fingerprint: str, cause: Cause, window: query.Window
    ) -> None:
        lookback = timedelta(seconds=self.settings.fingerprint_lookback)
        span = query.Window(window.end - lookback, window.end)
        text = query.same_fingerprint(log_name, fingerprint, span)
        try:
            seen = await self._call(self.sources.entries, project, text, FINGERPRINT_CAP, False)
        except Exception as exc:  # noqa: BLE001 - the rest of the cause stands
            self.notes.append(
                "recurrence unavailable: " + explain(exc, "Cloud Logging", LOGGING_ROLE)
            )
            return
        mine = [t for t in cause.tasks if t.error and t.error.fingerprint == fingerprint]
        before = [e for e in seen if (parse_time(e.get("timestamp")) or window.end) < window.start]
        recurrence = Recurrence(
            count=max(len(seen), len(mine)),
            since=str(seen[0].get("timestamp")) if seen else None,
            new=not before,
            capped=len(seen) >= FINGERPRINT_CAP,
        )
        for task in mine:
            assert task.error is not None
            task.error.recurrence = recurrence

    async def _log_tail(
        self, cause: Cause, facts: IncidentFacts, task: FailedTask, window: query.Window
    ) -> None:
        failed_at = parse_time(task.failed_at)
        end = (failed_at + timedelta(seconds=SLACK_AFTER)) if failed_at else window.end
        length = timedelta(seconds=(task.duration_s or 0) + SLACK_BEFORE)
        span = query.Window(end - length, end)
        text = query.task_log(
            facts.project,
            facts.resource_labels.get("environment_name"),
            task.dag_id,
            task.task_id,
            task.try_number,
            span,
        )
        try:
            entries = await self._call(
                self.sources.entries, facts.project, text, self.settings.log_tail_lines, True
            )
        except Exception as exc:  # noqa: BLE001 - the rest of the cause stands
            self.notes.append(
                "task log unavailable: " + explain(exc, "Cloud Logging", LOGGING_ROLE)
            )
            return
        lines = [_entry_text(e) for e in reversed(entries)]
        if lines:
            cause.log_tail = LogTail(task_id=task.task_id, try_number=task.try_number, lines=lines)

    async def _links(self, cause: Cause, facts: IncidentFacts, latest: dict[str, Any]) -> None:
        first = cause.tasks[0] if cause.tasks else None
        if first is not None and first.log_url:
            cause.links.append(Link(text="Task log", url=first.log_url))
        location = facts.resource_labels.get("location") or latest.get("location")
        environment = facts.resource_labels.get("environment_name") or latest.get(
            "environment_name"
        )
        if not (cause.dag_id and cause.run_id and location and environment):
            return
        try:
            uri = await self._call(
                self.sources.airflow_uri, facts.project, str(location), str(environment)
            )
        except Exception as exc:  # noqa: BLE001 - the rest of the cause stands
            self.notes.append(
                "DAG run link unavailable: " + explain(exc, "Composer", COMPOSER_ROLE)
            )
            return
        if uri:
            url = query.dag_run_url(uri, cause.dag_id, cause.run_id, latest.get("airflow_version"))
            cause.links.append(Link(text="DAG run", url=url))


def _failed_task(entry: dict[str, Any]) -> FailedTask:
    event = entry["jsonPayload"]
    exception = event.get("exception") if isinstance(event.get("exception"), dict) else None
    error = None
    if exception is not None:
        error = ErrorSummary(
            type=str(exception.get("type") or "Exception").rsplit(".", 1)[-1],
            message=first_line(str(exception.get("message") or "")),
            fingerprint=str(exception.get("fingerprint") or "") or None,
        )
    return FailedTask(
        dag_id=str(event.get("dag_id") or ""),
        task_id=str(event.get("task_id") or ""),
        run_id=event.get("run_id"),
        try_number=_int(event.get("try_number")),
        max_tries=_int(event.get("max_tries")),
        duration_s=_float(event.get("duration_s")),
        log_url=event.get("log_url"),
        failed_at=str(entry.get("timestamp") or "") or None,
        error=error,
    )


def _call_groups(calls: list[dict[str, Any]]) -> list[CallGroup]:
    counts: Counter[tuple[str, str, int | None, str | None]] = Counter()
    hosts: dict[tuple[str, str, int | None, str | None], list[str]] = {}
    slowest: dict[tuple[str, str, int | None, str | None], float] = {}
    for event in calls:
        call = event["third_party"]
        if not isinstance(call, dict):
            continue
        key = (
            str(call.get("service", "")),
            str(call.get("outcome", "")),
            _int(call.get("status_code")),
            call.get("error_type"),
        )
        counts[key] += 1
        latency = _float(call.get("latency_ms"))
        if latency is not None and latency >= 0:
            slowest[key] = max(slowest.get(key, 0.0), latency)
        host = call.get("target_host")
        if host and host not in hosts.setdefault(key, []):
            hosts[key].append(str(host))
    ordered = sorted(counts.items(), key=lambda item: (item[0][1] == "success", -item[1]))
    return [
        CallGroup(
            service=service,
            outcome=outcome,
            status_code=status,
            error_type=error,
            count=count,
            hosts=hosts.get((service, outcome, status, error), [])[:3],
            slowest_ms=slowest.get((service, outcome, status, error)),
        )
        for (service, outcome, status, error), count in ordered[:8]
    ]


def _entry_text(entry: dict[str, Any]) -> str:
    if "textPayload" in entry:
        return clean_line(str(entry["textPayload"]))
    payload = entry.get("jsonPayload")
    if isinstance(payload, dict):
        for key in ("message", "msg", "event"):
            if isinstance(payload.get(key), str):
                return clean_line(payload[key])
        return clean_line(str(payload))
    return ""


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
    return number if number is not None and number == number and abs(number) < 1e12 else None
