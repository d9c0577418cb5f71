"""The outbox: notices wait here until a receiver has taken them, however long that takes.

A notice enters in the same transaction as the notification-log entry that decided it, so a
crash can neither lose it nor decide it twice. Delivery is at least once:

* **Claim**: a worker leases due rows (``lease_until``) with a random ``claim_token``; on
  PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so replicas never claim the same row; on SQLite
  inside the single write lock. A worker that dies leaves its lease to expire; the row is
  then claimed again (a SQLite router, the only writer, reclaims everything at start).
* **Order**: a row is claimable only when no older row of its *stream* (one group, one
  integration) is waiting, so a page's resolve can never overtake its trigger.
* **Retry**: 5xx, 429, timeouts and connection errors back off exponentially (with jitter)
  up to ``max_backoff``, and at least as long as the service's ``Retry-After``; other 4xx,
  or a notice older than ``max_age``, become dead letters.
* **Parts**: a notice sent as several requests (PagerDuty's events) records each part its
  service accepted (``notice_parts``), so a retry or a restarted router sends only the rest;
  an attempt that got parts through is being paced, not failing: its backoff starts over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, delete, func, or_, select, update

from observability.router.clock import Clock
from observability.router.config import DeliveryConfig, RouterConfig
from observability.router.enrichment.enricher import Enricher
from observability.router.metrics import RouterMetrics
from observability.router.notice import Notice
from observability.router.receivers.base import DeliveryError, FailureReason, Integration
from observability.router.store import (
    Store,
    dead_letters,
    deliveries,
    notice_alerts,
    notice_parts,
    outbox,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """A leased outbox row: deliver it, then report with ``delivered`` or ``failed``."""

    id: int
    token: str
    notice: Notice
    receiver: str
    integration: str
    attempts: int
    created_at: float
    accepted_parts: frozenset[str] = frozenset()
    """The parts of the notice its service accepted in earlier attempts."""

    def history_columns(self) -> dict[str, Any]:
        """The columns ``deliveries`` and ``dead_letters`` share, taken from the claim alike,
        so a notice's delivery record and its dead letter always describe it the same way."""
        return {
            "notice_id": self.notice.id,
            "receiver": self.receiver,
            "integration": self.integration,
            "group_key": self.notice.group_key,
            "attempts": self.attempts,
            "created_at": self.created_at,
        }


