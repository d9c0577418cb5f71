"""Storing alerts durably before answering, with group commit, and reading them back.

An alert is answered 2xx only once its transaction is committed (and, with SQLite's default
``synchronous=FULL``, on disk). Committing each request alone would cap ingest at the disk's
fsync rate, so requests hand their alerts to one writer thread that stores everything waiting
in one transaction: under load, one fsync covers hundreds of requests, each still answered only
after its own data is durable.

Merge rules: Cloud Monitoring sends each (incident_id, state) at least once, so a repeat is a
duplicate and changes nothing; a closed incident is final (a late or repeated ``open`` cannot
re-fire it). Alertmanager-style alerts follow Alertmanager: re-sending a firing alert extends
it; one that fires again after resolving starts a new episode.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import Connection, Row, select

from observability.router.alert import Alert
from observability.router.clock import Clock
from observability.router.store import Store, alerts, incident_events

log = logging.getLogger(__name__)

Outcome = Literal["stored", "duplicate", "stale"]
MAX_BATCH = 500


@dataclass(frozen=True)
class IncidentEvent:
    """One webhook delivery: the incident's state change, its alert and the raw body."""

    incident_id: str
    state: str
    alert: Alert
    payload: dict[str, Any]


@dataclass
class Submission:
    """What one request stores: an incident event or Alertmanager alerts; then its outcomes."""

    incident: IncidentEvent | None = None
    alerts: list[Alert] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class _Waiting:
    submission: Submission
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Outcome]]


def alert_from_row(row: Row[Any]) -> Alert:
    return Alert(
        fingerprint=row.fingerprint,
        labels=row.labels,
        annotations=row.annotations,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        updated_at=row.updated_at,
        generator_url=row.generator_url,
        incident_id=row.incident_id,
        incident_state=row.incident_state,
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
    """The group-commit writer: one thread, one transaction per batch of waiting requests."""

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

    async def submit_incident(self, event: IncidentEvent) -> Outcome:
        """Store one incident event; returns once it is committed."""
        outcomes = await self._submit(Submission(incident=event))
        return outcomes[0]

    async def submit_alerts(self, batch: list[Alert]) -> list[Outcome]:
        """Store Alertmanager-style alerts; returns once they are committed."""
        return await self._submit(Submission(alerts=batch))

    async def _submit(self, submission: Submission) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(submission, loop, loop.create_future())
        self._queue.put(waiting)
        return await waiting.future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            with self.store.write() as connection:
                write(connection, self.store, [w.submission for w in batch], self.clock.now())
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            log.error("storing %d requests failed: %s", len(batch), exc)
            for waiting in batch:
                waiting.loop.call_soon_threadsafe(_fail, waiting.future, exc)
            return
        for waiting in batch:
            waiting.loop.call_soon_threadsafe(_succeed, waiting.future, waiting.submission.outcomes)
        self.on_commit()


def _succeed(future: asyncio.Future[list[Outcome]], outcomes: list[Outcome]) -> None:
    if not future.done():
        future.set_result(outcomes)


def _fail(future: asyncio.Future[list[Outcome]], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)


def write(connection: Connection, store: Store, batch: Iterable[Submission], now: float) -> None:
    """Store one batch in the caller's transaction, filling each request's ``outcomes``."""
    batch = list(batch)
    events = {(r.incident.incident_id, r.incident.state): r.incident for r in batch if r.incident}
    new_events: set[tuple[str, str]] = set()
    if events:
        # executemany of one cached statement: a multi-row VALUES would be compiled anew for
        # every batch size, which costs more than the database work.
        inserted = connection.execute(
            store.insert(incident_events)
            .on_conflict_do_nothing(index_elements=["incident_id", "state"])
            .returning(incident_events.c.incident_id, incident_events.c.state),
            [
                {
                    "incident_id": event.incident_id,
                    "state": event.state,
                    "fingerprint": event.alert.fingerprint,
                    "received_at": now,
                    "outcome": "stored",
                    "payload": event.payload,
                }
                for event in events.values()
            ],
        )
        new_events = {(row.incident_id, row.state) for row in inserted}
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
    fingerprints = sorted({alert.fingerprint for _, alert in incoming})
    query = select(alerts).where(alerts.c.fingerprint.in_(fingerprints))
    current = {
        row.fingerprint: alert_from_row(row) for row in connection.execute(store.lock(query))
    }
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
    for incident_id, state in stale:
        connection.execute(
            incident_events.update()
            .where(incident_events.c.incident_id == incident_id, incident_events.c.state == state)
            .values(outcome="stale")
        )
    if changed:
        statement = store.insert(alerts)
        excluded = statement.excluded
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["fingerprint"],
                set_={name: excluded[name] for name in _UPSERTED},
            ),
            [_row(alert, now) for alert in changed.values()],
        )


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


def _row(alert: Alert, now: float) -> dict[str, Any]:
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
        "pending": alert.firing(now),
    }
