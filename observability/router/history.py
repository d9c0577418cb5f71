"""What happened, for people: the audit log and the history of one incident.

An incident's history answers the on-call question "did anyone get told?": every webhook
Monitoring sent for it (with the outcome: stored, duplicate, stale), every notice that
included its alert and what became of it (pending with its last error, delivered, dead), and
every time the dispatcher had to set its alert aside.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from observability.router.alert_store import alert_from_row
from observability.router.notice import Notice
from observability.router.store import (
    Store,
    alerts,
    audit_log,
    dead_letters,
    deliveries,
    dispatch_failures,
    incident_events,
    notice_alerts,
    outbox,
    rejected_requests,
)
from observability.router.timestamps import iso


def record_audit(
    connection: Connection, now: float, actor: str, action: str, subject: str, detail: dict
) -> None:
    """Append to the audit log (silences created and expired, configuration reloads)."""
    connection.execute(
        audit_log.insert().values(
            at=now, actor=actor, action=action, subject=subject, detail=detail
        )
    )


ERROR_LIMIT = 500


def record_dispatch_failure(
    connection: Connection,
    store: Store,
    fingerprints: list[str],
    stage: str,
    group_key: str,
    error: BaseException,
    now: float,
) -> None:
    """Note that the dispatcher set these alerts aside (``stage``: route or flush), in the
    caller's transaction: their incidents' history shows it, with the error."""
    text = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    statement = store.insert(dispatch_failures)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["fingerprint", "stage", "group_key"],
            set_={
                "error": statement.excluded.error,
                "last_at": statement.excluded.last_at,
                "attempts": dispatch_failures.c.attempts + 1,
            },
        ),
        [
            {
                "fingerprint": fingerprint,
                "stage": stage,
                "group_key": group_key,
                "error": text,
                "first_at": now,
                "last_at": now,
                "attempts": 1,
            }
            for fingerprint in sorted(set(fingerprints))
        ],
    )


def audit_entries(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    return [
        {
            "at": iso(row.at),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "detail": row.detail,
        }
        for row in connection.execute(query)
    ]


def incident_history(connection: Connection, incident_id: str) -> dict[str, Any] | None:
    """The incident's events, its alert and every notice about it; None if never seen."""
    events = connection.execute(
        select(incident_events)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.id)
    ).all()
    if not events:
        return None
    fingerprint = events[0].fingerprint
    row = connection.execute(select(alerts).where(alerts.c.fingerprint == fingerprint)).first()
    alert = None if row is None else alert_from_row(row)
    notice_ids = [
        row.notice_id
        for row in connection.execute(
            select(notice_alerts.c.notice_id).where(notice_alerts.c.fingerprint == fingerprint)
        )
    ]
    return {
        "incident_id": incident_id,
        "fingerprint": fingerprint,
        "alert": None
        if alert is None
        else {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": iso(alert.starts_at),
            "endsAt": iso(alert.ends_at),
            "state": alert.incident_state,
        },
        "events": [
            {"state": row.state, "receivedAt": iso(row.received_at), "outcome": row.outcome}
            for row in events
        ],
        "notifications": notifications(connection, notice_ids),
        "dispatchFailures": [
            {
                "stage": row.stage,
                "groupKey": row.group_key,
                "error": row.error,
                "firstAt": iso(row.first_at),
                "lastAt": iso(row.last_at),
                "attempts": row.attempts,
            }
            for row in connection.execute(
                select(dispatch_failures)
                .where(dispatch_failures.c.fingerprint == fingerprint)
                .order_by(dispatch_failures.c.first_at)
            )
        ],
    }


def notifications(connection: Connection, notice_ids: list[str]) -> list[dict[str, Any]]:
    """Every notice in ``notice_ids``: pending in the outbox, delivered, or dead."""
    if not notice_ids:
        return []
    found: list[dict[str, Any]] = []
    for row in connection.execute(select(deliveries).where(deliveries.c.notice_id.in_(notice_ids))):
        found.append(
            {
                "noticeId": row.notice_id,
                "receiver": row.receiver,
                "integration": row.integration,
                "status": row.status,
                "outcome": row.outcome,
                "attempts": row.attempts,
                "createdAt": iso(row.created_at),
                "finishedAt": iso(row.finished_at),
                "reason": row.reason,
                "error": row.error,
            }
        )
    for row in connection.execute(select(outbox).where(outbox.c.notice_id.in_(notice_ids))):
        found.append(
            {
                "noticeId": row.notice_id,
                "receiver": row.receiver,
                "integration": row.integration,
                "status": Notice.from_json(row.notice).status,
                "outcome": "pending",
                "attempts": row.attempts,
                "createdAt": iso(row.created_at),
                "nextAttemptAt": iso(row.next_attempt_at),
                "reason": row.last_reason,
                "error": row.last_error,
            }
        )
    return sorted(found, key=lambda item: item["createdAt"] or "")


def dead_letter_list(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    return [
        {
            "id": row.id,
            "noticeId": row.notice_id,
            "receiver": row.receiver,
            "integration": row.integration,
            "groupKey": row.group_key,
            "attempts": row.attempts,
            "reason": row.reason,
            "error": row.error,
            "createdAt": iso(row.created_at),
            "deadAt": iso(row.dead_at),
            "notice": row.notice,
        }
        for row in connection.execute(query)
    ]


def rejected_request_list(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Journaled requests that could not be stored, newest first, each with its body (as
    received: an operator can fix and post it again) and why it was kept aside."""
    query = select(rejected_requests).order_by(rejected_requests.c.id.desc()).limit(limit)
    return [
        {
            "id": row.id,
            "source": row.source,
            "receivedAt": iso(row.received_at),
            "rejectedAt": iso(row.rejected_at),
            "error": row.error,
            "body": row.body,
        }
        for row in connection.execute(query)
    ]
