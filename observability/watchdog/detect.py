"""The detectors: from Airflow's records to the facts no callback reported.

Each function reads what it needs through ``AirflowAPI`` and returns ``Fact``\\ s; none writes
anything. Which of those facts are new is the reporter's business (``report``), which asks
Cloud Logging what was already said. Detectors that need history (a task's usual duration, a
DAG's usual runtime) keep it in a ``Memory`` that lives as long as the process: losing it on
a restart costs a few API calls, never a duplicate or a missed fact.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from observability.events import EventType, Finding
from observability.fingerprint import fingerprint
from observability.router.duration import parse_duration
from observability.watchdog import reasons
from observability.watchdog.airflow_api import (
    AirflowAPI,
    AirflowAPIError,
    Dag,
    DagRun,
    ImportError_,
    TaskInstance,
)
from observability.watchdog.catalog import MAX_DURATION_TAG, DagCatalog
from observability.watchdog.config import WatchdogConfig
from observability.watchdog.facts import Fact, try_identity

_log = logging.getLogger(__name__)

WAITING_STATES = ("scheduled", "queued")
ACTIVE_RUN_STATES = ("queued", "running")
_BASELINE_TTL_S = 3600.0
_PAUSES_READ_ALONE = 20
"""More DAGs newly named by pause records than this are looked at in the paused lists (two
requests and their pages, however many were paused) rather than each alone."""


@dataclass
class Memory:
    """What one watcher remembers between passes: baselines and run timeouts, with their age."""

    baselines: dict[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)
    run_timeouts: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    paused_seen: set[str] = field(default_factory=set)
    """The paused DAGs already looked at (a pause is reported once); a DAG found unpaused
    or gone leaves it, so that a pause after is looked at again."""
    paused_listed_at: float | None = None
    """When the paused lists were last read (``time.monotonic``; None: read them next pass)."""
    pause_records: set[tuple[str, str, str]] = field(default_factory=set)
    """The last pass's audit records of pauses (DAG, time, event): no more, since passes'
    windows overlap by a pass or so and a record older than the window is never read again."""
    pruned_at: float = field(default_factory=time.monotonic)
    """When ``keep`` last dropped what was older than two hours."""

    def new_pauses(self, records: list[dict[str, Any]]) -> set[str]:
        """The DAGs of ``records`` (one pass's pause records) not in the last pass's."""
        keys = {
            (str(record["dag_id"]), str(record.get("when"))[:64], str(record.get("event"))[:64])
            for record in records
        }
        new = {dag_id for dag_id, _, _ in keys - self.pause_records}
        self.pause_records = keys
        return new

    def look_again(self, dag_ids: set[str]) -> None:
        """Forget the records of DAGs that could not be looked at, and read the paused lists
        next pass: each is looked at again then."""
        self.pause_records = {key for key in self.pause_records if key[0] not in dag_ids}
        self.paused_listed_at = None

    def keep(self, cache: dict[Any, tuple[float, Any]], key: Any, value: Any) -> None:
        """Keep ``value`` an hour. At most once an hour, drop every baseline and run timeout
        older than two (not one: one found fresh a moment ago is still read): a DAG or task
        never asked for again (renamed, deleted, a generated id) would otherwise be kept for
        as long as the process lives."""
        now = time.monotonic()
        cache[key] = (now, value)
        if now - self.pruned_at < _BASELINE_TTL_S:
            return
        self.pruned_at = now
        caches: tuple[dict[Any, tuple[float, Any]], ...] = (self.baselines, self.run_timeouts)
        for kept in caches:
            for stale in [key for key, (at, _) in kept.items() if now - at >= 2 * _BASELINE_TTL_S]:
                del kept[stale]

    def fresh(self, cache: dict[Any, tuple[float, Any]], key: Any) -> bool:
        kept = cache.get(key)
        return kept is not None and time.monotonic() - kept[0] < _BASELINE_TTL_S


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else max(0.0, (end - start).total_seconds())


def p95(values: Iterable[float]) -> float | None:
    """The 95th percentile (nearest rank) of the values, or None when there are fewer than 3."""
    ordered = sorted(value for value in values if math.isfinite(value))
    if len(ordered) < 3:
        return None
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _try_fields(ti: TaskInstance) -> dict[str, Any]:
    return {
        "max_tries": ti.max_tries,
        "state": ti.state,
        "start_date": ti.start_date,
        "end_date": ti.end_date,
        "duration_s": ti.duration_s if ti.duration_s is None or ti.duration_s >= 0 else None,
        "operator": ti.operator,
        "pool": ti.pool,
        "queue": ti.queue,
        "hostname": ti.hostname,
    }


def _task_fact(
    event_type: EventType,
    ti: TaskInstance,
    timestamp: datetime,
    *,
    reason: str | None = None,
    finding: Finding | None = None,
    extra: tuple[Any, ...] = (),
    fields: dict[str, Any] | None = None,
    time_moves: bool = False,
) -> Fact:
    return Fact(
        event_type=event_type,
        identity=(
            *try_identity(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number),
            *extra,
        ),
        timestamp=timestamp,
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
        reason=reason,
        finding=finding,
        fields={**_try_fields(ti), **(fields or {})},
        time_moves=time_moves,
    )


# -- failures without an event ------------------------------------------------------------------


def failed_tries(api: AirflowAPI, since: datetime) -> list[TaskInstance]:
    return api.changed_task_instances(["failed"], since)


def explain_failed_try(api: AirflowAPI, ti: TaskInstance) -> Fact:
    """The ``task_failed`` fact of a try that no callback reported, with its reason."""
    event_logs = api.event_logs(ti.dag_id, ti.run_id, since=ti.end_date or ti.start_date)
    # A state set by hand is the cause whatever the log says: its log is not read.
    log_tail = "" if reasons.marked_by_hand(event_logs, ti.task_id) else api.log_tail(ti)
    reason = reasons.task_reason(log_tail, event_logs, ti.task_id)
    when = ti.end_date or datetime.now(timezone.utc)
    last = reasons.last_error_line(log_tail)
    if last and reason in ("failed", reasons.TIMED_OUT):
        kind, _, message = last.partition(": ")
        exception = _exception(kind.strip()[:200] if message else "Error", message or last)
    else:
        exception = _exception("str", f"{reason} (reported by the watchdog)")
    return _task_fact(
        EventType.TASK_FAILED,
        ti,
        when,
        reason=reason,
        fields={"exception": exception},
        time_moves=ti.end_date is None,
    )


def _exception(kind: str, message: str, traceback: str | None = None) -> dict[str, Any]:
    """The event's ``exception``, fingerprinted as the callbacks fingerprint theirs."""
    return {
        "type": kind,
        "message": message,
        "fingerprint": fingerprint(kind, message),
        "traceback": traceback,
    }


def failed_runs(api: AirflowAPI, since: datetime) -> list[DagRun]:
    return api.changed_dag_runs(["failed"], since)


def explain_failed_runs(api: AirflowAPI, memory: Memory, runs: list[DagRun]) -> list[Fact]:
    """The ``dag_run_failed`` facts of runs no callback reported: why, and which tasks.

    The runs' ended tries come in one list request; a DAG's ``dagrun_timeout`` is read (and
    kept an hour) only for a run it may explain: one with no failed task, or with tasks the
    timeout skipped."""
    if not runs:
        return []
    tries, _ = api.task_instance_batch(
        dag_ids=sorted({run.dag_id for run in runs}),
        run_ids=sorted({run.run_id for run in runs}),
        states=["failed", "upstream_failed", "skipped"],
    )
    by_run: dict[tuple[str, str], list[TaskInstance]] = {}
    for ti in tries:
        by_run.setdefault((ti.dag_id, ti.run_id), []).append(ti)
    return [
        _explain_failed_run(api, memory, run, by_run.get((run.dag_id, run.run_id), []))
        for run in runs
    ]


def _explain_failed_run(
    api: AirflowAPI, memory: Memory, run: DagRun, tries: list[TaskInstance]
) -> Fact:
    failed = sorted({ti.task_id for ti in tries if ti.state == "failed"})
    reason = "task_failure" if failed else "failed"
    since = run.end_date or run.start_date
    if reasons.marked_by_hand(api.event_logs(run.dag_id, run.run_id, since=since), None):
        reason = reasons.MARKED_FAILED
    elif not failed or any(ti.state == "skipped" for ti in tries):
        timeout = _run_timeout_s(api, memory, run.dag_id)
        took = _seconds(run.start_date, run.end_date or datetime.now(timezone.utc))
        if timeout and took is not None and took >= timeout:
            reason = reasons.RUN_TIMED_OUT
            # The tasks the timeout stopped: started or queued, then skipped by the timeout.
            stopped = (
                ti.task_id
                for ti in tries
                if ti.state == "skipped" and (ti.start_date or ti.queued_when)
            )
            failed = sorted({*failed, *stopped})
    return Fact(
        event_type=EventType.DAG_RUN_FAILED,
        identity=(run.dag_id, run.run_id),
        timestamp=run.end_date or datetime.now(timezone.utc),
        time_moves=run.end_date is None,
        dag_id=run.dag_id,
        run_id=run.run_id,
        reason=reason,
        fields={
            "run_type": run.run_type,
            "state": run.state,
            "logical_date": run.logical_date,
            "start_date": run.start_date,
            "end_date": run.end_date,
            "duration_s": _seconds(run.start_date, run.end_date) if run.end_date else None,
            "failed_task_ids": failed,
        },
    )


def _run_timeout_s(api: AirflowAPI, memory: Memory, dag_id: str) -> float | None:
    if not memory.fresh(memory.run_timeouts, dag_id):
        memory.keep(memory.run_timeouts, dag_id, api.dag_run_timeout_s(dag_id))
    return memory.run_timeouts[dag_id][1]


# -- import errors ---------------------------------------------------------------------------------


def import_error_facts(
    errors: list[ImportError_],
    open_errors: dict[str, str],
    generations: dict[str, int],
    now: datetime,
) -> list[Fact]:
    """New or changed import errors, and the ones that went away.

    ``open_errors`` maps each file whose latest reported event is an import error to the
    fingerprint of that error, ``generations`` counts the times each file's error was
    cleared (both read back from Cloud Logging by the reporter): the same error coming back
    after a fix is a new fact."""
    facts: list[Fact] = []
    present: set[str] = set()
    for error in errors:
        present.add(error.filename)
        last = reasons.last_error_line(error.stack_trace) or "import error"
        kind, _, message = last.partition(": ")
        exception = _exception(
            kind.strip()[:200] if message else "ImportError", message or last, error.stack_trace
        )
        print_ = exception["fingerprint"]
        if open_errors.get(error.filename) == print_:
            continue
        facts.append(
            Fact(
                event_type=EventType.DAG_IMPORT_ERROR,
                identity=(error.filename, print_, generations.get(error.filename, 0)),
                timestamp=error.timestamp or now,
                time_moves=True,
                reason=last,
                finding=Finding(file=error.filename),
                fields={"exception": exception},
            )
        )
    for filename, print_ in open_errors.items():
        if filename not in present:
            facts.append(
                Fact(
                    event_type=EventType.DAG_IMPORT_ERROR_CLEARED,
                    identity=(filename, print_, generations.get(filename, 0)),
                    timestamp=now,
                    time_moves=True,
                    reason="the file imports again",
                    finding=Finding(file=filename),
                )
            )
    return facts


# -- waiting and running too long ------------------------------------------------------------------


def stuck_tries(
    api: AirflowAPI,
    config: WatchdogConfig,
    active_runs: Callable[[], dict[tuple[str, str], DagRun]],
    now: datetime,
) -> list[Fact]:
    """Tries scheduled or queued for longer than ``limits.stuck_after``, with their pool.

    A try's own times say how long it waits; the active runs (``active_runs``, read on
    demand) stand in when it has none (Airflow 2.10 keeps no time for ``scheduled``)."""
    limit = config.limits.stuck_after
    pools: dict[str, Any] = {}
    facts = []
    for ti in api.task_instance_batch(states=list(WAITING_STATES))[0]:
        run = (
            active_runs().get((ti.dag_id, ti.run_id))
            if ti.queued_when is None and ti.scheduled_when is None
            else None
        )
        since = (
            (ti.queued_when if ti.state == "queued" else ti.scheduled_when)
            or ti.scheduled_when
            or ti.queued_when
            or (run.start_date or run.queued_at if run else None)
        )
        waited = _seconds(since, now)
        if since is None or waited is None or waited < limit:
            continue
        if ti.pool and ti.pool not in pools:
            pools[ti.pool] = api.pool(ti.pool)
        pool = pools.get(ti.pool or "")
        facts.append(
            _task_fact(
                EventType.TASK_STUCK,
                ti,
                since + timedelta(seconds=limit),
                reason=f"{ti.state} for {round(waited / 60)} min"
                + (f"; pool {pool.name} has {pool.open_slots} open slots" if pool else ""),
                extra=(ti.state,),
                finding=Finding(
                    waiting_state=ti.state,
                    since=since,
                    elapsed_s=waited,
                    limit_s=limit,
                    limit_source="configured"
                    if "stuck_after" in config.limits.model_fields_set
                    else "default",
                    pool_slots=pool.slots if pool else None,
                    pool_open_slots=pool.open_slots if pool else None,
                ),
            )
        )
    return facts


def _tag_limit(dag: Dag | None) -> float | None:
    for tag in dag.tags if dag else ():
        if tag.startswith(MAX_DURATION_TAG):
            try:
                return parse_duration(tag[len(MAX_DURATION_TAG) :].strip())
            except ValueError:
                return None
    return None


def _baselines(
    api: AirflowAPI, config: WatchdogConfig, memory: Memory, tis: list[TaskInstance]
) -> dict[tuple[str, str], float | None]:
    """Each task's p95 of its last successful tries, kept an hour; the missing in one read."""
    wanted = {(ti.dag_id, ti.task_id) for ti in tis}
    missing = {key for key in wanted if not memory.fresh(memory.baselines, key)}
    for key, history in api.recent_successes(missing, config.limits.history).items():
        value = p95(ti.duration_s for ti in history if ti.duration_s is not None)
        memory.keep(memory.baselines, key, value)
    return {key: memory.baselines[key][1] for key in wanted}


def _shortest_limit(config: WatchdogConfig, tagged: dict[str, Dag]) -> float:
    """No try running for less than this can be past its limit, whatever its limit is."""
    limits = [config.limits.anomaly_floor]
    limits += [rule.limit for rule in config.limits.running]
    limits += [limit for dag in tagged.values() if (limit := _tag_limit(dag)) is not None]
    return min(limits)


def running_long(
    api: AirflowAPI,
    config: WatchdogConfig,
    memory: Memory,
    catalog: DagCatalog,
    now: datetime,
) -> list[Fact]:
    """Running tries past their limit: configured (file, then DAG tag), else from history.

    Only the tries running longer than the shortest limit in force are read (for most
    environments: the anomaly floor), and their baselines in one request."""
    tagged = catalog.tagged()
    running, _ = api.task_instance_batch(
        states=["running"],
        started_before=now - timedelta(seconds=_shortest_limit(config, tagged)),
    )
    limits: dict[TaskInstance, float | None] = {}
    for ti in running:
        if ti.start_date is not None:
            limits[ti] = config.limits.running_limit(ti.dag_id, ti.task_id) or _tag_limit(
                tagged.get(ti.dag_id)
            )
    floor = config.limits.anomaly_floor
    unlimited = [
        ti
        for ti, limit in limits.items()
        if limit is None and (_seconds(ti.start_date, now) or 0.0) >= floor
    ]
    baselines = _baselines(api, config, memory, unlimited)
    facts = []
    for ti, configured in limits.items():
        assert ti.start_date is not None
        elapsed = _seconds(ti.start_date, now) or 0.0
        limit, source, baseline = configured, "configured", None
        if limit is None:
            baseline = baselines.get((ti.dag_id, ti.task_id))
            if elapsed < floor or baseline is None:
                continue  # under the floor nothing is long, whatever the history says
            limit = max(config.limits.anomaly_factor * baseline, floor)
            source = "history"
        if elapsed < limit:
            continue
        facts.append(
            _task_fact(
                EventType.TASK_RUNNING_LONG,
                ti,
                ti.start_date + timedelta(seconds=limit),
                reason=f"running {round(elapsed / 60)} min, limit {round(limit / 60)} min"
                + (
                    f" ({config.limits.anomaly_factor:g} x p95 {baseline:.0f} s)"
                    if baseline
                    else ""
                ),
                finding=Finding(
                    since=ti.start_date,
                    elapsed_s=elapsed,
                    limit_s=limit,
                    limit_source=source,  # type: ignore[arg-type]
                    baseline_s=baseline,
                ),
            )
        )
    return facts


# -- deadlines, overdue schedules, pauses ---------------------------------------------------


def _run_fact(run: DagRun, deadline: datetime, reference: str, now: datetime) -> Fact:
    return Fact(
        event_type=EventType.DAG_RUN_LATE,
        identity=(run.dag_id, run.run_id, reference),
        timestamp=deadline,
        dag_id=run.dag_id,
        run_id=run.run_id,
        reason=f"not done {round((now - deadline).total_seconds() / 60)} min after its deadline",
        finding=Finding(
            since=run.start_date or run.queued_at,
            deadline=deadline,
            deadline_reference=reference,
            elapsed_s=_seconds(run.start_date, now),
        ),
        fields={
            "run_type": run.run_type,
            "state": run.state,
            "logical_date": run.logical_date,
            "start_date": run.start_date,
        },
    )


def late_runs(
    api: AirflowAPI,
    config: WatchdogConfig,
    memory: Memory,
    active: list[DagRun],
    now: datetime,
) -> list[Fact]:
    """Runs past a configured deadline (Airflow 3 Deadline Alerts' references)."""
    facts: list[Fact] = []
    for rule in config.deadlines:
        if rule.reference == "time_of_day":
            facts.extend(_time_of_day(api, rule, active, now))
            continue
        for run in active:
            if not rule.matches(run.dag_id):
                continue
            if rule.reference == "average_runtime":
                mean = _average_runtime(api, memory, run.dag_id)
                if mean is None:
                    continue
                deadline = _after(run.start_date, rule.factor * mean + rule.interval)
            else:
                # Airflow 2.10's API has no queued_at: the run's start is the nearest it gives.
                queued = run.queued_at or run.start_date
                base = run.logical_date if rule.reference == "logical_date" else queued
                deadline = _after(base, rule.interval)
            if deadline is not None and now >= deadline:
                facts.append(_run_fact(run, deadline, rule.reference, now))
    return facts


def _average_runtime(api: AirflowAPI, memory: Memory, dag_id: str) -> float | None:
    key = (dag_id, "")
    if memory.fresh(memory.baselines, key):
        return memory.baselines[key][1]
    runs = [run for run in api.latest_runs(dag_id, 20) if run.state == "success"]
    # A run that ends before it starts (a clock set back, a record edited) says nothing.
    durations = [
        (run.end_date - run.start_date).total_seconds()
        for run in runs
        if run.end_date and run.start_date and run.end_date >= run.start_date
    ]
    value = sum(durations) / len(durations) if len(durations) >= 3 else None
    memory.keep(memory.baselines, key, value)
    return value


def _after(base: datetime | None, seconds: float) -> datetime | None:
    """``base`` plus ``seconds``, or None when there is no base or the sum is past year 9999
    (a run dated near the end of time, with a long interval, has no deadline to miss)."""
    if base is None:
        return None
    try:
        return base + timedelta(seconds=seconds)
    except OverflowError:
        return None


def _time_of_day(api: AirflowAPI, rule: Any, active: list[DagRun], now: datetime) -> list[Fact]:
    """By HH:MM UTC (+ interval) each day, the DAG has a run that succeeded in the 24 h before."""
    hour, minute = (int(part) for part in rule.at.split(":"))
    deadline = now.replace(hour=hour, minute=minute, second=0, microsecond=0) + timedelta(
        seconds=rule.interval
    )
    if deadline > now:
        deadline -= timedelta(days=1)
    dag_ids = {run.dag_id for run in active if rule.matches(run.dag_id)}
    if "*" not in rule.dag and "?" not in rule.dag and "[" not in rule.dag:
        dag_ids.add(rule.dag)
    facts = []
    for dag_id in sorted(dag_ids):
        runs = api.latest_runs(dag_id, 20)
        done = any(
            run.state == "success"
            and run.end_date is not None
            and deadline - timedelta(days=1) < run.end_date <= deadline
            for run in runs
        )
        if done:
            continue
        facts.append(
            Fact(
                event_type=EventType.DAG_RUN_LATE,
                identity=(dag_id, deadline.isoformat(), "time_of_day"),
                timestamp=deadline,
                dag_id=dag_id,
                reason=f"no successful run by {rule.at} UTC",
                finding=Finding(deadline=deadline, deadline_reference="time_of_day"),
            )
        )
    return facts


def _paused(api: AirflowAPI, config: WatchdogConfig) -> list[Dag]:
    """The paused DAGs that may matter: on Airflow 3, those whose last run failed (every
    automatic pause) and those tagged ``critical``, unless critical patterns are configured;
    else all of them."""
    if api.major < 3 or config.critical_dags:
        return api.dags(paused=True)
    found = {dag.dag_id: dag for dag in api.dags(paused=True, last_run_failed=True)}
    found.update((dag.dag_id, dag) for dag in api.dags(paused=True, tags=["critical"]))
    return list(found.values())


def paused_dags(
    api: AirflowAPI, config: WatchdogConfig, memory: Memory, audit_since: datetime, now: datetime
) -> list[Fact]:
    """DAGs Airflow paused after consecutive failed runs, and any pause of a critical DAG.

    Every pause writes an audit record (Airflow's own: ``paused`` by ``scheduler``), so the
    records since the last pass say which DAGs to look at: one request, which the failures'
    explanations read anyway. The paused lists (on Airflow 3 the slowest request of a pass at
    10,000 DAGs) are read only when the records cannot be trusted to hold every pause: on the
    first pass (pauses before the window), when the audit read was cut short or refused, when
    the records name more DAGs than are worth a request each, and every ``dag_list_refresh``
    for pauses no record names (a bulk ``PATCH /dags``, the database)."""
    try:
        kept = api.read_audit_since(audit_since)
    except AirflowAPIError:  # a role that may not read it (2.10's Viewer): the lists, as before
        kept = False
    records = api.pause_records() if kept else None
    hinted = memory.new_pauses(records) if records is not None else set()
    listed_at = memory.paused_listed_at
    unread: set[str] = set()
    if (
        records is None
        or len(hinted) > _PAUSES_READ_ALONE
        or listed_at is None
        or time.monotonic() - listed_at >= config.dag_list_refresh
    ):
        paused = _paused(api, config)
        memory.paused_listed_at = time.monotonic()
        memory.paused_seen.intersection_update(dag.dag_id for dag in paused)
        candidates = [
            dag for dag in paused if dag.dag_id not in memory.paused_seen or dag.dag_id in hinted
        ]
    else:
        candidates = []
        looked_at = sorted(hinted)
        now_read = api.concurrently(partial(_dag_now, api), looked_at)
        for dag_id, dag in zip(looked_at, now_read, strict=True):
            if isinstance(dag, AirflowAPIError):
                unread.add(dag_id)
            elif dag is None or not dag.is_paused:  # gone, or unpaused since
                memory.paused_seen.discard(dag_id)
            else:
                candidates.append(dag)
    facts = []
    for dag in sorted(candidates, key=lambda dag: dag.dag_id):
        try:
            fact = _pause_fact(api, config, dag, now)
        except AirflowAPIError as exc:
            _log.warning("the pause of DAG %r is looked at next pass: %s", dag.dag_id, exc)
            unread.add(dag.dag_id)
            continue
        memory.paused_seen.add(dag.dag_id)
        if fact is not None:
            facts.append(fact)
    if unread:
        memory.look_again(unread)
    return facts


def _dag_now(api: AirflowAPI, dag_id: str) -> Dag | AirflowAPIError | None:
    """The DAG as it is now, None when gone, or why it could not be read."""
    try:
        return api.dag(dag_id)
    except AirflowAPIError as exc:
        _log.warning("the pause of DAG %r is looked at next pass: %s", dag_id, exc)
        return exc


def _pause_fact(api: AirflowAPI, config: WatchdogConfig, dag: Dag, now: datetime) -> Fact | None:
    """The ``dag_paused`` fact of a paused DAG: paused by Airflow after its last runs failed,
    or critical; else None."""
    critical = config.is_critical(dag.dag_id, list(dag.tags))
    if not critical and dag.max_consecutive_failed_runs <= 0:
        return None
    runs = api.latest_runs(dag.dag_id, max(dag.max_consecutive_failed_runs, 1))
    latest = runs[0] if runs else None
    failed = 0
    for run in runs:
        if run.state != "failed":
            break
        failed += 1
    auto = dag.max_consecutive_failed_runs > 0 and failed >= dag.max_consecutive_failed_runs
    if not auto and not critical:
        return None
    return Fact(
        event_type=EventType.DAG_PAUSED,
        identity=(dag.dag_id, latest.run_id if latest else ""),
        timestamp=(latest.end_date if latest and latest.end_date else now),
        time_moves=not (latest and latest.end_date),
        dag_id=dag.dag_id,
        run_id=latest.run_id if latest else None,
        reason=(
            f"paused by Airflow after {failed} consecutive failed runs"
            if auto
            else "a critical DAG is paused"
        ),
        finding=Finding(consecutive_failed_runs=failed),
    )


def _team(dag: Dag) -> str | None:
    """The same rule as the callbacks: a ``team:NAME`` tag, else the first owner."""
    for tag in dag.tags:
        if tag.lower().startswith("team:") and tag[5:].strip():
            return tag[5:].strip()
    return dag.owners[0] if dag.owners else None


def with_owners(facts: list[Fact], catalog: DagCatalog, config: WatchdogConfig) -> list[Fact]:
    """Each fact with its DAG's owner, team and criticality, so routes can use them.

    An import error has no DAG (the file did not parse), but Airflow still lists the DAGs the
    file held before it broke: their team is the file's."""
    dags = catalog.with_owners({fact.dag_id for fact in facts if fact.dag_id})
    enriched = []
    for fact in facts:
        dag: Dag | None = dags.get(fact.dag_id or "")
        if dag is None and fact.finding is not None and fact.finding.file:
            dag = catalog.in_file(fact.finding.file)
        if dag is None:
            enriched.append(fact)
            continue
        finding = fact.finding
        if finding is not None:
            critical = config.is_critical(dag.dag_id, list(dag.tags))
            finding = finding.model_copy(update={"critical": critical})
        fields = {"owner": dag.owners[0] if dag.owners else None, "team": _team(dag), **fact.fields}
        enriched.append(replace(fact, fields=fields, finding=finding))
    return enriched
