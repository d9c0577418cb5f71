"""Alert policy evaluation on the emulator's clock: incidents open, close and notify.

``tick()`` evaluates every enabled policy of every project at each evaluation time not yet
evaluated, on a grid of ``step`` seconds (60 s) up to the clock's now (at most ``max_steps``
times per tick, the latest ones). A background thread ticks every ``interval`` seconds of
real time and at once when the clock is moved (``POST /v1/emulator/clock:advance``);
``POST /v1/emulator/alerting:evaluate`` ticks synchronously.

- Threshold and absence conditions are judged per time series (``conditions``); the
  combiner (OR, AND, AND_WITH_MATCHING_RESOURCE) decides which violating series are active,
  and each active series has one incident: opened when it becomes active, closed when it no
  longer is ("recovered") or when its series has had no data for ``alertStrategy.autoClose``
  (default 7 days), after which it is not reopened until it has recovered. Missing data
  leaves an incident as it is unless the condition says otherwise (evaluationMissingData).
- Log-match conditions are judged as entries are stored (``on_entries``, a Logging listener):
  a matching entry opens an incident for its extracted labels unless one is open for them,
  the policy opened one less than ``notificationRateLimit.period`` (default 5 min) ago, or
  it opened 20 in the last day. They close by autoClose only.
- MQL, PromQL and SQL conditions are not evaluated: that is logged once per policy and listed
  under ``notEvaluated`` by ``GET /v1/emulator/projects/{p}/incidents``.

Every open and close is sent to each enabled channel of the policy (``Notifier``), unless
``alertStrategy.notificationPrompts`` leaves that state out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.cloud.logging_v2.types import WriteLogEntriesRequest
from google.protobuf import json_format

from observability.emulator.alert_policies.store import AlertPolicyStore, StoredPolicy
from observability.emulator.alerting.conditions import (
    ConditionState,
    SeriesReader,
    SeriesValue,
    Verdict,
    describe,
    evaluate_absent,
    evaluate_threshold,
    parse_duration,
)
from observability.emulator.alerting.incidents import Incident, IncidentStore
from observability.emulator.alerting.notifier import EVENTS_LOG_ID, Notifier
from observability.emulator.alerting.payload import incident_payload
from observability.emulator.channels.store import NotificationChannelStore
from observability.emulator.common.clock import Clock
from observability.emulator.common.errors import ApiError
from observability.emulator.common.extractors import parse_extractor
from observability.emulator.log_entries.convert import LogEntryPb, entry_to_dict, format_timestamp
from observability.emulator.log_entries.service import LoggingService
from observability.emulator.log_entries.store import PreparedEntry
from observability.emulator.time_series.engine import TimeSeriesEngine
from observability.logfilter import FilterError, compile_filter

_log = logging.getLogger(__name__)

DEFAULT_AUTO_CLOSE = 7 * 24 * 3600.0
LOG_MATCH_DAILY_LIMIT = 20
"""Incidents a log-match policy may open per day (besides one per rate-limit period)."""
_METRIC_KINDS = ("conditionThreshold", "conditionAbsent")
_UNEVALUATED_KINDS = (
    "conditionMonitoringQueryLanguage",
    "conditionPrometheusQueryLanguage",
    "conditionSql",
)
_WriteRequestPb = WriteLogEntriesRequest.pb()


def _kind(condition: dict[str, Any]) -> str:
    for kind in (*_METRIC_KINDS, "conditionMatchedLog", *_UNEVALUATED_KINDS):
        if kind in condition:
            return kind
    return ""


def _condition_id(condition: dict[str, Any], index: int) -> str:
    return str(condition.get("name") or condition.get("displayName") or f"conditions/{index}")


def _unevaluated(conditions: list[dict[str, Any]], kinds: list[str]) -> list[dict[str, str]]:
    """The conditions of a policy the emulator does not evaluate (MQL, PromQL, SQL)."""
    return [
        {
            "condition": _condition_id(c, i),
            "kind": k or "unknown",
            "reason": f"{k or 'this condition kind'} is not evaluated by the emulator",
        }
        for i, (c, k) in enumerate(zip(conditions, kinds, strict=True))
        if k not in (*_METRIC_KINDS, "conditionMatchedLog")
    ]


def _resource_key(series: SeriesValue) -> str:
    return json.dumps([series.resource_type, sorted(series.resource_labels.items())])


def _combine(
    combiner: str, verdicts: list[tuple[str, Verdict]]
) -> dict[tuple[str, str], SeriesValue]:
    """(condition id, series key) -> series, for the series the combiner makes active."""
    if combiner in ("AND", "AND_WITH_MATCHING_RESOURCE") and not all(v.held for _, v in verdicts):
        return {}
    active = {(cid, key): s for cid, v in verdicts for key, s in v.held.items()}
    if combiner == "AND_WITH_MATCHING_RESOURCE":
        common = set.intersection(
            *({_resource_key(s) for s in v.held.values()} for _, v in verdicts)
        )
        active = {k: s for k, s in active.items() if _resource_key(s) in common}
    return active


class AlertEvaluator:
    """Evaluates policies and keeps incidents; thread-safe (one lock around each change)."""

    def __init__(
        self,
        clock: Clock,
        policies: AlertPolicyStore,
        channels: NotificationChannelStore,
        engine: TimeSeriesEngine,
        incidents: IncidentStore,
        notifier: Notifier | None = None,
        *,
        step: float = 60.0,
        max_steps: int = 60,
        interval: float = 10.0,
    ) -> None:
        self.clock = clock
        self.policies = policies
        self.channels = channels
        self.engine = engine
        self.incidents = incidents
        self.notifier = notifier
        self.step = step
        self.max_steps = max_steps
        self.interval = interval
        self._lock = threading.RLock()
        self._states: dict[tuple[str, str], ConditionState] = {}
        self._suppressed: set[tuple[str, str, str]] = set()  # auto-closed, until recovered
        self._last_grid: float | None = None
        self.not_evaluated: dict[str, list[dict[str, str]]] = {}
        """Policy name -> conditions the emulator does not evaluate (and why), as of the
        last tick."""
        self._notes: dict[str, list[dict[str, str]]] = {}
        self._logged: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the ticker -------------------------------------------------------------------

    def start(self) -> None:
        """Evaluate now, then in the background (every ``interval`` s, and on clock moves)."""
        if self.notifier is not None:
            self.notifier.start()
        self.tick()
        self._thread = threading.Thread(target=self._run, name="emulator-alerting", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None
        if self.notifier is not None:
            self.notifier.stop()
        self.incidents.close()

    def _run(self) -> None:
        offset = self.clock.offset_seconds
        last = time.monotonic()
        while not self._stop.wait(0.1):
            moved = self.clock.offset_seconds != offset
            due = self.interval > 0 and time.monotonic() - last >= self.interval
            if moved or due:
                offset = self.clock.offset_seconds
                last = time.monotonic()
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - keep evaluating on the next tick
                    _log.exception("alert evaluation failed")

    # -- evaluation -------------------------------------------------------------------

    def tick(self) -> dict[str, Any]:
        """Evaluate every enabled policy at each evaluation time due; returns a summary."""
        with self._lock:
            now = self.clock.now_ns() / 1e9
            grid = math.floor(now / self.step) * self.step
            if self._last_grid is None:
                times = [grid]
            else:
                count = round((grid - self._last_grid) / self.step)
                times = [grid - i * self.step for i in range(min(count, self.max_steps))][::-1]
            self._last_grid = grid
            policies = self.policies.all_policies()
            by_name = {p.name: p for p in policies}
            self._notes = {}
            for policy in policies:
                conditions = policy.body.get("conditions") or []
                skipped = _unevaluated(conditions, [_kind(c) for c in conditions])
                if policy.enabled and skipped:
                    self._note_not_evaluated(policy, skipped)
            opened = closed = 0
            open_now = self.incidents.open_incidents()
            for t in times:
                before = opened + closed
                reader = SeriesReader(self.engine)
                open_by_policy: dict[str, list[Incident]] = {}
                for incident in open_now:
                    open_by_policy.setdefault(incident.policy_name, []).append(incident)
                for policy in policies:
                    if policy.enabled:
                        o, c = self._evaluate_safely(
                            policy, t, reader, open_by_policy.get(policy.name, [])
                        )
                        opened += o
                        closed += c
                if opened + closed != before:
                    open_now = self.incidents.open_incidents()
            closed += self._close_stale(now, by_name)
            if times:
                self.not_evaluated = self._notes
            else:  # nothing was evaluated: keep the evaluation errors seen last time
                self.not_evaluated = {
                    **{k: v for k, v in self.not_evaluated.items() if k in by_name},
                    **self._notes,
                }
            live = {p.name for p in policies}
            self._states = {k: v for k, v in self._states.items() if k[0] in live}
            return {
                "now": now,
                "evaluatedAt": times,
                "policies": len(policies),
                "opened": opened,
                "closed": closed,
            }

    def _evaluate_safely(
        self, policy: StoredPolicy, t: float, reader: SeriesReader, open_incidents: list[Incident]
    ) -> tuple[int, int]:
        """``_evaluate``, where a policy the evaluator cannot handle never stops the others."""
        try:
            return self._evaluate(policy, t, reader, open_incidents)
        except Exception as error:  # noqa: BLE001 - reported per policy instead
            _log.exception("alert policy %s cannot be evaluated", policy.name)
            reason = f"evaluation failed: {type(error).__name__}: {error}"
            self._note_not_evaluated(policy, [{"condition": "", "kind": "", "reason": reason}])
            return 0, 0

    def _evaluate(
        self, policy: StoredPolicy, t: float, reader: SeriesReader, open_incidents: list[Incident]
    ) -> tuple[int, int]:
        body = policy.body
        conditions = body.get("conditions") or []
        kinds = [_kind(c) for c in conditions]
        if "conditionMatchedLog" in kinds:
            return 0, 0
        skipped = _unevaluated(conditions, kinds)
        if skipped and (len(skipped) == len(conditions) or body.get("combiner", "OR") != "OR"):
            return 0, 0
        open_keys: dict[str, set[str]] = {}
        for incident in open_incidents:
            open_keys.setdefault(incident.condition, set()).add(incident.key)
        verdicts: list[tuple[str, Verdict]] = []
        described: dict[str, dict[str, Any]] = {}
        for index, (condition, kind) in enumerate(zip(conditions, kinds, strict=True)):
            if kind not in _METRIC_KINDS:
                continue
            cid = _condition_id(condition, index)
            described[cid] = condition
            state = self._states.setdefault((policy.name, cid), ConditionState())
            try:
                if kind == "conditionThreshold":
                    verdict = evaluate_threshold(
                        reader, policy.project, condition, state, t, open_keys.get(cid, set())
                    )
                else:
                    verdict = evaluate_absent(reader, policy.project, condition, state, t)
            except ApiError as error:
                self._note_not_evaluated(
                    policy, [{"condition": cid, "kind": kind, "reason": error.message}]
                )
                return 0, 0
            verdicts.append((cid, verdict))
        active = _combine(body.get("combiner", "OR"), verdicts)
        keep = {(cid, key) for cid, v in verdicts for key in v.keep}
        opened = closed = 0
        current = {(i.condition, i.key): i for i in open_incidents}
        for (cid, key), series in active.items():
            if (cid, key) in current or (policy.name, cid, key) in self._suppressed:
                continue
            detail = describe(described[cid], series, policy.project)
            detail.update(policy=body, condition=described[cid])
            incident = self.incidents.open_incident(policy.project, policy.id, cid, key, t, detail)
            _log.info("incident %s opened for %s (%s)", incident.id, policy.name, key)
            self._notify(body, incident)
            opened += 1
        for (cid, key), incident in current.items():
            if (cid, key) not in active and (cid, key) not in keep:
                closed += self._close(incident, t, "recovered", body)
        self._suppressed = {
            s for s in self._suppressed if s[0] != policy.name or (s[1], s[2]) in active
        }
        return opened, closed

    def _close_stale(self, now: float, by_name: dict[str, StoredPolicy]) -> int:
        """Close incidents past their policy's autoClose, or of a deleted or disabled policy."""
        closed = 0
        for incident in self.incidents.open_incidents():
            policy = by_name.get(incident.policy_name)
            if policy is None or not policy.enabled:
                reason = "policy deleted" if policy is None else "policy disabled"
                closed += self._close(incident, now, reason, None)
                continue
            strategy = policy.body.get("alertStrategy") or {}
            auto_close = parse_duration(strategy.get("autoClose"), DEFAULT_AUTO_CLOSE)
            state = self._states.get((policy.name, incident.condition))
            last_data = max(
                incident.started_at, state.data_at.get(incident.key, 0.0) if state else 0.0
            )
            if now - last_data >= auto_close:
                closed += self._close(incident, last_data + auto_close, "autoClose", policy.body)
                self._suppressed.add((incident.policy_name, incident.condition, incident.key))
        return closed

    def _close(
        self, incident: Incident, ended_at: float, reason: str, policy: dict[str, Any] | None
    ) -> int:
        done = self.incidents.close_incident(incident.id, ended_at, reason)
        if done is None:
            return 0
        _log.info("incident %s closed (%s)", incident.id, reason)
        if policy is not None:
            self._notify(policy, done)
        return 1

    def _notify(self, policy: dict[str, Any], incident: Incident) -> None:
        if self.notifier is None:
            return
        prompts = (policy.get("alertStrategy") or {}).get("notificationPrompts")
        wanted = "OPENED" if incident.state == "open" else "CLOSED"
        if prompts and wanted not in prompts:
            return
        payload = incident_payload(incident, policy)
        for channel in self.channels.channels(policy.get("notificationChannels") or []):
            if channel.enabled:
                self.notifier.submit(channel, payload)

    def _note_not_evaluated(self, policy: StoredPolicy, items: list[dict[str, str]]) -> None:
        """Remember (for the incidents endpoint) and log once what is not evaluated."""
        for item in items:
            said = (policy.name, item["condition"], item["reason"])
            if said not in self._logged:
                self._logged.add(said)
                _log.warning(
                    "alert policy %s: condition %s is not evaluated (%s)",
                    policy.name,
                    item["condition"],
                    item["reason"],
                )
        notes = self._notes.setdefault(policy.name, [])
        notes.extend(item for item in items if item not in notes)

    # -- log-match conditions ----------------------------------------------------------

    def on_entries(self, entries: Sequence[PreparedEntry]) -> None:
        """Logging listener: stored entries may open log-match incidents (never raises: the
        entries are already stored, and the write must succeed)."""
        try:
            self._on_entries(entries)
        except Exception:  # noqa: BLE001
            _log.exception("log-match evaluation failed")

    def _on_entries(self, entries: Sequence[PreparedEntry]) -> None:
        by_parent: dict[str, list[PreparedEntry]] = {}
        for entry in entries:
            by_parent.setdefault(entry.parent, []).append(entry)
        for parent, group in by_parent.items():
            if not parent.startswith("projects/"):
                continue
            project = parent.removeprefix("projects/")
            policies = [
                p
                for p in self.policies.list_policies(project)
                if p.enabled
                and len(p.body.get("conditions") or []) == 1
                and "conditionMatchedLog" in p.body["conditions"][0]
            ]
            if policies:
                dicts = [entry_to_dict(LogEntryPb.FromString(e.blob)) for e in group]
                for policy in policies:
                    self._match_log(policy, dicts)

    def _match_log(self, policy: StoredPolicy, entries: list[dict[str, Any]]) -> None:
        condition = policy.body["conditions"][0]
        spec = condition["conditionMatchedLog"]
        try:
            matches = compile_filter(spec.get("filter", "")).matches
            extractors = {
                k: parse_extractor(v, f"labelExtractors.{k}")
                for k, v in (spec.get("labelExtractors") or {}).items()
            }
        except (FilterError, ApiError) as error:
            item = {
                "condition": _condition_id(condition, 0),
                "kind": "conditionMatchedLog",
                "reason": str(error),
            }
            with self._lock:
                self._note_not_evaluated(policy, [item])
                self.not_evaluated[policy.name] = self._notes[policy.name]
            return
        strategy = policy.body.get("alertStrategy") or {}
        period = parse_duration((strategy.get("notificationRateLimit") or {}).get("period"), 300.0)
        cid = _condition_id(condition, 0)
        for entry in entries:
            if not matches(entry):
                continue
            labels = {}
            for key, extract in extractors.items():
                value = extract(entry)
                labels[key] = "" if value is None else str(value)
            key = json.dumps(sorted(labels.items()), separators=(",", ":"))
            with self._lock:
                now = self.clock.now_ns() / 1e9
                if any(
                    i.key == key and i.policy_id == policy.id
                    for i in self.incidents.list_incidents(policy.project, "open")
                ):
                    continue
                today, last = self.incidents.started_since(policy.project, policy.id, now - 86400)
                if (last is not None and now - last < period) or today >= LOG_MATCH_DAILY_LIMIT:
                    continue
                resource = entry.get("resource") or {}
                title = policy.body.get("displayName", "")
                detail = {
                    "policy": policy.body,
                    "condition": condition,
                    "resource": {
                        "type": resource.get("type", ""),
                        "labels": resource.get("labels") or {},
                    },
                    "metric": {"type": "", "displayName": "", "labels": {}},
                    "extracted_labels": labels,
                    "summary": f"Log match condition fired for {title}.",
                    "summary_closed": f"Log match incident of {title} closed.",
                    "log_entry": {
                        "insertId": entry.get("insertId"),
                        "logName": entry.get("logName"),
                    },
                }
                incident = self.incidents.open_incident(
                    policy.project, policy.id, cid, key, now, detail
                )
                _log.info("log-match incident %s opened for %s", incident.id, policy.name)
                self._notify(policy.body, incident)

    # -- reading ----------------------------------------------------------------------

    def describe_project(self, project: str, state: str | None = None) -> dict[str, Any]:
        """The admin endpoint's answer: incidents of ``project`` and what is not evaluated."""
        prefix = f"projects/{project}/"
        return {
            "incidents": [i.as_json() for i in self.incidents.list_incidents(project, state)],
            "notEvaluated": [
                {"policy": name, **item}
                for name, items in sorted(self.not_evaluated.items())
                if name.startswith(prefix)
                for item in items
            ],
        }


