"""What a cause holds: structured, JSON-round-trippable, and the same for every receiver.

Templates see it as ``alert.cause`` (a dict of the fields below); receivers with native
structure (Slack fields and buttons, PagerDuty custom details and links, Chat cards, the
webhook's annotations) build on the same fields. Text that came from task code (messages,
log lines) was redacted by the writer and is redacted again here before it is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from observability.redact import redact_patterns

LINE_LIMIT = 500


def clean_line(text: str, limit: int = LINE_LIMIT) -> str:
    """One line of untrusted text: redacted, control characters dropped, cut at ``limit``."""
    line = redact_patterns(text)
    line = "".join(ch if ch.isprintable() or ch == "\t" else " " for ch in line).rstrip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return clean_line(line.strip())
    return ""


class Link(BaseModel):
    text: str
    url: str


class Recurrence(BaseModel):
    """How often this error fingerprint was seen over the lookback (``count`` includes now)."""

    count: int
    since: str | None = None
    new: bool = False
    capped: bool = False

    @property
    def text(self) -> str:
        if self.new:
            return "new: first seen now"
        count = f"{self.count}+" if self.capped else str(self.count)
        since = (self.since or "")[:10]
        return f"seen {count} times since {since}" if since else f"seen {count} times"


class ErrorSummary(BaseModel):
    type: str
    message: str = ""
    fingerprint: str | None = None
    recurrence: Recurrence | None = None

    @property
    def text(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


class FailedTask(BaseModel):
    dag_id: str
    task_id: str
    run_id: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    duration_s: float | None = None
    log_url: str | None = None
    failed_at: str | None = None
    error: ErrorSummary | None = None

    @property
    def tries(self) -> str:
        if self.try_number is None:
            return ""
        of = f" of {self.max_tries}" if self.max_tries else ""
        return f"try {self.try_number}{of}"

    @property
    def duration(self) -> str:
        if self.duration_s is None:
            return ""
        seconds = self.duration_s
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class CallGroup(BaseModel):
    """Third-party calls with one outcome, status and error type."""

    service: str
    outcome: str
    status_code: int | None = None
    error_type: str | None = None
    count: int = 0
    hosts: list[str] = Field(default_factory=list)
    slowest_ms: float | None = None
    """The longest call of the group: what a latency alert is about."""

    @property
    def text(self) -> str:
        what = [self.outcome]
        if self.status_code is not None:
            what.append(str(self.status_code))
        if self.error_type:
            what.append(self.error_type)
        hosts = f" to {', '.join(self.hosts)}" if self.hosts else ""
        slowest = f", slowest {self.slowest_ms:,.0f} ms" if self.slowest_ms is not None else ""
        return f"{self.count}x {self.service} {' '.join(what)}{hosts}{slowest}"


class LogTail(BaseModel):
    task_id: str
    try_number: int | None = None
    lines: list[str] = Field(default_factory=list)


class Cause(BaseModel):
    """The cause of one alert: where it came from and what the entries say."""

    source: str = Field(description="What the query was built from (metric or condition).")
    project: str
    query: str
    start: str
    end: str
    logs_explorer_url: str
    matched: int = Field(description="Entries read for the alert (the newest, up to a cap).")
    event_type: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    tasks: list[FailedTask] = Field(default_factory=list)
    calls: list[CallGroup] = Field(default_factory=list)
    log_tail: LogTail | None = None
    latest_entry: str | None = Field(default=None, description="For entries not ours.")
    reason: str | None = Field(
        default=None,
        description="What the latest event says happened, for events that are neither task "
        "failures nor calls (the watchdog's findings, import errors).",
    )
    absent: bool = Field(
        default=False, description="The condition is on the absence of these entries."
    )
    last_seen: str | None = Field(
        default=None, description="For an absence: when the newest matching entry was written."
    )
    links: list[Link] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="Parts left out, and why.")

    @property
    def error(self) -> ErrorSummary | None:
        for task in self.tasks:
            if task.error is not None:
                return task.error
        return None

    @property
    def headline(self) -> str:
        """One line naming what failed: the task and the error type, the failing calls, the
        finding's reason, or for an absence when the entries stopped."""
        if self.absent:
            what = self.event_type or "matching entry"
            if self.last_seen:
                return f"no {what} since {self.last_seen}"
            return f"no {what} between {self.start} and {self.end}"
        if self.tasks:
            task = self.tasks[0]
            details = ", ".join(part for part in (task.tries, task.duration) if part)
            line = f"{task.task_id} failed" + (f" ({details})" if details else "")
            if len(self.tasks) > 1:
                line += f" and {len(self.tasks) - 1} more"
            if task.error is not None:
                line += f": {task.error.text}"
            return clean_line(line, 300)
        # the failing calls; when none failed (a latency alert), the slow ones
        failing = [group for group in self.calls if group.outcome != "success"] or self.calls
        if failing:
            return clean_line("; ".join(group.text for group in failing[:3]), 300)
        if self.reason:
            return clean_line(f"{self.event_type}: {self.reason}", 300)
        if self.latest_entry:
            return clean_line(self.latest_entry, 300)
        return f"{self.matched} matching log {'entry' if self.matched == 1 else 'entries'}"

    def annotations(self) -> dict[str, str]:
        """The cause as Alertmanager annotations (strings), for the webhook payload."""
        out = {"cause": self.headline, "cause_query": self.query}
        error = self.error
        if error is not None:
            out["cause_error"] = error.text
            if error.recurrence is not None:
                out["cause_recurrence"] = error.recurrence.text
        if self.tasks:
            out["cause_tasks"] = ", ".join(
                f"{t.task_id} ({t.tries})" if t.tries else t.task_id for t in self.tasks
            )
        if self.calls:
            out["cause_calls"] = "; ".join(group.text for group in self.calls)
        if self.log_tail and self.log_tail.lines:
            out["cause_log_tail"] = "\n".join(self.log_tail.lines)
        for link in self.links:
            out[_link_key(link.text)] = link.url
        return out

    def for_templates(self) -> dict[str, Any]:
        """The fields, plus the derived texts, as templates see them."""
        data = self.model_dump()
        data["headline"] = self.headline
        error = self.error
        data["error"] = None
        if error is not None:
            data["error"] = {
                **error.model_dump(),
                "text": error.text,
                "recurrence_text": error.recurrence.text if error.recurrence else "",
            }
        for task, shown in zip(self.tasks, data["tasks"], strict=True):
            shown["tries"], shown["duration"] = task.tries, task.duration
        for group, shown in zip(self.calls, data["calls"], strict=True):
            shown["text"] = group.text
        return data


def _link_key(text: str) -> str:
    return {
        "Task log": "airflow_log_url",
        "DAG run": "airflow_run_url",
        "Logs Explorer": "logs_explorer_url",
    }.get(text, "link_" + "_".join(text.lower().split()))


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
