"""The test file: what it may say, checked with the line of every key.

A test file names the definitions under test and lists tests; each test is a timeline of
events and the incidents and notifications it must cause (see the README, "Testing alert
policies", for the reference). Anything wrong is a ``DefinitionError`` naming the file, the
line and the key, the same error ``composer-obs provision`` gives for definition files.

Paths (``policies``, ``log_metrics``, ``channels``, ``router``) are looked up next to the test
file, then in each directory above it up to the repository's root (the one holding ``.git``) or
the working directory, whichever comes first, so a test under ``alert_tests/`` can say
``alert_policies/dag_run_failed.yaml`` and mean the repository's, while a test file outside
both (under /tmp) never picks up whatever happens to lie higher up the tree.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from observability.events import Event
from observability.provision.source import DefinitionError, Located, Path_, dotted, read_file
from observability.router.duration import Duration, format_duration, parse_duration

DEFAULT_START = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
"""A Monday, 11:00 in Berlin: office hours in most time zones a team routes by."""
MAX_RUN = 7 * 86400.0
"""Tests of one file run a week apart (same weekday and time of day), so each fits in a week."""
_RELATIVE = re.compile(r"^\+(.+)$")
DEFAULT_LOG_METRICS = "log_metrics"
DEFAULT_CHANNELS = "notification_channels.yaml"


_LATEST_COUNTED_S = 24 * 3600.0
"""How late an entry may reach Cloud Logging and still be counted by log-based metrics."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Environment(_Strict):
    """The Composer environment the events come from: the entries' monitored resource."""

    name: str = "composer"
    location: str = "us-central1"


class MetricPoint(_Strict):
    """A point of a metric Google itself reports (Composer's ``composer.googleapis.com/...``),
    on the test's Composer environment; seeded into the emulator's written time series."""

    type: str = Field(min_length=1)
    value: bool | int | float
    kind: Literal["GAUGE", "DELTA", "CUMULATIVE"] = "GAUGE"
    labels: dict[str, str] = Field(default_factory=dict)


