"""Storing ingest requests as alerts (``write``), and what a request stores (``Submission``).

``write`` stores a batch of requests in the caller's transaction: the journal applier calls it
with SQLite, after the requests were acknowledged from the journal (``journal``, ``applier``);
``AlertWriter`` calls it with PostgreSQL, before the answer, one group commit for every request
waiting at that moment.

Merge rules: Cloud Monitoring sends each (incident_id, state) at least once, so a repeat is a
duplicate and changes nothing; a closed incident is final (a late or repeated ``open`` cannot
re-fire it). Alertmanager-style alerts follow Alertmanager: re-sending a firing alert extends
it; one that fires again after resolving starts a new episode.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any, Literal

from pydantic import TypeAdapter
from sqlalchemy import Connection, Row, select

from observability.router.alert import Alert, PostableAlert, stored_labels
from observability.router.clock import Clock
from observability.router.config import RouterConfig
from observability.router.group import Membership, join_groups, plan_groups
from observability.router.incident import WebhookPayload, incident_alert
from observability.router.journal import CLOUD_MONITORING, JournalRecord
from observability.router.store import Store, alerts, incident_events
from observability.router.timestamps import EARLIEST, stored_time
from observability.router.waiters import Waiter, answer, take_waiting

log = logging.getLogger(__name__)

Outcome = Literal["stored", "duplicate", "stale"]
MAX_BATCH = 500
POSTABLE_ALERTS = TypeAdapter(list[PostableAlert])


@dataclass(frozen=True)
class IncidentEvent:
    """One webhook delivery: the incident's state change, its alert and the body as received.

    ``payload`` is the request body (JSON text), stored as is: validated, but not parsed into a
    model and dumped again, which cost as much as the rest of the request.
    """

    incident_id: str
    state: str
    alert: Alert
    payload: str


@dataclass
class Submission:
    """What one request stores: an incident event or Alertmanager alerts; then its outcomes."""

    incident: IncidentEvent | None = None
    alerts: list[Alert] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


class _Waiting(Waiter[list[Outcome]]):
    __slots__ = ("submission",)

    def __init__(self, submission: Submission) -> None:
        super().__init__()
        self.submission = submission


def incident_submission(payload: WebhookPayload, body: bytes, received_at: float) -> Submission:
    """What a Cloud Monitoring webhook stores: the incident event and its alert."""
    incident = payload.incident
    alert = incident_alert(incident, received_at)
    # The body as received (valid JSON: it was validated), undecoded bytes replaced.
    event = IncidentEvent(
        incident.incident_id, incident.state, alert, body.decode("utf-8", "replace")
    )
    return Submission(incident=event)


def alertmanager_submission(
    postable: list[PostableAlert], received_at: float, resolve_timeout: float
) -> Submission:
    """What ``POST /api/v2/alerts`` stores: its alerts, with Alertmanager's default times."""
    return Submission(alerts=[item.to_alert(received_at, resolve_timeout) for item in postable])


def record_submission(record: JournalRecord, resolve_timeout: float) -> Submission:
    """The submission of a journaled request (validated when accepted: this cannot fail
    unless the journal was written by a router whose schema differed)."""
    if record.source == CLOUD_MONITORING:
        payload = WebhookPayload.model_validate_json(record.body)
        return incident_submission(payload, record.body, record.received_at)
    postable = POSTABLE_ALERTS.validate_json(record.body)
    return alertmanager_submission(postable, record.received_at, resolve_timeout)


def json_text(values: dict[str, str]) -> str:
    """``json.dumps(values)`` exactly (how SQLAlchemy stores a JSON column) for a map of
    strings, such as labels and annotations, in about 60% of its time: two per alert."""
    pairs = [f"{_json_string(name)}: {_json_string(value)}" for name, value in values.items()]
    return "{" + ", ".join(pairs) + "}"


def alert_from_row(row: Row[Any]) -> Alert:
    """The stored alert, well-typed whatever the row holds (see ``stored_labels``): a row no
    ingest would write must not break the dispatch pass or a read of the API."""
    return stored_alert(
        row.fingerprint,
        row.labels,
        row.annotations,
        row.starts_at,
        row.ends_at,
        row.updated_at,
        row.generator_url,
        row.incident_id,
        row.incident_state,
    )


def stored_alert(
    fingerprint: str,
    labels: object,
    annotations: object,
    starts_at: object,
    ends_at: object,
    updated_at: object,
    generator_url: object,
    incident_id: str | None,
    incident_state: str | None,
) -> Alert:
    """An Alert from stored column values. A time that is no number reads as the epoch (an
    unknown ``ends_at`` as unset: the alert shows as firing rather than vanish)."""
    return Alert(  # by position: this runs for every firing alert at every flush
        fingerprint,
        stored_labels(labels),
        stored_labels(annotations),
        stored_time(starts_at, EARLIEST) or EARLIEST,
        None if ends_at is None else stored_time(ends_at, None),
        stored_time(updated_at, EARLIEST) or EARLIEST,
        generator_url if type(generator_url) is str else "",
        incident_id,
        incident_state,
    )


