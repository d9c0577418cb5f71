"""Whether a router's dispatcher keeps failing, told through the database.

A dispatch pass that fails as a whole (its transaction, not one group or alert: those are set
aside on their own, see ``dispatcher``) is retried every pass; if that keeps failing, no
notification leaves. ``/readyz`` must say so, and under ``router serve --workers N`` it is
answered by HTTP workers while another process dispatches: the dispatching process records
its run of failures in ``dispatcher_health`` (keyed by the router instance) and clears it with
its next good pass; every process reads it there.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from observability.router.store import Store, dispatcher_health

log = logging.getLogger(__name__)

UNREADY_AFTER = 5
"""Consecutive failed passes after which ``/readyz`` reports the dispatcher (about 6 s)."""
ERROR_LIMIT = 500


def instance_name(supervisor: int | None = None) -> str:
    """The name of one router: host and the process that runs it (the supervisor's, for the
    processes of ``--workers N``), so that replicas sharing a database stay apart."""
    return f"{socket.gethostname()}:{supervisor or os.getpid()}"


@dataclass(frozen=True)
class Failing:
    since: float
    failures: int
    error: str


def record_failure(store: Store, instance: str, error: BaseException, now: float) -> None:
    """Count one more failed pass (best effort: the database may be what fails)."""
    text = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    values = {"error": text, "updated_at": now}
    try:
        with store.write() as connection:
            current = connection.execute(
                select(dispatcher_health.c.failures).where(dispatcher_health.c.instance == instance)
            ).scalar()
            if current is None:
                connection.execute(
                    dispatcher_health.insert().values(
                        instance=instance, failing_since=now, failures=1, **values
                    )
                )
            else:
                connection.execute(
                    dispatcher_health.update()
                    .where(dispatcher_health.c.instance == instance)
                    .values(failures=current + 1, **values)
                )
    except Exception as exc:  # noqa: BLE001 - /readyz's database check reports that one
        log.debug("could not record the dispatcher's failure: %s", exc)


def clear_failures(store: Store, instance: str) -> None:
    """A pass worked: the dispatcher is healthy again."""
    with store.write() as connection:
        connection.execute(
            delete(dispatcher_health).where(dispatcher_health.c.instance == instance)
        )


def failing(connection: Connection, instance: str) -> Failing | None:
    """The instance's run of failures if it is long enough to be reported, else None."""
    row = connection.execute(
        select(dispatcher_health).where(dispatcher_health.c.instance == instance)
    ).first()
    if row is None or row.failures < UNREADY_AFTER:
        return None
    return Failing(row.failing_since, row.failures, row.error)
