"""The router under test, in-process on a manual clock: incidents in, deliveries out.

The same parts as the running service, minus HTTP and the background loops: an incident
payload is parsed as the webhook endpoint parses it and stored by ``alert_store.write``; the
``Dispatcher`` routes, groups, inhibits and flushes (group_wait, group_interval and
repeat_interval elapse on the manual clock); the ``Outbox`` hands out the notices, and the
configured integrations send them (to stand-ins, see ``capture``), after the enrichment stage
gave them their causes from the emulator's Cloud Logging. Failed sends are retried or
dead-lettered by the outbox's own rules, on the same clock.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from observability.alert_tests.capture import Received, StandIns
from observability.gcp import Endpoint
from observability.router.alert_store import IncidentEvent, Submission, write
from observability.router.clock import ManualClock
from observability.router.config import RouterConfig
from observability.router.dispatcher import Dispatcher
from observability.router.enrichment.enricher import Enricher
from observability.router.enrichment.sources import GoogleSources
from observability.router.incident import WebhookPayload, incident_alert
from observability.router.metrics import RouterMetrics
from observability.router.notice import Notice
from observability.router.outbox import Claim, Outbox
from observability.router.receivers.base import DeliveryError, FailureReason, Integration
from observability.router.store import Store

_CLAIMS = 100


@dataclass(frozen=True)
class Delivery:
    """One notice sent by one integration of a receiver, and what its stand-in got."""

    at: float
    receiver: str
    kind: str
    notice: Notice
    received: Received
    error: str | None = None

    @property
    def severity(self) -> str:
        return self.notice.common_labels.get("severity", "")

    @property
    def cause_text(self) -> str:
        """What ``cause_contains`` searches: every cause's annotations, and why any is missing."""
        parts = [
            value for cause in self.notice.causes.values() for value in cause.annotations().values()
        ]
        return "\n".join([*parts, self.notice.cause_note or ""])


class RouterUnderTest:
    """A router's store, dispatcher and outbox over ``config``, at ``start`` (epoch s)."""

    def __init__(
        self,
        config: RouterConfig,
        directory: Path,
        start: float,
        standins: StandIns,
        logging_endpoint: Endpoint,
    ) -> None:
        self.config = config
        self.clock = ManualClock(start)
        self.store = Store(f"sqlite:///{directory / 'router.db'}", "OFF")
        self.store.create_schema()
        self.enricher = Enricher(
            self.store,
            self.clock,
            lambda: config.enrichment,
            RouterMetrics(),
            GoogleSources(logging_endpoint),
        )
        self.dispatcher = Dispatcher(
            self.store, self.clock, lambda: config, RouterMetrics(), "http://router.test"
        )
        self.outbox = Outbox(self.store, self.clock)
        self.standins = standins
        self._retrying = False
        """Whether a notice waits in the outbox for a retry (then it is polled every step)."""

    def close(self) -> None:
        self.enricher.close()
        self.store.dispose()

    def receive(self, body: dict[str, Any]) -> None:
        """Store one Cloud Monitoring webhook payload, as the ingest endpoint does."""
        now = self.clock.now()
        incident = WebhookPayload.model_validate(body).incident
        event = IncidentEvent(
            incident.incident_id, incident.state, incident_alert(incident, now), json.dumps(body)
        )
        with self.store.write() as connection:
            write(connection, self.store, [Submission(incident=event)], now, self.config)

    def advance_to(self, when: float) -> None:
        """Move the clock forward to ``when`` (epoch seconds)."""
        self.clock.advance(max(0.0, when - self.clock.now()))

    def flush(self) -> list[Delivery]:
        """Route, group and flush what is due now, and deliver the notices it makes."""
        made = False
        while True:
            report = self.dispatcher.run_once()
            made = made or bool(report.notices)
            if not report.busy:
                break
        if not made and not self._retrying:
            return []  # nothing new in the outbox: skip the query
        claims = self.outbox.claim(_CLAIMS, self.config.delivery.lease)
        return asyncio.run(self._deliver(claims)) if claims else []

    async def _deliver(self, claims: list[Claim]) -> list[Delivery]:
        out: list[Delivery] = []
        async with httpx.AsyncClient(timeout=self.config.delivery.timeout) as client:
            for claim in claims:  # one at a time: what a stand-in received is this notice's
                integration = self._integration(claim)
                mark = self.standins.mark(integration.kind)
                error: str | None = None
                notice = await self.enricher.enrich(claim.notice)
                try:
                    await integration.send(notice, client)
                except DeliveryError as exc:
                    error = str(exc)
                    outcome = await asyncio.to_thread(
                        self.outbox.failed, claim, exc, self.config.delivery
                    )
                    self._retrying = self._retrying or outcome == "retried"
                else:
                    await asyncio.to_thread(self.outbox.delivered, claim)
                received = self.standins.since(integration.kind, mark)
                out.append(
                    Delivery(
                        self.clock.now(),
                        claim.receiver,
                        integration.kind,
                        notice,
                        received,
                        error,
                    )
                )
        return out

    def _integration(self, claim: Claim) -> Integration:
        receiver = self.config.receivers[claim.receiver]
        for integration in receiver.integrations:
            if integration.key == claim.integration:
                return integration
        raise DeliveryError(FailureReason.OTHER, f"no integration {claim.integration}", False)