def merge(existing: Alert | None, incoming: Alert, now: float) -> Alert | None:
    """The alert to store when ``incoming`` meets ``existing``; None when it changes nothing."""
    if existing is None:
        return incoming
    if incoming.incident_state is not None:
        if existing.incident_state == "closed":
            return None
        return replace(
            incoming,
            labels={**existing.labels, **incoming.labels},
            annotations={**existing.annotations, **incoming.annotations},
            starts_at=existing.starts_at,
        )
    if existing.firing(now):
        return replace(incoming, starts_at=min(existing.starts_at, incoming.starts_at))
    return incoming


class AlertWriter:
    """The group-commit writer of a shared database (PostgreSQL): one thread, one transaction
    per batch of waiting requests, each answered once its transaction committed.

    Replicas on other machines cannot share a local journal, so with PostgreSQL each request
    is stored in the tables before its answer; new alerts are left ``pending`` for whichever
    replica's dispatcher claims them.
    """

    def __init__(self, store: Store, clock: Clock, on_commit: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    async def submit(self, submission: Submission) -> list[Outcome]:
        """Store one request's submission; its outcomes, once committed."""
        waiting = _Waiting(submission)
        self._queue.put(waiting)
        return await waiting.future

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            stop = self._commit(first)

    def _commit(self, first: _Waiting) -> bool:
        """Store ``first`` and whatever waits in one transaction; True: stop after."""
        batch = [first]
        stop = False
        try:
            with self.store.write() as connection:
                stop = take_waiting(self._queue, batch, MAX_BATCH)
                write(connection, self.store, [w.submission for w in batch], self.clock.now())
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            log.error("storing %d requests failed: %s", len(batch), exc)
            answer(batch, exc, _outcomes)
            return stop
        answer(batch, None, _outcomes)
        self.on_commit()
        return stop


def _outcomes(waiting: _Waiting) -> list[Outcome]:
    return waiting.submission.outcomes


def write_routed(
    connection: Connection,
    store: Store,
    batch: Iterable[Submission],
    now: float,
    config: RouterConfig,
) -> bool:
    """``write`` for the database's only writer, routing as it stores; True if the database
    is routed by another configuration than ``config`` (the alerts are then left pending).

    The configuration is checked under the write lock: a reload that swaps it marks every
    alert for routing again after this transaction, never before.
    """
    if not store.routes_with(connection, config.digest):
        write(connection, store, batch, now)
        return True
    write(connection, store, batch, now, config)
    return False


def write(
    connection: Connection,
    store: Store,
    batch: Iterable[Submission],
    now: float,
    config: RouterConfig | None = None,
) -> None:
    """Store one batch in the caller's transaction, filling each request's ``outcomes``.

    With ``config``, the alerts that (re)start firing are routed into their groups here too,
    and stored as already routed: with SQLite's single writer this saves the dispatcher a
    write transaction that reads them all back (which competed with ingest for the lock).
    Without it (PostgreSQL, where replicas claim that work), they are left ``pending``.
    """
    ops: _Ops = _SqliteOps(connection) if store.dialect == "sqlite" else _CoreOps(connection, store)
    batch = list(batch)
    # The first copy of an incident state in the batch is the one stored (its event and its
    # alert); later copies are duplicates, as they would be in later batches.
    events: dict[tuple[str, str], IncidentEvent] = {}
    for request in batch:
        if request.incident:
            key = (request.incident.incident_id, request.incident.state)
            events.setdefault(key, request.incident)
    new_events = ops.insert_events(list(events.values()), now) if events else set()
    incoming: list[tuple[Submission, Alert]] = []
    for request in batch:
        if request.incident:
            key = (request.incident.incident_id, request.incident.state)
            if key in new_events:
                new_events.discard(key)  # a second copy in this batch is a duplicate
                incoming.append((request, request.incident.alert))
            else:
                request.outcomes.append("duplicate")
        incoming.extend((request, alert) for alert in request.alerts)
    if not incoming:
        return
    current = ops.load(sorted({alert.fingerprint for _, alert in incoming}))
    changed: dict[str, Alert] = {}
    for request, alert in incoming:
        merged = merge(current.get(alert.fingerprint), alert, now)
        if merged is None:
            request.outcomes.append("stale")
            continue
        current[alert.fingerprint] = changed[alert.fingerprint] = merged
        request.outcomes.append("stored")
    stale = [
        (r.incident.incident_id, r.incident.state)
        for r in batch
        if r.incident and r.outcomes and r.outcomes[0] == "stale"
    ]
    if stale:
        ops.mark_stale(stale)
    if not changed:
        return
    if config is None:
        ops.upsert(list(changed.values()), now, routed=False)
        return
    memberships = [
        Membership(route, alert.labels, alert.fingerprint, alert.starts_at)
        for alert in changed.values()
        if alert.firing(now)
        for route in config.route.match(alert.labels)
    ]
    ops.upsert(list(changed.values()), now, routed=True)
    if memberships:
        ops.join_groups(memberships, now)


class _Ops:
    """The four statements of a write, per database."""

    def insert_events(self, events: list[IncidentEvent], now: float) -> set[tuple[str, str]]:
        """Insert the events that are new; their (incident_id, state) keys."""
        raise NotImplementedError

    def load(self, fingerprints: list[str]) -> dict[str, Alert]:
        """The stored alerts with these fingerprints (locked for this transaction)."""
        raise NotImplementedError

    def mark_stale(self, keys: list[tuple[str, str]]) -> None:
        raise NotImplementedError

    def upsert(self, changed: list[Alert], now: float, routed: bool) -> None:
        """Store the alerts as of ``now``: firing ones ``pending`` unless already ``routed``."""
        raise NotImplementedError

    def join_groups(self, memberships: list[Membership], now: float) -> None:
        raise NotImplementedError


class _CoreOps(_Ops):
    """SQLAlchemy Core: PostgreSQL (rows locked with ``FOR UPDATE`` against other replicas)."""

    def __init__(self, connection: Connection, store: Store) -> None:
        self.connection = connection
        self.store = store

    def insert_events(self, events: list[IncidentEvent], now: float) -> set[tuple[str, str]]:
        # executemany of one cached statement: a multi-row VALUES would be compiled anew for
        # every batch size, which costs more than the database work.
        inserted = self.connection.execute(
            self.store.insert(incident_events)
            .on_conflict_do_nothing(index_elements=["incident_id", "state"])
            .returning(incident_events.c.incident_id, incident_events.c.state),
            [
                {
                    "incident_id": event.incident_id,
                    "state": event.state,
                    "fingerprint": event.alert.fingerprint,
                    "received_at": now,
                    "outcome": "stored",
                    "payload": json.loads(event.payload),
                }
                for event in events
            ],
        )
        return {(row.incident_id, row.state) for row in inserted}

    def load(self, fingerprints: list[str]) -> dict[str, Alert]:
        query = select(alerts).where(alerts.c.fingerprint.in_(fingerprints))
        return {
            row.fingerprint: alert_from_row(row)
            for row in self.connection.execute(self.store.lock(query))
        }

    def mark_stale(self, keys: list[tuple[str, str]]) -> None:
        for incident_id, state in keys:
            self.connection.execute(
                incident_events.update()
                .where(
                    incident_events.c.incident_id == incident_id, incident_events.c.state == state
                )
                .values(outcome="stale")
            )

    def join_groups(self, memberships: list[Membership], now: float) -> None:
        join_groups(self.connection, self.store, memberships, now)

    def upsert(self, changed: list[Alert], now: float, routed: bool) -> None:
        statement = self.store.insert(alerts)
        excluded = statement.excluded
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=["fingerprint"],
                set_={name: excluded[name] for name in _UPSERTED},
            ),
            [_row(alert, now, routed) for alert in changed],
        )