def enqueue(
    connection: Connection, store: Store, notice: Notice, integration: str, gid: str, now: float
) -> None:
    """Add a notice for one integration, in the caller's transaction."""
    connection.execute(
        outbox.insert().values(
            notice_id=notice.id,
            stream=f"{gid}|{integration}",
            receiver=notice.receiver,
            integration=integration,
            group_key=notice.group_key,
            notice=notice.to_json(),
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )
    connection.execute(
        notice_alerts.insert(),
        [
            {"notice_id": notice.id, "fingerprint": alert["fingerprint"], "status": alert["status"]}
            for alert in notice.alerts
        ],
    )


def backoff(attempts: int, settings: DeliveryConfig) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``initial_backoff``, capped, with
    up to 25% jitter so that a recovering receiver is not hit by every retry at once."""
    delay = min(settings.initial_backoff * 2 ** max(attempts - 1, 0), settings.max_backoff)
    return delay * (1 + random.random() / 4)


class Outbox:
    """Claims, completes and fails outbox rows (each a short transaction)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def claim(self, limit: int, lease: float) -> list[Claim]:
        now = self.clock.now()
        earlier = outbox.alias("earlier")
        waiting_behind = (
            select(earlier.c.id)
            .where(earlier.c.stream == outbox.c.stream, earlier.c.id < outbox.c.id)
            .exists()
        )
        query = (
            select(outbox)
            .where(
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
                ~waiting_behind,
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        claims = []
        with self.store.write() as connection:
            rows = connection.execute(self.store.claim(query, of=outbox)).all()
            accepted = _accepted_parts(connection, [row.notice_id for row in rows if row.attempts])
            for row in rows:
                token = str(uuid.uuid4())
                connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(lease_until=now + lease, claim_token=token, attempts=row.attempts + 1)
                )
                claims.append(
                    Claim(
                        row.id,
                        token,
                        Notice.from_json(row.notice),
                        row.receiver,
                        row.integration,
                        row.attempts + 1,
                        row.created_at,
                        frozenset(accepted.get(row.notice_id, ())),
                    )
                )
        return claims

    def record_part(self, claim: Claim, part: str) -> None:
        """Remember that the service accepted ``part`` of the claim's notice, unless the
        notice is no longer waiting (then nothing will send it again)."""
        now = self.clock.now()
        with self.store.write() as connection:
            waiting = select(outbox.c.id).where(outbox.c.id == claim.id)
            if connection.execute(waiting).first() is None:
                return
            connection.execute(
                self.store.insert(notice_parts)
                .values(notice_id=claim.notice.id, part=part, accepted_at=now)
                .on_conflict_do_nothing(index_elements=["notice_id", "part"])
            )

    def release_all(self) -> int:
        """Drop every lease: only for a database no other router uses (SQLite at start)."""
        with self.store.write() as connection:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.lease_until.is_not(None))
                .values(lease_until=None, claim_token=None)
            )
        return int(result.rowcount or 0)

    def delivered(self, claim: Claim) -> None:
        now = self.clock.now()
        with self.store.write() as connection:
            if self._finish(connection, claim):
                self._record(connection, claim, "delivered", now, None)

    def failed(
        self,
        claim: Claim,
        error: DeliveryError,
        settings: DeliveryConfig,
        progressed: bool = False,
    ) -> str:
        """Schedule a retry or dead-letter the notice; returns ``retried`` or ``dead``.
        ``progressed``: this attempt got parts of the notice accepted (see the module)."""
        now = self.clock.now()
        delay = backoff(1 if progressed else claim.attempts, settings)
        if error.retry_after is not None:  # the service said when: wait that long (up to the cap)
            delay = max(delay, min(error.retry_after, settings.max_backoff))
        dead = not error.retryable or now + delay - claim.created_at > settings.max_age
        with self.store.write() as connection:
            if not dead:
                connection.execute(
                    update(outbox)
                    .where(outbox.c.id == claim.id, outbox.c.claim_token == claim.token)
                    .values(
                        next_attempt_at=now + delay,
                        lease_until=None,
                        claim_token=None,
                        last_reason=error.reason.value,
                        last_error=str(error),
                    )
                )
                return "retried"
            if self._finish(connection, claim):
                connection.execute(
                    dead_letters.insert().values(
                        **claim.history_columns(),
                        notice=claim.notice.to_json(),
                        reason=error.reason.value,
                        error=str(error),
                        dead_at=now,
                    )
                )
                self._record(connection, claim, "dead", now, error)
        return "dead"

    def _finish(self, connection: Connection, claim: Claim) -> bool:
        """Remove the row (and its parts) if this claim still holds it (else another worker
        took over)."""
        result = connection.execute(
            delete(outbox).where(outbox.c.id == claim.id, outbox.c.claim_token == claim.token)
        )
        if not result.rowcount:
            return False
        connection.execute(delete(notice_parts).where(notice_parts.c.notice_id == claim.notice.id))
        return True

    def _record(
        self,
        connection: Connection,
        claim: Claim,
        outcome: str,
        now: float,
        error: DeliveryError | None,
    ) -> None:
        connection.execute(
            deliveries.insert().values(
                **claim.history_columns(),
                status=claim.notice.status,
                outcome=outcome,
                finished_at=now,
                reason=error.reason.value if error else None,
                error=str(error) if error else None,
            )
        )

    def depths(self) -> tuple[int, int]:
        """(notices waiting, dead letters)."""
        with self.store.read() as connection:
            waiting = connection.execute(select(func.count()).select_from(outbox)).scalar_one()
            dead = connection.execute(select(func.count()).select_from(dead_letters)).scalar_one()
        return int(waiting), int(dead)

    def next_attempt_at(self) -> float | None:
        with self.store.read() as connection:
            value = connection.execute(select(func.min(outbox.c.next_attempt_at))).scalar()
        return None if value is None else float(value)


def _accepted_parts(connection: Connection, notice_ids: list[str]) -> dict[str, list[str]]:
    """notice id -> the parts its service accepted (asked only for notices tried before)."""
    found: dict[str, list[str]] = {}
    if notice_ids:
        query = select(notice_parts.c.notice_id, notice_parts.c.part).where(
            notice_parts.c.notice_id.in_(notice_ids)
        )
        for notice_id, part in connection.execute(query):
            found.setdefault(notice_id, []).append(part)
    return found


class ClaimProgress:
    """The ``Progress`` of one claimed notice: what earlier attempts got accepted, and each
    part this attempt gets accepted, recorded in the database before the next is sent."""

    def __init__(self, outbox: Outbox, claim: Claim) -> None:
        self.outbox = outbox
        self.claim = claim
        self.recorded = 0
        """Parts this attempt got accepted."""

    def accepted(self, part: str) -> bool:
        return part in self.claim.accepted_parts

    async def record(self, part: str) -> None:
        await asyncio.to_thread(self.outbox.record_part, self.claim, part)
        self.recorded += 1


