"""The watchdog's configuration: which environments to watch, and when a wait is too long.

One YAML file (``composer-obs watchdog run --config FILE``), validated by pydantic so that a bad
value is one line naming its key. Durations are written the Prometheus way (``15m``, ``2h``).
Every limit has a default, so a file naming only the environments is a complete configuration.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from observability.router.duration import Duration
from observability.yaml_lines import DuplicateKey, key_lines


class WatchdogConfigError(ValueError):
    """The file is unusable; the message is one line: ``file:line: key: reason``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AirflowAuth(_Strict):
    """How the watchdog signs its Airflow REST API calls.

    ``google``: the caller's Google access token (Composer's web server accepts it and maps the
    account to an Airflow user); ``basic``: Airflow 2's basic auth backend; ``password``: Airflow
    3's ``POST /auth/token`` with a user name and password; ``token``: a fixed bearer token;
    ``none``: no header (an Airflow that lets everyone in).
    """

    kind: Literal["google", "basic", "password", "token", "none"] = "google"
    username: str | None = None
    password_file: Path | None = Field(
        default=None, description="File holding the password, so it never sits in the YAML."
    )
    token_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> AirflowAuth:
        if self.kind in ("basic", "password") and (not self.username or not self.password_file):
            raise ValueError(f"auth kind {self.kind!r} needs username and password_file")
        if self.kind == "token" and not self.token_file:
            raise ValueError("auth kind 'token' needs token_file")
        return self

    def secret(self) -> str:
        """The password or token, read from its file when asked (rotations need no restart)."""
        path = self.password_file or self.token_file
        return path.read_text(encoding="utf-8").strip() if path else ""


class ComposerSource(_Strict):
    """Environments found through the Composer API: all of a location, or the ones named."""

    project: str
    location: str
    environments: list[str] = Field(
        default_factory=list, description="Names to watch; empty means every environment."
    )


class AirflowSource(_Strict):
    """A self-managed Airflow (or one whose URL is known): no Composer API involved."""

    name: str = Field(description="The environment name events carry (`environment_name`).")
    url: str = Field(description="The Airflow web server / API server, e.g. http://host:8080.")
    project: str | None = None
    location: str | None = None
    auth: AirflowAuth = AirflowAuth(kind="none")


class RunningLimit(_Strict):
    """An explicit limit for tasks whose DAG (and task) ids match the glob patterns."""

    dag: str = "*"
    task: str = "*"
    limit: Duration


class Deadline(_Strict):
    """A DAG run must have succeeded by ``reference`` + ``interval`` (Airflow 3's Deadline Alerts).

    ``reference`` is ``logical_date``, ``queued_at``, ``time_of_day`` (``at`` as HH:MM UTC, every
    day) or ``average_runtime`` (the DAG's mean of its last successful runs, times ``factor``)."""

    dag: str
    reference: Literal["logical_date", "queued_at", "time_of_day", "average_runtime"]
    interval: Duration = 0.0
    at: str | None = Field(default=None, description="HH:MM (UTC), for time_of_day.")
    factor: float = Field(default=1.5, gt=0, le=100, description="For average_runtime.")

    @model_validator(mode="after")
    def _at(self) -> Deadline:
        if self.reference == "time_of_day":
            if self.at is None or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.at):
                raise ValueError("time_of_day needs at: HH:MM (00:00 to 23:59, UTC)")
        elif self.at is not None:
            raise ValueError("at is only for reference: time_of_day")
        return self

    def matches(self, dag_id: str) -> bool:
        return fnmatch.fnmatchcase(dag_id, self.dag)


class Limits(_Strict):
    """When waiting and running become findings."""

    stuck_after: Duration = Field(
        default=15 * 60, gt=0, description="A task scheduled or queued this long is stuck."
    )
    running: list[RunningLimit] = Field(default_factory=list)
    anomaly_factor: float = Field(
        default=3.0, gt=1, le=1000, description="Running longer than this x p95 of history."
    )
    anomaly_floor: Duration = Field(
        default=10 * 60, ge=0, description="...and at least this long, to flag a task."
    )
    history: int = Field(default=20, ge=3, le=200, description="Successful tries in a baseline.")
    report_grace: Duration = Field(
        default=120,
        ge=0,
        description="How long a failure may stay unreported by callbacks before the watchdog "
        "reports it.",
    )
    overdue_grace: Duration = Field(
        default=30 * 60, ge=0, description="A scheduled DAG's next run this late is overdue."
    )

    def running_limit(self, dag_id: str, task_id: str) -> float | None:
        """The first explicit limit whose patterns match, in file order."""
        for rule in self.running:
            if fnmatch.fnmatchcase(dag_id, rule.dag) and fnmatch.fnmatchcase(task_id, rule.task):
                return rule.limit
        return None


