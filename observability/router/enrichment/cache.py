"""Causes per incident in the router's database (SQLite or PostgreSQL, the ``causes`` table),
and the incident payload they are looked up from (``incident_events``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from observability.router.enrichment.cause import Cause
from observability.router.store import Store, causes, incident_events

NOT_ENRICHABLE: dict[str, Any] = {}
"""Stored for an incident whose condition is not on logs: known, nothing to show."""


class CauseCache:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> tuple[bool, Cause | None]:
        """(known, cause): known is False when the incident was never looked up."""
        with self.store.read() as connection:
            row = connection.execute(
                select(causes.c.cause).where(causes.c.incident_key == key)
            ).first()
        if row is None:
            return False, None
        if not row.cause:
            return True, None
        return True, Cause.model_validate(row.cause)

    def put(self, key: str, cause: Cause | None, now: float) -> None:
        """Record the cause; the first record of an incident wins (replicas may race)."""
        value = cause.model_dump(mode="json") if cause is not None else NOT_ENRICHABLE
        with self.store.write() as connection:
            connection.execute(
                self.store.insert(causes)
                .values(incident_key=key, cause=value, created_at=now)
                .on_conflict_do_nothing(index_elements=["incident_key"])
            )

    def incident_payload(self, incident_id: str) -> dict[str, Any] | None:
        """The first webhook payload stored for the incident (the open one, usually)."""
        with self.store.read() as connection:
            payload = connection.execute(
                select(incident_events.c.payload)
                .where(incident_events.c.incident_id == incident_id)
                .order_by(incident_events.c.id)
                .limit(1)
            ).scalar()
        if isinstance(payload, str):
            payload = json.loads(payload)
        return payload if isinstance(payload, dict) else None