class Courier:
    """The delivery loop: keeps up to ``concurrency`` notices in flight, each sent once claimed."""

    def __init__(
        self,
        outbox: Outbox,
        config: Callable[[], RouterConfig],
        metrics: RouterMetrics,
        poll_interval: float = 1.0,
        enricher: Enricher | None = None,
    ) -> None:
        self.outbox = outbox
        self.enricher = enricher
        self._config = config
        self.metrics = metrics
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def config(self) -> RouterConfig:
        return self._config()

    def wake(self) -> None:
        """New notices may be due (call from the event loop's thread)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        settings = self.config.delivery
        async with httpx.AsyncClient(timeout=settings.timeout) as client:
            while not self._stopping:
                settings = self.config.delivery
                free = settings.concurrency - len(in_flight)
                claims: list[Claim] = []
                if free > 0:
                    try:
                        claims = await asyncio.to_thread(self.outbox.claim, free, settings.lease)
                    except Exception as exc:  # noqa: BLE001 - the database may come back
                        log.error("claiming from the outbox failed: %s", exc)
                for claim in claims:
                    task = asyncio.create_task(self._deliver(claim, client))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if claims and len(claims) == free:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                self._wake.clear()
                waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
                waiters |= in_flight
                await asyncio.wait(
                    waiters, timeout=await self._idle_time(), return_when=asyncio.FIRST_COMPLETED
                )
            if in_flight:
                await asyncio.wait(in_flight, timeout=settings.timeout)

    async def _idle_time(self) -> float:
        try:
            due = await asyncio.to_thread(self.outbox.next_attempt_at)
        except Exception:  # noqa: BLE001 - poll again soon
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return min(max(due - self.outbox.clock.now(), 0.01), self.poll_interval)

    def _integration(self, claim: Claim) -> Integration:
        receiver = self.config.receivers.get(claim.receiver)
        for integration in receiver.integrations if receiver else []:
            if integration.key == claim.integration:
                return integration
        raise DeliveryError(
            FailureReason.OTHER,
            f"{claim.integration} is no longer in the configuration",
            retryable=False,
        )

    async def _deliver(self, claim: Claim, client: httpx.AsyncClient) -> None:
        """Send one claimed notice and record the outcome. Never raises: its task is not
        awaited by anyone. An outcome that cannot be recorded (the disk is full) is logged;
        the claim's lease then expires and the notice is sent again (at least once)."""
        try:
            await self._send(claim, client)
        except Exception as exc:  # noqa: BLE001 - logged here, or nowhere
            log.error(
                "notice %s to %s: the outcome could not be recorded, it will be sent again "
                "once its lease expires: %s: %s",
                claim.notice.id,
                claim.integration,
                type(exc).__name__,
                exc,
            )

    async def _send(self, claim: Claim, client: httpx.AsyncClient) -> None:
        settings = self.config.delivery
        started = time.perf_counter()
        labels = (claim.receiver, claim.integration)
        progress = ClaimProgress(self.outbox, claim)
        try:
            integration = self._integration(claim)
            notice = claim.notice
            if self.enricher is not None:
                notice = await self.enricher.enrich(notice)
            sending = integration.deliver(notice, client, progress)
            await asyncio.wait_for(sending, settings.timeout * 3)
        except Exception as exc:  # noqa: BLE001 - a bug in one integration must not stop others
            error = _delivery_error(exc, claim)
            await self._failed(claim, error, settings, labels, bool(progress.recorded))
            return
        self.metrics.notification_latency.labels(integration.kind).observe(
            time.perf_counter() - started
        )
        await asyncio.to_thread(self.outbox.delivered, claim)
        self.metrics.notifications.labels(*labels, "delivered").inc()

    async def _failed(
        self,
        claim: Claim,
        error: DeliveryError,
        settings: DeliveryConfig,
        labels: tuple[str, str],
        progressed: bool,
    ) -> None:
        outcome = await asyncio.to_thread(self.outbox.failed, claim, error, settings, progressed)
        self.metrics.notifications.labels(*labels, outcome).inc()
        self.metrics.notification_failures.labels(*labels, error.reason.value).inc()
        log.warning(
            "notice %s to %s %s (attempt %d): %s",
            claim.notice.id,
            claim.integration,
            "will be retried" if outcome == "retried" else "is a dead letter",
            claim.attempts,
            error,
        )


def _delivery_error(exc: Exception, claim: Claim) -> DeliveryError:
    """Any failure of a send as a DeliveryError; unexpected ones are retried."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, asyncio.TimeoutError):
        return DeliveryError(FailureReason.TIMEOUT, f"{claim.integration}: timed out", True)
    return DeliveryError(FailureReason.OTHER, f"{type(exc).__name__}: {exc}", True)
