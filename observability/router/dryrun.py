"""What would happen to an alert: routing plus inhibition, silences and time intervals.

``amtool config routes test`` answers only "which routes match"; an on-call engineer wants to
know who actually gets told. ``decide`` answers that for one label set, given the other alerts
firing (for inhibition), the silences in force and the time; ``run_cases`` checks a YAML file
of such cases so a configuration change can be tested in CI like code.
"""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from observability.router.alert import Alert, fingerprint
from observability.router.config import RouterConfig
from observability.router.dispatcher import time_muted
from observability.router.inhibit import Inhibitor
from observability.router.matcher import MatcherError, parse_matchers
from observability.router.silence import Silence
from observability.yaml_lines import DuplicateKey, key_lines, yaml_problem


@dataclass
class Decision:
    """Where an alert goes, and why some receivers stay silent."""

    routes: list[str]
    receivers: list[str]
    inhibited_by: dict[str, str] | None = None
    silenced_by: list[str] = field(default_factory=list)
    time_muted: list[str] = field(default_factory=list)

    @property
    def notified(self) -> list[str]:
        """Receivers that would actually be told (deduplicated, in routing order)."""
        if self.inhibited_by is not None or self.silenced_by:
            return []
        muted = set(self.time_muted)
        return list(dict.fromkeys(name for name in self.receivers if name not in muted))


def _alert(labels: dict[str, str], now: float) -> Alert:
    return Alert(fingerprint(labels), dict(labels), {}, now, None, now)


def decide(
    config: RouterConfig,
    labels: dict[str, str],
    firing: list[dict[str, str]] | None = None,
    silences: list[str] | None = None,
    at: float | None = None,
) -> Decision:
    """Route ``labels`` and apply inhibition (by ``firing``), ``silences`` and time at ``at``."""
    now = at if at is not None else datetime.now(timezone.utc).timestamp()
    routes = config.route.match(labels)
    decision = Decision([route.id for route in routes], [route.receiver for route in routes])
    alert = _alert(labels, now)
    others = [_alert(other, now) for other in firing or []]
    source = Inhibitor(config.inhibit_rules, others).inhibited_by(labels, alert.fingerprint)
    if source is not None:
        decision.inhibited_by = next(o.labels for o in others if o.fingerprint == source)
    for text in silences or []:
        silence = Silence(
            str(uuid.uuid4()),
            tuple(parse_matchers(text)),
            now - 1,
            now + 3600,
            "routes test",
            "",
            now,
        )
        if silence.mutes(labels, now):
            decision.silenced_by.append(text)
    decision.time_muted = [route.receiver for route in routes if time_muted(route, config, now)]
    return decision


class RouteCase(BaseModel):
    """One case of a routes test file."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    labels: dict[str, str]
    receivers: list[str]
    alerts: list[dict[str, str]] = Field(default_factory=list)
    silences: list[str] = Field(default_factory=list)
    at: datetime | None = None

    @field_validator("silences")
    @classmethod
    def _matchers(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                if not parse_matchers(value):
                    raise ValueError("a silence needs at least one matcher")
            except MatcherError as exc:
                raise ValueError(str(exc)) from None
        return values


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[RouteCase] = Field(min_length=1)


@dataclass
class CaseResult:
    case: RouteCase
    decision: Decision

    @property
    def passed(self) -> bool:
        return self.decision.notified == self.case.receivers


def load_cases(path: Path) -> list[RouteCase]:
    """Read a cases file; ValueError with a one-line ``file:line: key: reason`` when it is
    malformed. A misspelt key is reported as such, before the field it leaves missing."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = key_lines(text)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except DuplicateKey as exc:
        where = ".".join(str(part) for part in exc.path)
        raise ValueError(f"{path}:{exc.line}: {where}: {exc}") from None
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        raise ValueError(f"{path}:{line or 1}: invalid YAML: {problem}") from None
    if data is None:
        raise ValueError(f"{path}:1: the file is empty: expected cases: with a list of cases")
    try:
        return CaseFile.model_validate(data).cases
    except ValidationError as exc:
        error = min(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        location = tuple(error["loc"])
        line = next(
            (
                lines[location[:depth]]
                for depth in range(len(location), 0, -1)
                if location[:depth] in lines
            ),
            1,
        )
        where = ".".join(str(part) for part in location) or "(top)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = [*RouteCase.model_fields, *CaseFile.model_fields]
            close = difflib.get_close_matches(str(location[-1]), known, n=1)
            message = "not a field" + (f" (did you mean {close[0]}?)" if close else "")
        raise ValueError(f"{path}:{line}: {where}: {message}") from None


def run_cases(config: RouterConfig, cases: list[RouteCase]) -> list[CaseResult]:
    return [
        CaseResult(
            case,
            decide(
                config,
                case.labels,
                case.alerts,
                case.silences,
                case.at.timestamp() if case.at else None,
            ),
        )
        for case in cases
    ]