class TimelineItem(_Strict):
    """Something written ``at`` a time after the start (``+90s``: after the previous item),
    ``count`` times, ``every`` apart: an event (as a callback writes it), a raw log entry, or a
    point of a Google metric."""

    at: str
    event: dict[str, Any] | None = None
    log_entry: dict[str, Any] | None = None
    metric_point: MetricPoint | None = None
    count: int = Field(default=1, ge=1, le=10_000)
    every: Duration = 0.0
    arrives_after: Duration = 0.0
    """The entry keeps ``at`` as its timestamp but reaches Cloud Logging this much later, as a
    watchdog's finding does (it carries the time of the fact, found a grace period later)."""

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        relative = _RELATIVE.match(value.strip())
        parse_duration((relative.group(1) if relative else value).strip())
        return value.strip()

    @model_validator(mode="after")
    def _one_payload(self) -> TimelineItem:
        given = [x for x in (self.event, self.log_entry, self.metric_point) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of event:, log_entry: or metric_point:")
        if self.arrives_after and self.metric_point is not None:
            raise ValueError("arrives_after: only for event: and log_entry: (a log entry's lag)")
        if self.arrives_after > _LATEST_COUNTED_S:
            raise ValueError(
                "arrives_after: at most 24h (Cloud Logging never counts an older entry in a "
                "log-based metric)"
            )
        if self.event is not None and "timestamp" in self.event:
            raise ValueError("event.timestamp is set from at:, leave it out")
        if self.log_entry is not None and "timestamp" in self.log_entry:
            raise ValueError("log_entry.timestamp is set from at:, leave it out")
        return self


class IncidentExpectation(_Strict):
    """An incident of ``policy`` (its display name) whose labels include ``labels``."""

    policy: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    opens_within: Duration | None = None
    opens_after: Duration | None = None
    closes_within: Duration | None = None
    stays_open: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> IncidentExpectation:
        if self.stays_open and self.closes_within is not None:
            raise ValueError("stays_open and closes_within contradict each other")
        return self


Kind = Literal["slack", "pagerduty", "google_chat", "email", "webhook"]


class NotificationExpectation(_Strict):
    """A notification ``receiver`` sent (through one of its integrations)."""

    receiver: str = Field(min_length=1)
    kind: Kind | None = None
    status: Literal["firing", "resolved"] = "firing"
    severity: str | None = None
    group: dict[str, str] = Field(default_factory=dict)
    text_contains: list[str] = Field(default_factory=list)
    cause_contains: list[str] = Field(default_factory=list)
    """Parts of the cause the router attached (what broke, the error, links, or the
    "details unavailable" line)."""
    within: Duration | None = None

    @field_validator("text_contains", "cause_contains", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Expectations(_Strict):
    incidents: list[IncidentExpectation] = Field(default_factory=list)
    notifications: list[NotificationExpectation] = Field(default_factory=list)
    no_notifications: list[str] = Field(default_factory=list)


def _upper_case_names(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise ValueError(f"variable names are UPPER_CASE, not {name!r}")
    return value


Variables = dict[str, str | int | float]


class TestCase(_Strict):
    """One test: a timeline, how long to run, what must happen. Every incident that opens
    must be expected; notifications not mentioned are allowed (repeats, other receivers)."""

    __test__ = False  # not a pytest class

    name: str = Field(min_length=1)
    skip: str | None = Field(default=None, min_length=1)
    """Why this test is not run (it is listed as skipped, with the reason)."""
    run_for: Duration = Field(gt=0)
    environment: Environment | None = None
    variables: Variables = Field(default_factory=dict)
    timeline: list[TimelineItem] = Field(default_factory=list)
    expect: Expectations = Field(default_factory=Expectations)

    _names = field_validator("variables")(_upper_case_names)

    @field_validator("run_for")
    @classmethod
    def _within_a_week(cls, value: float) -> float:
        """Said in the file's own units: "at most 7d", not "less than or equal to 604800"."""
        if value > MAX_RUN:
            raise ValueError(
                f"at most 7d (tests of a file run a week apart), got {format_duration(value)}"
            )
        return value


class TestFileModel(_Strict):
    __test__ = False

    policies: list[str] = Field(min_length=1)
    log_metrics: list[str] = Field(default_factory=list)
    channels: str | None = None
    router: str | None = None
    variables: Variables = Field(default_factory=dict)
    environment: Environment = Field(default_factory=Environment)
    start: datetime = DEFAULT_START
    step: Duration = Field(default=30.0, ge=10, le=300)
    tests: list[TestCase] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _whole_minute(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-01-05T10:00:00Z)")
        if value.second or value.microsecond:
            raise ValueError("start on a whole minute: policies are evaluated every minute")
        return value.astimezone(timezone.utc)

    _names = field_validator("variables")(_upper_case_names)


class TestFile:
    """A loaded test file: the model, where it came from, and its paths resolved."""

    __test__ = False

    def __init__(self, located: Located, model: TestFileModel) -> None:
        self.source = located
        self.model = model
        self.path = located.file
        self.policies = [self.find(p, ("policies", i)) for i, p in enumerate(model.policies)]
        self.log_metrics = (
            [self.find(p, ("log_metrics", i)) for i, p in enumerate(model.log_metrics)]
            if model.log_metrics
            else [self.find(DEFAULT_LOG_METRICS, ("log_metrics",), default=True)]
        )
        self.channels = self.find(
            model.channels or DEFAULT_CHANNELS, ("channels",), default=model.channels is None
        )
        self.router = self.find(model.router, ("router",)) if model.router else None

    def _searched(self) -> list[Path]:
        """The test file's directory and those above it, up to the repository's root or the
        working directory (only its own directory when it is under neither)."""
        chain = [self.path.parent, *self.path.parent.parents]
        cwd = Path.cwd().resolve()
        for n, directory in enumerate(chain):
            if directory.resolve() == cwd or (directory / ".git").exists():
                return chain[: n + 1]
        return chain[:1]

    def find(self, relative: str, key: Path_, default: bool = False) -> Path:
        """``relative`` next to the test file or in the nearest directory above that has it;
        ``default``: the file did not name it (the error then says which key to give)."""
        candidate = Path(relative)
        if candidate.is_absolute():
            if candidate.exists():
                return candidate
            raise self.error(key, f"{relative}: no such file")
        searched = self._searched()
        for directory in searched:
            if (directory / candidate).exists():
                return directory / candidate
        where = f"next to the test file or above it (up to {searched[-1].resolve()})"
        if default:
            message = f"no {relative} {where}: it is the default, give {dotted(key)}:"
            raise DefinitionError(self.path, None, "", message)
        raise self.error(key, f"{relative}: no such file {where}")

    def error(self, key: Path_, message: str) -> DefinitionError:
        return self.source.error(key, message)

    def line(self, key: Path_) -> int | None:
        return self.source.line(key)


def relative_offsets(items: list[TimelineItem]) -> list[float]:
    """Seconds after the start of each item: ``+D`` counts from the previous item's time."""
    offsets: list[float] = []
    previous = 0.0
    for item in items:
        relative = _RELATIVE.match(item.at)
        if relative:
            previous += parse_duration(relative.group(1).strip())
        else:
            previous = parse_duration(item.at)
        offsets.append(previous)
    return offsets


def _check_events(located: Located, model: TestFileModel) -> None:
    """Each event must be a valid schema event, reported at the line of the bad field."""
    for t, case in enumerate(model.tests):
        for i, item in enumerate(case.timeline):
            if item.event is None:
                continue
            try:
                Event.model_validate(item.event)
            except ValidationError as exc:
                error = exc.errors()[0]
                path = ("tests", t, "timeline", i, "event", *error["loc"])
                raise located.error(path, _message(error["msg"])) from None


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def load_test_file(path: Path) -> TestFile:
    """Read and check ``path``; DefinitionError (file, line, key) on anything wrong."""
    located = read_file(path)
    if not isinstance(located.data, dict):
        raise located.error((), "a test file is a mapping with policies: and tests:")
    try:
        model = TestFileModel.model_validate(located.data)
    except ValidationError as exc:
        # a misspelt key also makes the right one "missing": name the misspelling
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise located.error(tuple(error["loc"]), _message(error["msg"])) from None
    _check_events(located, model)
    for t, case in enumerate(model.tests):
        for i, offset in enumerate(relative_offsets(case.timeline)):
            item = case.timeline[i]
            last = offset + item.every * (item.count - 1)
            if last > case.run_for:
                raise located.error(
                    ("tests", t, "timeline", i, "at"), "after the end of the test (run_for)"
                )
            if last + item.arrives_after > case.run_for:
                raise located.error(
                    ("tests", t, "timeline", i, "arrives_after"),
                    "arrives after the end of the test (run_for)",
                )
        if (case.expect.notifications or case.expect.no_notifications) and not model.router:
            raise located.error(
                ("tests", t, "expect"), "notifications can only be expected with a router:"
            )
    return TestFile(located, model)