_SQLITE_EVENTS_OF = (
    "SELECT incident_id, state FROM incident_events"
    " WHERE incident_id IN (SELECT value FROM json_each(?))"
)
_SQLITE_INSERT_EVENT = (
    "INSERT INTO incident_events (incident_id, state, fingerprint, received_at, outcome, payload)"
    " VALUES (?, ?, ?, ?, 'stored', ?) ON CONFLICT (incident_id, state) DO NOTHING"
)
_SQLITE_LOAD = (
    "SELECT fingerprint, labels, annotations, starts_at, ends_at, updated_at, generator_url,"
    " incident_id, incident_state FROM alerts"
    " WHERE fingerprint IN (SELECT value FROM json_each(?))"
)
_SQLITE_GROUPS = (
    "SELECT id, next_flush_at, flushed_at FROM alert_groups"
    " WHERE id IN (SELECT value FROM json_each(?))"
)
_SQLITE_NEW_GROUP = (
    "INSERT INTO alert_groups"
    " (id, group_key, route_id, receiver, labels, created_at, next_flush_at, flushed_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING"
)
_SQLITE_EARLIER = "UPDATE alert_groups SET next_flush_at = ? WHERE id = ?"
_SQLITE_MEMBER = (
    "INSERT INTO group_alerts (group_id, fingerprint) VALUES (?, ?)"
    " ON CONFLICT (group_id, fingerprint) DO NOTHING"
)
_SQLITE_STALE = "UPDATE incident_events SET outcome = 'stale' WHERE incident_id = ? AND state = ?"