LATEST_REPORT_S = 8 * 60.0
"""The latest a finding may be written after its fact: the default policies that count the
watchdog's events look back 10 minutes (alert_policies/dag_run_failed.yaml, watchdog.yaml),
and a pass and Cloud Logging's lag need the rest."""


class WatchdogConfig(_Strict):
    """The whole file."""

    composer: list[ComposerSource] = Field(default_factory=list)
    airflow: list[AirflowSource] = Field(default_factory=list)
    interval: Duration = Field(default=60, gt=0, le=86400, description="Between two passes.")
    request_timeout: Duration = Field(
        default=30,
        gt=0,
        le=300,
        description="Per Airflow request: to connect, and between two reads of its answer "
        "(a whole answer within three times this).",
    )
    pass_timeout: Duration = Field(
        default=300,
        gt=0,
        le=3600,
        description="No Airflow request of an environment's pass starts after this: a "
        "hanging or crawling Airflow ends its own pass, never another environment's.",
    )
    lookback: Duration = Field(
        default=6 * 3600, gt=0, le=30 * 86400, description="How far back the first pass reads."
    )
    page_size: int = Field(
        default=1000,
        ge=10,
        le=10_000,
        description="Asked per page; Airflow caps it at [api] maximum_page_limit (default 100).",
    )
    dag_pages_per_pass: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Pages of the DAG list read a pass: on Airflow 3 the most the overdue scan "
        "reads (one when few DAGs are due); on 2.10 the slice of the list read a pass.",
    )
    dag_list_refresh: Duration = Field(
        default=600,
        gt=0,
        description="On 2.10 a new round of the DAG list no sooner than this; the paused lists "
        "and a DAG's owners are read again after this.",
    )
    claim_settle: Duration | None = Field(
        default=None,
        ge=0,
        le=60,
        description="How long a watchdog waits for other watchdogs' claims before writing a "
        "fact whose time moves (an import error, one cleared): longer than Cloud Logging "
        "takes to make an entry readable. Default 5 s; 0.5 s against the emulator.",
    )
    limits: Limits = Limits()
    deadlines: list[Deadline] = Field(default_factory=list)
    critical_dags: list[str] = Field(
        default_factory=list,
        description="Glob patterns; any pause of these DAGs is reported (also the `critical` tag).",
    )

    @model_validator(mode="after")
    def _something_to_watch(self) -> WatchdogConfig:
        if not self.composer and not self.airflow:
            raise ValueError("nothing to watch: give `composer:` or `airflow:` entries")
        return self

    @model_validator(mode="after")
    def _findings_arrive_in_the_window(self) -> WatchdogConfig:
        if self.limits.report_grace + self.interval > LATEST_REPORT_S:
            raise ValueError(
                f"limits.report_grace ({self.limits.report_grace:g} s) + interval "
                f"({self.interval:g} s) must be at most {LATEST_REPORT_S:g} s: a finding "
                "carries the time of the fact, and one written later than the default "
                "policies' 10-minute window counts in no window, so it would never page"
            )
        return self

    def is_critical(self, dag_id: str, tags: list[str]) -> bool:
        return "critical" in tags or any(
            fnmatch.fnmatchcase(dag_id, pattern) for pattern in self.critical_dags
        )


def load_config(path: Path) -> WatchdogConfig:
    """Read and validate the file; errors name the file, the line and the key."""
    try:
        text = path.read_text(encoding="utf-8")
        lines = key_lines(text)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise WatchdogConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise WatchdogConfigError(f"{path}: not UTF-8 text") from None
    except DuplicateKey as exc:
        key = ".".join(str(part) for part in exc.path)
        raise WatchdogConfigError(f"{path}:{exc.line}: {key}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise WatchdogConfigError(f"{where}: {problem}") from None
    if not isinstance(data, dict):
        raise WatchdogConfigError(f"{path}: expected a mapping (composer:, airflow:, limits: ...)")
    try:
        return WatchdogConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        while loc and loc not in lines:
            loc = loc[:-1]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        line = f":{lines[loc]}" if loc in lines else ""
        message = first["msg"].removeprefix("Value error, ")
        raise WatchdogConfigError(f"{path}{line}: {key}: {message}") from None
