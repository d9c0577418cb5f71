"""Changes to what a database stores, made once when a newer router opens it.

Tables and columns that are new are created by ``Store.create_schema``; this is for stored
values whose meaning changed.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, select, text, update

from observability.router.incident import (
    INCIDENT_PREFIX,
    incident_fingerprint,
    legacy_incident_fingerprint,
)
from observability.router.store import (
    Store,
    alerts,
    dispatch_failures,
    group_alerts,
    incident_events,
    notice_alerts,
)

log = logging.getLogger(__name__)

_BY_FINGERPRINT = (alerts, group_alerts, notice_alerts, incident_events, dispatch_failures)


def migrate(store: Store) -> None:
    """Bring a database written by an older router up to date (idempotent)."""
    with store.write() as connection:
        if store.shared:  # replicas may start together
            connection.execute(text("SELECT pg_advisory_xact_lock(727275)"))
        renamed = namespace_incident_fingerprints(connection)
    if renamed:
        log.info("gave %d stored incidents their namespaced fingerprint", renamed)


def namespace_incident_fingerprints(connection: Connection) -> int:
    """Rename the fingerprints of incidents stored before they were namespaced by source.

    Their alerts, group memberships, notices and events follow, so an incident opened before
    the upgrade is closed by its close after it. The notification log is left as it was: a
    group told about such an incident is told once more at its next flush.
    """
    rows = connection.execute(
        select(alerts.c.fingerprint, alerts.c.incident_id).where(
            alerts.c.incident_id.is_not(None),
            alerts.c.fingerprint.not_like(f"{INCIDENT_PREFIX}%"),
        )
    ).all()
    renamed = 0
    for old, incident_id in rows:
        new = incident_fingerprint(incident_id)
        if old != legacy_incident_fingerprint(incident_id):
            continue
        taken = connection.execute(select(alerts.c.fingerprint).where(alerts.c.fingerprint == new))
        if taken.first() is not None:
            continue
        for table in _BY_FINGERPRINT:
            connection.execute(
                update(table).where(table.c.fingerprint == old).values(fingerprint=new)
            )
        renamed += 1
    return renamed
