"""The enrichment stage: gives each notice the causes of its alerts, within the budget.

One lookup per incident, ever (while it succeeds): the first notice that needs a cause
starts it (or the dispatcher does, as soon as the notice is made, with ``prefetch``), every
other notice of the same incident waits on the same task, and its result goes to the
``causes`` table, which later notices, retries and a restarted router read instead. A
notice waits at most ``budget`` from when its lookups started; then it leaves with the
causes that are ready and one line saying why the others are not. The lookups run on a
thread pool of their own (the Google clients block), so a hanging Cloud Logging can take
neither the event loop nor the threads the outbox and the database use. A failed lookup is
not repeated for ``RETRY_AFTER`` seconds, so an outage costs one call per incident per
interval, not one per notice; a lookup slower than the budget goes on (``LOOKUP_TIME``) and
serves the incident's later notices.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from observability.router.clock import Clock
from observability.router.enrichment.cache import CauseCache
from observability.router.enrichment.cause import Cause
from observability.router.enrichment.lookup import LOGGING_ROLE, IncidentFacts, Lookup
from observability.router.enrichment.settings import EnrichmentConfig
from observability.router.enrichment.sources import GoogleSources, Unavailable, explain
from observability.router.metrics import RouterMetrics
from observability.router.notice import Notice
from observability.router.store import Store

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0
LOOKUP_TIME = 10.0
"""A lookup may outlive the notice that started it (up to this, or the budget if longer):
the notice leaves at its budget, the lookup finishes and is cached for the next notice, so
a slow moment does not make the incident be queried twice."""
UNAVAILABLE = "details unavailable: "


@dataclass(frozen=True)
class Outcome:
    cause: Cause | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Flight:
    task: asyncio.Task[Outcome]
    started: float


class Enricher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Callable[[], EnrichmentConfig],
        metrics: RouterMetrics,
        sources: GoogleSources | None = None,
    ) -> None:
        self.cache = CauseCache(store)
        self.clock = clock
        self._settings = settings
        self.metrics = metrics
        self.sources = sources or GoogleSources()
        self._pool: ThreadPoolExecutor | None = None
        self._flights: dict[str, _Flight] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._reachable: bool | None = None

    def start(self) -> None:
        """Get the clients ready in the background, if enrichment is on."""
        if self._settings().enabled:
            threading.Thread(target=self._warm, name="enrich-warm", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.sources.warm()
        except Exception as exc:  # noqa: BLE001 - the first lookup will say what is wrong
            log.warning("preparing the Cloud Logging clients failed: %s", exc)

    def close(self) -> None:
        """Stop: lookups in flight are abandoned (their threads end at their deadlines)."""
        for flight in self._flights.values():
            flight.task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.sources.close()

    def _active(self, settings: EnrichmentConfig) -> bool:
        """On when configured and Cloud Logging is reachable (said once in the log if not)."""
        if not settings.enabled:
            return False
        if self._reachable is None:
            self._reachable = self.sources.reachable
            if not self._reachable:
                log.warning(
                    "enrichment is off: no emulator (COMPOSER_OBS_EMULATOR) and no Google "
                    "credentials to read Cloud Logging with"
                )
        return self._reachable

    def prefetch(self, notices: Iterable[Notice]) -> None:
        """Start the lookups of new notices now (call from the event loop): by the time the
        outbox delivers them, their causes are often ready."""
        settings = self._settings()
        if not self._active(settings):
            return
        for notice in notices:
            if settings.applies_to(notice.receiver):
                for incident_id in _incidents(notice):
                    self._flight(incident_id, settings)

    async def enrich(self, notice: Notice) -> Notice:
        """``notice`` with the causes of its alerts; never raises, never waits past the
        budget (counted from when its lookups started)."""
        settings = self._settings()
        if not self._active(settings) or not settings.applies_to(notice.receiver):
            return notice
        if notice.causes or notice.cause_note:
            return notice
        started = time.monotonic()
        try:
            return await self._enrich(notice, settings)
        except Exception as exc:
            log.exception("enriching notice %s failed", notice.id)
            return notice.with_causes({}, UNAVAILABLE + f"internal error ({type(exc).__name__})")
        finally:
            self.metrics.enrichment_wait.observe(time.monotonic() - started)

    async def _enrich(self, notice: Notice, settings: EnrichmentConfig) -> Notice:
        flights = {
            alert["fingerprint"]: self._flight(alert["labels"]["incident_id"], settings)
            for alert in notice.alerts
            if alert["labels"].get("incident_id")
        }
        if not flights:
            return notice
        deadline = max(f.started for f in flights.values()) + settings.budget
        tasks = {f.task for f in flights.values()}
        await asyncio.wait(tasks, timeout=max(deadline - time.monotonic(), 0.0))
        causes: dict[str, Cause] = {}
        reasons: list[str] = []
        for fingerprint, flight in flights.items():
            if not flight.task.done() or flight.task.cancelled():
                reasons.append(f"Cloud Logging did not answer within {settings.budget:g} s")
                continue
            outcome = flight.task.result()
            if outcome.cause is not None:
                causes[fingerprint] = outcome.cause
            elif outcome.error:
                reasons.append(outcome.error)
        note = UNAVAILABLE + reasons[0] if reasons else None
        return notice.with_causes(causes, note)

    def _flight(self, incident_id: str, settings: EnrichmentConfig) -> _Flight:
        key = f"incident:{incident_id}"
        flight = self._flights.get(key)
        if flight is not None:
            return flight
        now = time.monotonic()
        failed = self._failed.get(key)
        coroutine = (
            _failure(failed[1])
            if failed is not None and now - failed[0] < RETRY_AFTER
            else self._resolve(key, incident_id, settings, now + max(settings.budget, LOOKUP_TIME))
        )
        task = asyncio.get_running_loop().create_task(coroutine, name=f"enrich {incident_id}")
        flight = _Flight(task, now)
        self._flights[key] = flight
        task.add_done_callback(lambda _: self._landed(key, flight))
        return flight

    def _landed(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.task.cancelled():
            return
        outcome = flight.task.result()
        if outcome.error is not None:
            self._failed.setdefault(key, (time.monotonic(), outcome.error))
        else:
            self._failed.pop(key, None)

    async def _resolve(
        self, key: str, incident_id: str, settings: EnrichmentConfig, deadline: float
    ) -> Outcome:
        known, cause = await asyncio.to_thread(self.cache.get, key)
        if known:
            return Outcome(cause)
        payload = await asyncio.to_thread(self.cache.incident_payload, incident_id)
        facts = IncidentFacts.from_payload(payload) if payload else None
        if facts is None or not facts.enrichable:
            await asyncio.to_thread(self.cache.put, key, None, self.clock.now())
            return Outcome()
        lookup = Lookup(self.sources, settings, self._runner(settings), deadline)
        try:
            cause = await lookup.cause(facts, self.clock.now())
        except Exception as exc:  # noqa: BLE001 - said in the notice
            reason = explain(exc, "Cloud Logging", LOGGING_ROLE)
            if not isinstance(exc, Unavailable):
                log.warning("looking up the cause of incident %s failed: %s", incident_id, reason)
            self.metrics.enrichment_lookups.labels("unavailable").inc()
            return Outcome(error=reason)
        await asyncio.to_thread(self.cache.put, key, cause, self.clock.now())
        self.metrics.enrichment_lookups.labels("found" if cause else "none").inc()
        return Outcome(cause)

    def _runner(self, settings: EnrichmentConfig) -> Callable[..., Any]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="enrich")
        pool = self._pool

        async def run(fn: Callable[..., Any], *args: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool, functools.partial(fn, *args))

        return run


async def _failure(reason: str) -> Outcome:
    return Outcome(error=reason)


def _incidents(notice: Notice) -> list[str]:
    return [a["labels"]["incident_id"] for a in notice.alerts if a["labels"].get("incident_id")]
