"""The dispatcher: from stored alerts to notices in the outbox, on the groups' timers.

Each pass does two things, each in short write transactions:

1. **Route** alerts that (re)started firing: walk the route tree and add them to their groups
   (creating groups and their ``group_wait`` timers).
2. **Flush** groups whose timer is due, with Alertmanager's pipeline per group: mute the whole
   group outside its active / inside its mute time intervals; drop alerts that are inhibited
   or silenced; for each integration, ask the notification log whether this is news
   (``group.needs_update``) and if so enqueue a notice; forget alerts whose resolve was
   handled; re-arm the timer (``group_interval``) or delete the emptied group.

One alert or group can never stop the others: an alert that cannot be routed, or a group
whose flush fails (its changes rolled back to a savepoint), is set aside, counted in
``dispatch_failures`` and recorded in its incidents' history; the group is tried again after
``FAILED_GROUP_RETRY``. A pass that fails as a whole is the runtime's to report
(``dispatch_health``).

Groups are claimed with ``SKIP LOCKED`` on PostgreSQL, so replicas split the work; the notice
and the log entry that justifies it commit together, so nothing is decided twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Select, or_, select, true, update

from observability.router.alert import Alert, stored_labels
from observability.router.alert_store import alert_from_row
from observability.router.clock import Clock
from observability.router.config import RouterConfig
from observability.router.group import (
    LogEntry,
    Membership,
    delete_group,
    join_groups,
    log_entries,
    needs_update,
    rearm,
    remove_members,
    write_log_entry,
)
from observability.router.history import record_dispatch_failure
from observability.router.inhibit import Inhibitor
from observability.router.metrics import RouterMetrics
from observability.router.notice import Notice
from observability.router.outbox import enqueue
from observability.router.route import Route
from observability.router.silence import Silence, active_silences
from observability.router.store import Store, alerts, group_alerts, groups
from observability.router.timeinterval import active

log = logging.getLogger(__name__)

ROUTE_BATCH = 1000
FLUSH_BATCH = 50
MAX_FLUSH_BATCHES = 20
FAILED_GROUP_RETRY = 30.0
"""Seconds before a group whose flush failed is tried again."""


class FiringLabels(NamedTuple):
    """The part of a firing alert that inhibition reads."""

    fingerprint: str
    labels: dict[str, str]


@dataclass
class Muting:
    """Why alerts are muted right now: the inhibitor and the active silences."""

    inhibitor: Inhibitor
    silences: list[Silence]

    def silenced_by(self, alert: Alert, now: float) -> list[str]:
        return [silence.id for silence in self.silences if silence.mutes(alert.labels, now)]

    def muted(self, alert: Alert, now: float) -> bool:
        return bool(
            self.inhibitor.inhibited_by(alert.labels, alert.fingerprint)
            or self.silenced_by(alert, now)
        )


def current_muting(connection: Connection, config: RouterConfig, now: float) -> Muting:
    """Inhibitions and silences as they stand at ``now``.

    The inhibitor needs every firing alert: without inhibit rules they are not read at all,
    and with rules only their fingerprints and labels (the whole rows, decoded at every flush,
    were most of a storm's flush CPU).
    """
    firing: list[FiringLabels] = []
    if config.inhibit_rules:
        query = select(alerts.c.fingerprint, alerts.c.labels).where(
            or_(alerts.c.ends_at.is_(None), alerts.c.ends_at > now)
        )
        firing = [
            FiringLabels(row.fingerprint, stored_labels(row.labels))
            for row in connection.execute(query)
        ]
    return Muting(Inhibitor(config.inhibit_rules, firing), active_silences(connection, now))


def time_muted(route: Route, config: RouterConfig, now: float) -> bool:
    """Whether the route is inside a mute interval or outside all of its active intervals."""
    if any(active(config.time_intervals[name], now) for name in route.mute_time_intervals):
        return True
    return bool(route.active_time_intervals) and not any(
        active(config.time_intervals[name], now) for name in route.active_time_intervals
    )


def _memberships(alert: Alert, config: RouterConfig, now: float) -> list[Membership]:
    """The groups a pending alert joins: none once it stopped firing."""
    if not alert.firing(now):
        return []
    return [
        Membership(route, alert.labels, alert.fingerprint, alert.starts_at)
        for route in config.route.match(alert.labels)
    ]


def mark_firing_pending(connection: Connection, now: float) -> None:
    """Have every firing alert routed again (after a configuration change, as Alertmanager)."""
    connection.execute(
        update(alerts)
        .where(or_(alerts.c.ends_at.is_(None), alerts.c.ends_at > now))
        .values(pending=True)
    )


def _members(connection: Connection, gids: list[str]) -> dict[str, list[Alert]]:
    """The alerts of each of these groups, oldest first: one read for a whole batch of due
    groups (a read per group was a third of the flush's CPU), each alert decoded once."""
    query = (
        select(group_alerts.c.group_id, alerts)
        .join(alerts, group_alerts.c.fingerprint == alerts.c.fingerprint)
        .where(group_alerts.c.group_id.in_(gids))
        .order_by(alerts.c.starts_at, alerts.c.fingerprint)
    )
    decoded: dict[str, Alert] = {}
    members: dict[str, list[Alert]] = {}
    for row in connection.execute(query):
        alert = decoded.get(row.fingerprint)
        if alert is None:
            alert = decoded[row.fingerprint] = alert_from_row(row)
        members.setdefault(row.group_id, []).append(alert)
    return members


@dataclass
class PassReport:
    routed: int = 0
    flushed: int = 0
    notices: list[Notice] = field(default_factory=list)
    config_stale: bool = False

    @property
    def busy(self) -> bool:
        """Whether the pass stopped at a batch limit, so more work is probably waiting."""
        return self.routed >= ROUTE_BATCH or self.flushed >= FLUSH_BATCH * MAX_FLUSH_BATCHES


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: Callable[[], RouterConfig],
        metrics: RouterMetrics,
        external_url: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self._config = config
        self.metrics = metrics
        self.external_url = external_url

    def run_once(self) -> PassReport:
        """Route one batch of pending alerts, then flush the due groups.

        Bounded on purpose: during a storm alerts keep arriving, and a pass that routed until
        nothing was pending would never get to flush (the loop calls again at once when
        ``report.busy``).
        """
        report = PassReport()
        config = self._config()
        routed = self.route_pending(config)
        report.routed, report.config_stale = max(routed, 0), routed < 0
        for _ in range(MAX_FLUSH_BATCHES):
            flushed, notices = self.flush_due(config)
            report.flushed += flushed
            report.notices.extend(notices)
            if flushed < FLUSH_BATCH:
                break
        return report

    def next_due(self) -> float | None:
        """When the earliest group timer fires (None: no groups)."""
        with self.store.read() as connection:
            value = connection.execute(
                select(groups.c.next_flush_at).order_by(groups.c.next_flush_at).limit(1)
            ).scalar()
        return None if value is None else float(value)

    def reroute_all(self) -> None:
        """After a configuration change: route every firing alert again (as Alertmanager does)."""
        with self.store.write() as connection:
            mark_firing_pending(connection, self.clock.now())

    def _any(self, query: Select[Any]) -> bool:
        """Whether ``query`` finds a row, asked without taking the write lock."""
        with self.store.read() as connection:
            return connection.execute(query.limit(1)).first() is not None

    def route_pending(self, config: RouterConfig) -> int:
        """Route one batch of pending alerts; how many, or -1 if ``config`` is not the active
        one (another process reloaded first: this one must reload before routing)."""
        if not self._any(select(alerts.c.fingerprint).where(alerts.c.pending == true())):
            return 0
        with self.store.write() as connection:
            if not self.store.routes_with(connection, config.digest):
                return -1
            now = self.clock.now()
            query = select(alerts).where(alerts.c.pending == true()).limit(ROUTE_BATCH)
            rows = connection.execute(self.store.claim(query, of=alerts)).all()
            memberships: list[Membership] = []
            for row in rows:
                try:
                    memberships.extend(_memberships(alert_from_row(row), config, now))
                except Exception as exc:  # noqa: BLE001 - one alert must not stop the others
                    self._set_aside(connection, [row.fingerprint], "route", "", exc, now)
            join_groups(connection, self.store, memberships, now)
            if rows:
                connection.execute(
                    update(alerts)
                    .where(alerts.c.fingerprint.in_([row.fingerprint for row in rows]))
                    .values(pending=False)
                )
        return len(rows)

    def flush_due(self, config: RouterConfig) -> tuple[int, list[Notice]]:
        notices: list[Notice] = []
        if not self._any(select(groups.c.id).where(groups.c.next_flush_at <= self.clock.now())):
            return 0, notices
        with self.store.write() as connection:
            now = self.clock.now()
            query = (
                select(groups)
                .where(groups.c.next_flush_at <= now)
                .order_by(groups.c.next_flush_at)
                .limit(FLUSH_BATCH)
            )
            due = connection.execute(self.store.claim(query, of=groups)).all()
            if not due:
                return 0, notices
            muting = current_muting(connection, config, now)
            gids = [group.id for group in due]
            members = _members(connection, gids)
            entries = log_entries(connection, gids)
            timers: list[tuple[str, float]] = []
            for group in due:
                try:
                    with connection.begin_nested():
                        flushed, next_flush_at = self._flush(
                            connection,
                            config,
                            group,
                            members.get(group.id, []),
                            entries.get(group.id, {}),
                            muting,
                            now,
                        )
                except Exception as exc:  # noqa: BLE001 - one group must not stop the others
                    self._flush_failed(connection, group, exc, now)
                    continue
                notices.extend(flushed)
                if next_flush_at is not None:
                    timers.append((group.id, next_flush_at))
            # the groups kept are re-armed together, in the transaction of their notices
            rearm(connection, timers, now)
        for notice in notices:
            self.metrics.notices_enqueued.labels(notice.receiver).inc()
        return len(due), notices

    def _flush(
        self,
        connection: Connection,
        config: RouterConfig,
        group: Row,
        members: list[Alert],
        entries: dict[str, LogEntry],
        muting: Muting,
        now: float,
    ) -> tuple[list[Notice], float | None]:
        """The group's notices, and when it flushes next (None: it was deleted)."""
        route = config.routes_by_id.get(group.route_id)
        receiver = config.receivers.get(group.receiver)
        if route is None or receiver is None or route.receiver != group.receiver:
            # The configuration changed under this group: its alerts go where it now says.
            self._reroute(connection, members, now)
            delete_group(connection, group.id)
            return [], None
        resolved_members = [alert.fingerprint for alert in members if not alert.firing(now)]
        notices: list[Notice] = []
        visible = (
            []
            if time_muted(route, config, now)
            else [alert for alert in members if not muting.muted(alert, now)]
        )
        if visible:  # with nothing left to say, the log stays as it was (as in Alertmanager)
            firing = {alert.fingerprint for alert in visible if alert.firing(now)}
            resolved = {alert.fingerprint for alert in visible if not alert.firing(now)}
            for integration in receiver.integrations:
                if not needs_update(
                    entries.get(integration.key),
                    firing,
                    resolved,
                    integration.send_resolved,
                    route.repeat_interval,
                    now,
                ):
                    continue
                told = [a for a in visible if a.firing(now) or integration.send_resolved]
                if told:
                    notice = Notice(
                        id=str(uuid.uuid4()),
                        receiver=receiver.name,
                        group_key=group.group_key,
                        group_labels=stored_labels(group.labels),
                        alerts=[alert.to_api(now) for alert in told],
                        external_url=self.external_url,
                        created_at=now,
                    )
                    enqueue(connection, self.store, notice, integration.key, group.id, now)
                    notices.append(notice)
                write_log_entry(
                    connection,
                    self.store,
                    group.id,
                    integration.key,
                    LogEntry(frozenset(firing), frozenset(resolved), now),
                )
        remove_members(connection, group.id, resolved_members)
        if len(resolved_members) == len(members):
            delete_group(connection, group.id)
            return notices, None
        return notices, now + route.group_interval

    def _set_aside(
        self,
        connection: Connection,
        fingerprints: list[str],
        stage: str,
        group_key: str,
        error: Exception,
        now: float,
    ) -> None:
        """Count, log and record (in the incidents' history) alerts the pass had to skip."""
        self.metrics.dispatch_failures.labels(stage).inc()
        log.error(
            "dispatch: %s failed for %d alerts (set aside, the others go on): %s: %s",
            stage,
            len(fingerprints),
            type(error).__name__,
            error,
        )
        if fingerprints:
            record_dispatch_failure(
                connection, self.store, fingerprints, stage, group_key, error, now
            )

    def _flush_failed(
        self, connection: Connection, group: Row, error: Exception, now: float
    ) -> None:
        """A group whose flush failed (its changes rolled back) is tried again after
        FAILED_GROUP_RETRY, not at every pass; the others are flushed meanwhile."""
        members = [
            row.fingerprint
            for row in connection.execute(
                select(group_alerts.c.fingerprint).where(group_alerts.c.group_id == group.id)
            )
        ]
        self._set_aside(connection, members, "flush", group.group_key, error, now)
        connection.execute(
            update(groups)
            .where(groups.c.id == group.id)
            .values(next_flush_at=now + FAILED_GROUP_RETRY)
        )

    def _reroute(self, connection: Connection, members: list[Alert], now: float) -> None:
        firing = [alert.fingerprint for alert in members if alert.firing(now)]
        if firing:
            connection.execute(
                update(alerts).where(alerts.c.fingerprint.in_(firing)).values(pending=True)
            )