def event_log_writer(logging_service: LoggingService, clock: Clock) -> Any:
    """A ``Notifier`` event log writing into the emulator's own Logging store."""

    def write(project: str, severity: str, payload: dict[str, Any]) -> None:
        ns = clock.now_ns()
        entry = {
            "logName": f"projects/{project}/logs/{EVENTS_LOG_ID}",
            "resource": {
                "type": "stackdriver_notification_channel",
                "labels": {
                    "project_id": project,
                    "channel_id": str(payload.get("notificationChannel", "")).rsplit("/", 1)[-1],
                },
            },
            "severity": severity,
            "jsonPayload": payload,
            "timestamp": format_timestamp(ns // 1_000_000_000, ns % 1_000_000_000),
        }
        request = _WriteRequestPb()
        json_format.ParseDict({"entries": [entry]}, request)
        logging_service.write(request)

    return write


def build_alerting(
    data_dir: Path,
    clock: Clock,
    policies: AlertPolicyStore,
    channels: NotificationChannelStore,
    engine: TimeSeriesEngine,
    logging_service: LoggingService,
) -> AlertEvaluator:
    """The evaluator of a server, its incident store and notifier, listening to Logging.

    ``COMPOSER_OBS_EMULATOR_ALERTING_INTERVAL`` (seconds of real time, default 10) sets how
    often the background ticker evaluates; 0 evaluates only when the clock is moved or on
    ``alerting:evaluate``. A threshold window is evaluated once, so points written later with
    older timestamps never count: a driver that writes such points (the demo's watchdog
    reports facts at their own time) sets 0 and moves the clock once they are in."""
    interval = float(os.environ.get("COMPOSER_OBS_EMULATOR_ALERTING_INTERVAL") or 10.0)
    notifier = Notifier(data_dir, event_log_writer(logging_service, clock))
    evaluator = AlertEvaluator(
        clock,
        policies,
        channels,
        engine,
        IncidentStore(data_dir / "incidents.db"),
        notifier,
        interval=interval,
    )
    logging_service.listeners.append(evaluator.on_entries)
    return evaluator
