"""Agreeing on a moving time, so that two watchdogs racing write one event, not two.

Cloud Logging drops a second entry only when its insertId *and* its timestamp are the same as
the first's. Most facts are dated by Airflow's record (a run's end, a deadline), which every
watchdog reads alike. A few are not: an import error's time is re-stamped by the DAG
processor at every parse, and a cleared one is dated when it is seen. Two watchdogs whose
reads straddle a parse would write the same event id at two times: two entries.

Before writing such a fact each watchdog writes a *claim*, an entry in its own log carrying
the time it would use, waits ``settle`` seconds for the other watchdogs' claims to become
readable, reads every claim for the fact back and takes the time of the earliest one
(claim time, then insertId). Every racer takes the same claim, so every racer writes the
same entry and Cloud Logging keeps one.

Why it holds: a racer that missed another's earlier claim read ``settle`` seconds after its
own claim became readable, so that other claim took longer than ``settle`` from being dated
to being readable. That (or clocks apart by more than ``settle``) is the only window; two
racers can never both miss each other.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from google.cloud.logging import Resource

from observability.watchdog.facts import Environment, Fact
from observability.watchdog.report import rfc3339

_log = logging.getLogger(__name__)

CLAIMS_LOG = "composer-observability-watchdog-claims"
"""The claims' own log: no log-based metric, sink or router ever reads it."""

CLAIM_MEMORY = timedelta(hours=1)
"""Claims older than this are not read: a watchdog that claimed and died an hour ago lost."""

CLOUD_LOGGING_SETTLE_S = 5.0
"""The default wait for other claims: Cloud Logging makes an entry readable within seconds."""

EMULATOR_SETTLE_S = 0.5
"""The emulator's entries are readable when their write returns; this covers a stalled peer."""

_PER_REQUEST = 100
"""Claims written and read per request: keeps a read's filter far below its 20,000 characters."""


def _chunks(items: list[Fact]) -> Iterator[list[Fact]]:
    for start in range(0, len(items), _PER_REQUEST):
        yield items[start : start + _PER_REQUEST]


class Claims:
    """Claims for one environment's facts, written and read through one Logging client."""

    def __init__(
        self, environment: Environment, logging_client: Any, project: str, settle: float
    ) -> None:
        self.environment = environment
        self._client = logging_client
        self._project = project
        self._settle = settle
        self._watchdog = uuid.uuid4().hex
        """This watchdog's name in its claims: two claims are never alike."""
        self.calls = 0

    def agreed(self, facts: Iterable[Fact]) -> dict[str, datetime]:
        """The time every racing watchdog uses for each fact, by event id.

        A fact missing from the answer keeps its own time: claiming failed (Logging refused
        or is away) and the fact is still reported, at the risk the module explains."""
        facts = list(facts)
        if not facts:
            return {}
        try:
            for chunk in _chunks(facts):
                self._claim(chunk)
            time.sleep(self._settle)
            agreed: dict[str, datetime] = {}
            for chunk in _chunks(facts):
                agreed.update(self._earliest(chunk))
            return agreed
        except Exception as exc:  # noqa: BLE001 - the facts are written with their own times
            _log.warning(
                "%s: claims for %d facts failed, written with their own times: %s",
                self.environment.name,
                len(facts),
                exc,
            )
            return {}

    def _claim(self, facts: list[Fact]) -> None:
        batch = self._client.logger(CLAIMS_LOG).batch()
        resource = Resource(type="global", labels={"project_id": self._project})
        now = datetime.now(timezone.utc)
        for fact in facts:
            event_id = fact.event_id(self.environment)
            batch.log_struct(
                {
                    "claim": event_id,
                    "proposed": rfc3339(fact.timestamp),
                    "watchdog": self._watchdog,
                },
                insert_id=f"{event_id}.{self._watchdog}",
                timestamp=now,
                resource=resource,
            )
        self.calls += 1
        batch.commit(partial_success=False)

    def _earliest(self, facts: list[Fact]) -> dict[str, datetime]:
        ids = " OR ".join(f'"{fact.event_id(self.environment)}"' for fact in facts)
        since = datetime.now(timezone.utc) - CLAIM_MEMORY
        self.calls += 1
        entries = self._client.list_entries(
            resource_names=[f"projects/{self._project}"],
            filter_=(
                f'logName="projects/{self._project}/logs/{CLAIMS_LOG}"'
                f' AND timestamp>="{rfc3339(since)}" AND jsonPayload.claim=({ids})'
            ),
            order_by="timestamp asc",
            page_size=1000,
        )
        first: dict[str, tuple[datetime, str, datetime]] = {}
        for entry in entries:
            payload = entry.payload if isinstance(entry.payload, dict) else {}
            event_id, proposed = payload.get("claim"), _time(payload.get("proposed"))
            if not isinstance(event_id, str) or proposed is None or entry.timestamp is None:
                continue
            key = (entry.timestamp, str(entry.insert_id), proposed)
            if event_id not in first or key[:2] < first[event_id][:2]:
                first[event_id] = key
        return {event_id: proposed for event_id, (_, _, proposed) in first.items()}


def _time(value: Any) -> datetime | None:
    """A claim's proposed time; ``None`` for anything but an RFC 3339 time with its zone."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
