"""Passes: for each watched environment, read Airflow, find what went unsaid, say it.

One ``Watcher`` per environment holds its API client, its reporter and its memory. A pass
reads what changed since the previous pass (the first pass: ``lookback``) plus everything
waiting and running, and reports every fact that Cloud Logging does not already hold. A fact
younger than ``report_grace`` is left for a later pass: the callback that reports it may still
be on its way. A failing environment costs its own pass, never another's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from observability.events import EventType
from observability.gcp import Endpoint, logging_client, project_id
from observability.watchdog import detect, overdue
from observability.watchdog.airflow_api import AirflowAPI, DagRun
from observability.watchdog.catalog import DagCatalog
from observability.watchdog.claims import CLOUD_LOGGING_SETTLE_S, EMULATOR_SETTLE_S, Claims
from observability.watchdog.composer import ComposerAPI, to_environment
from observability.watchdog.config import AirflowAuth, ComposerSource, WatchdogConfig
from observability.watchdog.facts import Environment, Fact, event_id, try_identity
from observability.watchdog.report import Reporter

_log = logging.getLogger(__name__)

_DETECTORS = 5
"""Reads a pass runs side by side: failed tries, failed runs, waiting, running, the audit log
and pauses (and, in the pass's own thread, the overdue DAGs)."""


@dataclass
class PassReport:
    """What one pass over one environment did: for logs, tests and the benchmark."""

    environment: str
    written: Counter[str] = field(default_factory=Counter)
    airflow_calls: int = 0
    logging_calls: int = 0
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        found = ", ".join(f"{count} {kind}" for kind, count in sorted(self.written.items()))
        status = f"failed: {self.error}" if self.error else (found or "nothing new")
        return (
            f"{self.environment}: {status} ({self.airflow_calls} Airflow calls, "
            f"{self.logging_calls} Logging reads, {self.seconds:.1f} s)"
        )


class Watcher:
    """Watches one environment across passes."""

    def __init__(
        self,
        environment: Environment,
        config: WatchdogConfig,
        auth: AirflowAuth,
        logging_reader: Any,
        project: str,
    ) -> None:
        self.environment = environment
        self.config = config
        self.api = AirflowAPI(
            environment.airflow_url,
            auth,
            page_size=config.page_size,
            timeout_s=config.request_timeout,
        )
        self.reporter = Reporter(environment, logging_reader, project)
        self.claims = Claims(
            environment,
            logging_reader,
            project,
            CLOUD_LOGGING_SETTLE_S if config.claim_settle is None else config.claim_settle,
        )
        self.memory = detect.Memory()
        self.catalog = DagCatalog(self.api, config.dag_pages_per_pass, config.dag_list_refresh)
        self.schedule = overdue.ScheduleScan(self.api, config.dag_pages_per_pass)
        self._since: datetime | None = None

    def close(self) -> None:
        self.reporter.close()
        self.api.close()

    def facts(self, now: datetime) -> list[Fact]:
        """Everything found in Airflow now (said or not).

        The detectors read independent things, so they run side by side (the API client
        bounds the requests in flight); the failures' explanations need the audit log, which
        the pause detector reads."""
        config, api = self.config, self.api
        lookback = timedelta(seconds=config.lookback)
        if self._since is None:
            since = now - lookback
        else:  # overlap by the grace and a pass, so a deferred fact is read again
            since = self._since - timedelta(seconds=config.limits.report_grace + config.interval)
        # Import errors first, alone: Airflow moves an error's timestamp at each parse (every
        # 10 s or so), and two watchdogs racing dedupe in Cloud Logging only with the same
        # timestamp, so each reads it at the same point of its pass, before the reads that
        # queue behind each other on the API server.
        errors = api.import_errors()
        with ThreadPoolExecutor(_DETECTORS, thread_name_prefix="watchdog") as detectors:
            tries = detectors.submit(self._unsaid_failures, since, now)
            runs = detectors.submit(self._unsaid_runs, since, now)
            waiting = detectors.submit(self._waiting, now)
            running = detectors.submit(
                detect.running_long, api, config, self.memory, self.catalog, now
            )
            # The audit log since the last pass: pauses come from it, and the failures'
            # reasons (``paused`` reads it first, so the explanations below wait for it).
            audit_since = since - timedelta(seconds=config.interval)
            paused = detectors.submit(
                detect.paused_dags, api, config, self.memory, audit_since, now
            )
            self.catalog.advance()
            facts = overdue.overdue_dags(
                self.schedule,
                self.catalog,
                config.limits.overdue_grace,
                lambda fact: self._said.covers(fact, self.environment),
                now,
            )
            unsaid_tries, unsaid_runs = tries.result(), runs.result()
            facts += paused.result()
            facts += api.concurrently(partial(detect.explain_failed_try, api), unsaid_tries)
            facts += detect.explain_failed_runs(api, self.memory, unsaid_runs)
            facts += waiting.result() + running.result()
            facts += detect.import_error_facts(
                errors,
                self._said.open_import_errors,
                self._said.import_generations,
                now,
            )
        self._since = now
        return detect.with_owners(facts, self.catalog, config)

    def _waiting(self, now: datetime) -> list[Fact]:
        """Stuck tries and late runs: both may need the active runs, read once if so."""
        config, api = self.config, self.api
        active: list[DagRun] | None = None

        def active_runs() -> list[DagRun]:
            nonlocal active
            if active is None:
                active = api.dag_runs(list(detect.ACTIVE_RUN_STATES))
            return active

        facts = detect.stuck_tries(
            api, config, lambda: {(run.dag_id, run.run_id): run for run in active_runs()}, now
        )
        if config.deadlines:
            facts += detect.late_runs(api, config, self.memory, active_runs(), now)
        return facts

    def _unsaid_failures(self, since: datetime, now: datetime) -> list[Any]:
        """Failed tries old enough that their callbacks had their chance, and not reported."""
        ripe = now - timedelta(seconds=self.config.limits.report_grace)
        unsaid = []
        for ti in detect.failed_tries(self.api, since):
            identity = try_identity(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
            known = event_id(self.environment, EventType.TASK_FAILED, identity)
            if (
                (ti.end_date or now) <= ripe
                and identity not in self._said.tries
                and known not in self._said.event_ids
            ):
                unsaid.append(ti)
        return unsaid

    def _unsaid_runs(self, since: datetime, now: datetime) -> list[Any]:
        ripe = now - timedelta(seconds=self.config.limits.report_grace)
        return [
            run
            for run in detect.failed_runs(self.api, since)
            if (run.end_date or now) <= ripe
            and (run.dag_id, run.run_id) not in self._said.runs
            and event_id(self.environment, EventType.DAG_RUN_FAILED, (run.dag_id, run.run_id))
            not in self._said.event_ids
        ]

    def run_pass(self, now: datetime | None = None) -> PassReport:
        """One pass; never raises (a failure is in the report)."""
        now = now or datetime.now(timezone.utc)
        report = PassReport(self.environment.name)
        started = time.monotonic()
        calls_before = self.api.calls, self.reporter.calls + self.claims.calls
        self.api.forget()
        self.api.deadline = time.monotonic() + self.config.pass_timeout
        try:
            first = self._since is None
            window_start = now - timedelta(
                seconds=self.config.lookback
                if first
                else self.config.limits.report_grace + 2 * self.config.interval + 3600
            )
            self._said = self.reporter.said(window_start)
            fresh = [
                fact for fact in self.facts(now) if not self._said.covers(fact, self.environment)
            ]
            fresh = list({fact.event_id(self.environment): fact for fact in fresh}.values())
            agreed = self.claims.agreed(fact for fact in fresh if fact.time_moves)
            fresh = [
                replace(fact, timestamp=agreed.get(fact.event_id(self.environment), fact.timestamp))
                for fact in fresh
            ]
            written = self.reporter.write(fresh, self.api.version)
            if not self.reporter.flush():
                _log.warning("%s: events spooled; they will be replayed", self.environment.name)
            report.written.update(fact.event_type.value for fact in written)
        except Exception as exc:  # noqa: BLE001 - one environment's failure is reported, not raised
            report.error = f"{type(exc).__name__}: {exc}"
        self.api.deadline = None
        report.airflow_calls = self.api.calls - calls_before[0]
        report.logging_calls = self.reporter.calls + self.claims.calls - calls_before[1]
        report.seconds = time.monotonic() - started
        return report


class Watchdog:
    """Every watched environment, found again every 10 minutes through the Composer API.

    The environments' passes run side by side (at most ``_PASSES_AT_ONCE``), each bounded by
    ``pass_timeout``: an Airflow that hangs delays no other environment's pass. A Composer
    source that fails keeps the environments it gave before, and costs no other source."""

    _ENVIRONMENTS_TTL_S = 600.0
    _PASSES_AT_ONCE = 8

    def __init__(self, config: WatchdogConfig, endpoint: Endpoint | None = None) -> None:
        self.endpoint = endpoint or Endpoint.from_settings()
        if config.claim_settle is None:
            settle = EMULATOR_SETTLE_S if self.endpoint.emulated else CLOUD_LOGGING_SETTLE_S
            config = config.model_copy(update={"claim_settle": settle})
        self.config = config
        self._project = project_id(endpoint=self.endpoint) if not config.composer else None
        self._watchers: dict[str, Watcher] = {}
        self._found_at = -float("inf")
        self._composer = ComposerAPI(self.endpoint) if config.composer else None
        self._readers: dict[str, Any] = {}
        self.stop = threading.Event()

    def _reader(self, project: str) -> Any:
        if project not in self._readers:
            self._readers[project] = logging_client(project, self.endpoint)
        return self._readers[project]

    def environments(
        self,
    ) -> tuple[list[tuple[Environment, AirflowAuth]], list[ComposerSource], list[PassReport]]:
        """The environments found, the Composer sources that failed, and their errors."""
        found: list[tuple[Environment, AirflowAuth]] = []
        for source in self.config.airflow:
            project = source.project or self._project or project_id(endpoint=self.endpoint)
            environment = Environment(source.name, source.url, project, source.location)
            found.append((environment, source.auth))
        failed: list[ComposerSource] = []
        errors: list[PassReport] = []
        auth = AirflowAuth(kind="none" if self.endpoint.emulated else "google")
        for composer in self.config.composer:
            assert self._composer is not None
            try:
                resources = list(self._composer.environments(composer))
            except Exception as exc:  # noqa: BLE001 - one source's failure is reported
                failed.append(composer)
                where = f"(environments of {composer.project}/{composer.location})"
                errors.append(PassReport(where, error=f"{type(exc).__name__}: {exc}"))
                continue
            found += [(managed, auth) for managed in map(to_environment, resources) if managed]
        return found, failed, errors

    def _refresh(self) -> list[PassReport]:
        if time.monotonic() - self._found_at < self._ENVIRONMENTS_TTL_S:
            return []
        found, failed, errors = self.environments()
        current = {env.name: (env, auth) for env, auth in found}
        for name in set(self._watchers) - set(current):
            kept = self._watchers[name].environment
            if any((kept.project, kept.location) == (s.project, s.location) for s in failed):
                continue  # its source did not answer: it is not known to be gone
            self._watchers.pop(name).close()
        for name, (environment, auth) in current.items():
            if name not in self._watchers or self._watchers[name].environment != environment:
                project = environment.project or "local-project"
                self._watchers[name] = Watcher(
                    environment, self.config, auth, self._reader(project), project
                )
        if not failed:
            self._found_at = time.monotonic()
        return errors

    def run_pass(self) -> list[PassReport]:
        try:
            errors = self._refresh()
        except Exception as exc:  # noqa: BLE001 - the Composer API's failure is reported
            errors = [PassReport("(environments)", error=f"{type(exc).__name__}: {exc}")]
        watchers = list(self._watchers.values())
        if not watchers:
            return errors
        with ThreadPoolExecutor(
            min(len(watchers), self._PASSES_AT_ONCE), thread_name_prefix="watchdog-pass"
        ) as passes:
            return errors + list(passes.map(lambda watcher: watcher.run_pass(), watchers))

    def run(self, once: bool, on_pass: Callable[[list[PassReport]], None]) -> None:
        """Pass after pass every ``interval`` until ``stop`` is set (or once)."""
        while not self.stop.is_set():
            started = time.monotonic()
            on_pass(self.run_pass())
            if once:
                return
            self.stop.wait(max(0.0, self.config.interval - (time.monotonic() - started)))

    def close(self) -> None:
        for watcher in self._watchers.values():
            watcher.close()
        if self._composer is not None:
            self._composer.close()