class _SqliteOps(_Ops):
    """The DB-API driver directly, with fixed statement texts that sqlite3 keeps prepared.

    The write path of every ingest request: going through SQLAlchemy (statement construction,
    cache keys, per-row parameter processing) cost several times the database work in profiles.
    Values are stored as SQLAlchemy stores them (JSON as text, booleans as 0/1), so every other
    reader keeps using the tables through SQLAlchemy.
    """

    def __init__(self, connection: Connection) -> None:
        self.cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def insert_events(self, events: list[IncidentEvent], now: float) -> set[tuple[str, str]]:
        # The events stored already, in one query, then one executemany: an INSERT each, to
        # learn from its rowcount whether it was new, cost more than the database work. The
        # only writer holds the write lock, and ``events`` has one event per key, so none of
        # these conflicts; ON CONFLICT keeps a broken assumption from failing the batch.
        incident_ids = json.dumps([event.incident_id for event in events])
        stored = set(self.cursor.execute(_SQLITE_EVENTS_OF, (incident_ids,)).fetchall())
        new = [event for event in events if (event.incident_id, event.state) not in stored]
        self.cursor.executemany(
            _SQLITE_INSERT_EVENT,
            (
                (event.incident_id, event.state, event.alert.fingerprint, now, event.payload)
                for event in new
            ),
        )
        return {(event.incident_id, event.state) for event in new}

    def load(self, fingerprints: list[str]) -> dict[str, Alert]:
        found: dict[str, Alert] = {}
        for row in self.cursor.execute(_SQLITE_LOAD, (json.dumps(fingerprints),)):
            found[row[0]] = stored_alert(
                row[0], *(_json_or_none(text) for text in row[1:3]), *row[3:]
            )
        return found

    def mark_stale(self, keys: list[tuple[str, str]]) -> None:
        self.cursor.executemany(_SQLITE_STALE, keys)

    def join_groups(self, memberships: list[Membership], now: float) -> None:
        """``group.join_groups`` for the only writer: existing groups are looked up first, so
        a storm into a few hundred groups inserts only its new members."""
        wanted, members = plan_groups(memberships, now)
        earlier: list[tuple[float, str]] = []
        for gid, next_flush_at, flushed_at in self.cursor.execute(
            _SQLITE_GROUPS, (json.dumps(sorted(wanted)),)
        ).fetchall():
            group = wanted.pop(gid)
            if flushed_at is None and next_flush_at > group["next_flush_at"]:
                earlier.append((group["next_flush_at"], gid))
        if earlier:
            self.cursor.executemany(_SQLITE_EARLIER, earlier)
        if wanted:
            self.cursor.executemany(
                _SQLITE_NEW_GROUP,
                [
                    (
                        gid,
                        group["group_key"],
                        group["route_id"],
                        group["receiver"],
                        json_text(group["labels"]),
                        group["created_at"],
                        group["next_flush_at"],
                    )
                    for gid, group in sorted(wanted.items())
                ],
            )
        self.cursor.executemany(_SQLITE_MEMBER, sorted(members))

    def upsert(self, changed: list[Alert], now: float, routed: bool) -> None:
        # The parameters in ``_COLUMNS`` order, built directly (no row dict per alert) and
        # as sqlite3 takes them: thousands of live tuples would only make work for the GC.
        self.cursor.executemany(
            _SQLITE_UPSERT,
            (
                (
                    alert.fingerprint,
                    json_text(alert.labels),
                    json_text(alert.annotations),
                    alert.starts_at,
                    alert.ends_at,
                    now,
                    alert.generator_url,
                    alert.incident_id,
                    alert.incident_state,
                    not routed and alert.firing(now),
                )
                for alert in changed
            ),
        )


def _json_or_none(text: str) -> Any:
    """A JSON column's text decoded; None if it is not JSON (``stored_labels`` makes it {})."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


_UPSERTED = (
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "updated_at",
    "generator_url",
    "incident_id",
    "incident_state",
    "pending",
)


_COLUMNS = ("fingerprint", *_UPSERTED)
_SQLITE_UPSERT = (
    f"INSERT INTO alerts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
    " ON CONFLICT (fingerprint) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _UPSERTED)
)


def _row(alert: Alert, now: float, routed: bool) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "updated_at": now,
        "generator_url": alert.generator_url,
        "incident_id": alert.incident_id,
        "incident_state": alert.incident_state,
        "pending": not routed and alert.firing(now),
    }
