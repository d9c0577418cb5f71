"""Aggregation groups and their timers, and the decision whether a group's state is news.

A group is the alerts of one route that share the route's ``group_by`` labels. Its timers are
Alertmanager's: the first flush ``group_wait`` after the group appears (at once if the alert
is older than that), then one every ``group_interval``. At a flush, a receiver is told only if
``needs_update`` says the firing/resolved sets changed since it was last told, or the last
notice is older than ``repeat_interval``. The groups, timers and the notification log are rows
in the database, so they survive restarts and are shared between replicas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, select, update

from observability.router.route import Route
from observability.router.store import Store, group_alerts, groups, notification_log


@dataclass(frozen=True)
class LogEntry:
    """What one integration was last told about one group (Alertmanager's nflog entry)."""

    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at: float


def group_id(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def needs_update(
    entry: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Alertmanager's DedupStage: is this flush worth a notice to this integration?"""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved: tell those who were told it fired (clears them); if nothing
        # was firing at the last notice, they never heard of these alerts.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.sent_at < now - repeat_interval


class Membership(NamedTuple):
    """An alert joining the group its labels select on a route (a tuple: a storm builds one
    per alert, and a frozen dataclass costs several times as much to build)."""

    route: Route
    labels: dict[str, str]
    fingerprint: str
    starts_at: float


def plan_groups(
    memberships: list[Membership], now: float
) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str]]]:
    """The group rows the memberships need (by id) and the (group id, fingerprint) pairs.

    A new group's first flush is ``group_wait`` away, or now if its alert is already older
    than that (Alertmanager's rule for late-arriving alerts). A storm puts many alerts into
    each group: a group's key and id are computed once per batch, not once per alert.
    """
    wanted: dict[str, dict[str, Any]] = {}
    members: set[tuple[str, str]] = set()
    named: dict[tuple[Route, tuple[tuple[str, str], ...]], tuple[str, str, dict[str, str]]] = {}
    for route, labels, fingerprint, starts_at in memberships:
        group_labels = route.group_labels(labels)
        seen = (route, tuple(group_labels.items()))
        if seen not in named:
            key = route.key_of_group(group_labels)
            named[seen] = (group_id(key), key, group_labels)
        gid, key, group_labels = named[seen]
        first_flush = now if starts_at + route.group_wait < now else now + route.group_wait
        if gid not in wanted or first_flush < wanted[gid]["next_flush_at"]:
            wanted[gid] = {
                "id": gid,
                "group_key": key,
                "route_id": route.id,
                "receiver": route.receiver,
                "labels": group_labels,
                "created_at": now,
                "next_flush_at": first_flush,
                "flushed_at": None,
            }
        members.add((gid, fingerprint))
    return wanted, members


def join_groups(
    connection: Connection, store: Store, memberships: list[Membership], now: float
) -> None:
    """Put alerts into their groups, creating groups (and their timers) that are new.

    A handful of statements for the whole batch, whatever its size: routing must keep up with
    ingest during a storm.
    """
    wanted, members = plan_groups(memberships, now)
    missing = set(wanted)
    while missing:
        connection.execute(
            store.insert(groups).on_conflict_do_nothing(index_elements=["id"]),
            [wanted[gid] for gid in sorted(missing)],
        )
        # Lock them, so that a replica flushing one cannot delete it under its new member.
        query = select(groups.c.id, groups.c.next_flush_at, groups.c.flushed_at).where(
            groups.c.id.in_(sorted(missing))
        )
        for row in connection.execute(store.lock(query)):
            missing.discard(row.id)
            earliest = wanted[row.id]["next_flush_at"]
            if row.flushed_at is None and row.next_flush_at > earliest:
                connection.execute(
                    update(groups).where(groups.c.id == row.id).values(next_flush_at=earliest)
                )
    if members:
        connection.execute(
            store.insert(group_alerts).on_conflict_do_nothing(
                index_elements=["group_id", "fingerprint"]
            ),
            [{"group_id": gid, "fingerprint": fp} for gid, fp in sorted(members)],
        )


def log_entries(connection: Connection, gids: list[str]) -> dict[str, dict[str, LogEntry]]:
    """The notification log of these groups, by group and integration (one read per batch)."""
    rows = connection.execute(select(notification_log).where(notification_log.c.group_id.in_(gids)))
    entries: dict[str, dict[str, LogEntry]] = {}
    for row in rows:
        entries.setdefault(row.group_id, {})[row.integration] = LogEntry(
            frozenset(row.firing), frozenset(row.resolved), row.sent_at
        )
    return entries


def write_log_entry(
    connection: Connection, store: Store, gid: str, integration: str, entry: LogEntry
) -> None:
    values = {
        "firing": sorted(entry.firing),
        "resolved": sorted(entry.resolved),
        "sent_at": entry.sent_at,
    }
    connection.execute(
        store.insert(notification_log)
        .values(group_id=gid, integration=integration, **values)
        .on_conflict_do_update(index_elements=["group_id", "integration"], set_=values)
    )


def remove_members(connection: Connection, gid: str, fingerprints: list[str]) -> None:
    if fingerprints:
        connection.execute(
            delete(group_alerts).where(
                group_alerts.c.group_id == gid, group_alerts.c.fingerprint.in_(fingerprints)
            )
        )


def delete_group(connection: Connection, gid: str) -> None:
    """Forget a group: it has no alerts left (or its route is gone)."""
    connection.execute(delete(group_alerts).where(group_alerts.c.group_id == gid))
    connection.execute(delete(notification_log).where(notification_log.c.group_id == gid))
    connection.execute(delete(groups).where(groups.c.id == gid))


def rearm(connection: Connection, timers: list[tuple[str, float]], flushed_at: float) -> None:
    """Set the next flush of these (group id, time) pairs: one statement for a flush batch."""
    if timers:
        connection.execute(
            update(groups)
            .where(groups.c.id == bindparam("gid"))
            .values(next_flush_at=bindparam("at"), flushed_at=flushed_at),
            [{"gid": gid, "at": at} for gid, at in timers],
        )
