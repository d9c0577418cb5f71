"""A running router: its configuration (reloadable), database, writer and background loops.

The HTTP layer (``app``) only talks to this object. Reloading (SIGHUP or ``POST /-/reload``)
swaps the compiled configuration atomically, or keeps the running one and says why; after a
change, firing alerts are routed again, as Alertmanager does.

Ingest is durable before its answer either way: with SQLite each request is appended to this
process's ingest journal (``journal``), and the journal applier (``applier``) of the dispatching
process stores the records in the tables; with PostgreSQL, whose replicas share no disk, each
request is stored in the tables before its answer (``alert_store.AlertWriter``).

A runtime has a role. ``router serve`` alone runs everything in one process (``Role.ALL``).
``router serve --workers N`` runs N HTTP workers (``Role.INGEST``: they journal or store what
they accept and answer the APIs) and one dispatching process (``Role.DISPATCH``: it applies the
journals, dispatches and delivers), so the work that follows an acknowledgement never holds
the interpreter lock of a process answering requests. With SQLite, whatever the roles, only
the holder of the dispatcher lock applies, dispatches and delivers (another router on the same
file waits for it). The database records which configuration routed the stored alerts
(``active_config``): the first process to load a new configuration records it, re-routes and
writes the audit entry, once; a process still on another one reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection

from observability.router.alert_store import AlertWriter, Outcome, Submission
from observability.router.applier import JournalApplier, wait_applied
from observability.router.auth import Authenticator
from observability.router.clock import Clock, SystemClock
from observability.router.config import ConfigError, RouterConfig, file_digest, load_config
from observability.router.dispatch_health import (
    Failing,
    clear_failures,
    failing,
    instance_name,
    record_failure,
)
from observability.router.dispatcher import Dispatcher, PassReport, mark_firing_pending
from observability.router.enrichment.enricher import Enricher
from observability.router.history import record_audit
from observability.router.journal import JournalRecord, JournalWriter, journal_directory
from observability.router.metrics import RouterMetrics
from observability.router.migrations import migrate
from observability.router.outbox import Courier, Outbox
from observability.router.settings import RouterSettings
from observability.router.store import ProcessLock, Store, active_digest, set_active_config

log = logging.getLogger(__name__)

# Passes are at least this far apart: new alerts wait a moment to be routed in one batch
# instead of taking the database's write lock after every single commit of the ingest.
DISPATCH_DEBOUNCE = 0.2
# A process that finds another configuration active reloads at most this often.
STALE_RELOAD_INTERVAL = 1.0
# Recording a configuration re-reads a file that keeps changing at most this many times.
ADOPT_ATTEMPTS = 5
# Reads of the API wait at most this long for acknowledged requests to be applied.
SETTLE_TIMEOUT = 2.0


class Role(str, Enum):
    """What a router process does (see the module docstring)."""

    ALL = "all"
    INGEST = "ingest"
    DISPATCH = "dispatch"

    @property
    def ingests(self) -> bool:
        return self is not Role.DISPATCH

    @property
    def dispatches(self) -> bool:
        return self is not Role.INGEST


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: bool
    message: str


class RouterRuntime:
    def __init__(
        self,
        settings: RouterSettings,
        clock: Clock | None = None,
        role: Role = Role.ALL,
        instance: str | None = None,
    ) -> None:
        self.settings = settings
        self.role = role
        self.instance = instance or instance_name()
        self.clock = clock or SystemClock()
        self.started_at = time.time()
        self.metrics = RouterMetrics()
        self.auth = Authenticator(settings)
        self._config = load_config(settings.config_file)
        self._reload_lock = threading.Lock()
        self.store = Store(settings.database_url, settings.sqlite_synchronous)
        self.outbox = Outbox(self.store, self.clock)
        self.dispatcher = Dispatcher(
            self.store, self.clock, lambda: self._config, self.metrics, settings.external_url
        )
        self.enricher = (
            Enricher(self.store, self.clock, lambda: self._config.enrichment, self.metrics)
            if role.dispatches
            else None
        )
        self.courier = Courier(
            self.outbox, lambda: self._config, self.metrics, settings.poll_interval, self.enricher
        )
        self.writer: AlertWriter | None = None
        self.journal: JournalWriter | None = None
        self.applier: JournalApplier | None = None
        if self.store.shared:
            if role.ingests:
                self.writer = AlertWriter(self.store, self.clock, self._wake_dispatcher)
        else:
            directory = journal_directory(self.store.database_file())
            if role.ingests:
                self.journal = JournalWriter(directory, self._journal_written)
            if role.dispatches:
                self.applier = JournalApplier(
                    directory,
                    self.store,
                    self.clock,
                    lambda: self._config,
                    self.metrics,
                    self._alerts_committed,
                )
        self._applying = False
        # Reads waiting for the applier have their own threads: a backlog must not take the
        # shared pool that the dispatcher, the courier and the health checks run in.
        self._settle_pool = ThreadPoolExecutor(2, thread_name_prefix="settle")
        # Set by a worker process: asks the supervisor to have every worker reload.
        self.reload_peers: Callable[[], None] | None = None
        self.dispatching = False
        self._dispatcher_lock: ProcessLock | None = None
        self._stale_reload_at = 0.0
        self._stopped: asyncio.Event | None = None
        self.metrics.watch_outbox(self.outbox.depths)
        self.metrics.config_last_reload_success.set(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatch_wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lead_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = False

    @property
    def config(self) -> RouterConfig:
        return self._config

    def dispatcher_failing(self) -> Failing | None:
        """The dispatcher of this router (in this process or another) if its passes keep
        failing; raises if the database cannot be read (``/readyz`` reports either)."""
        with self.store.read() as connection:
            return failing(connection, self.instance)

    async def start(self) -> None:
        """Open the database, resume unfinished work, start the loops."""
        self._loop = asyncio.get_running_loop()
        self._dispatch_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        await asyncio.to_thread(self.store.create_schema)
        await asyncio.to_thread(migrate, self.store)
        if not self.store.shared:
            self._config, _ = await asyncio.to_thread(self._adopt, self._config, "startup")
        if self.writer is not None:
            self.writer.start()
        if self.journal is not None:
            await asyncio.to_thread(self.journal.start)
        if self.role.dispatches:
            if self.enricher is not None:
                self.enricher.start()
            self._dispatcher_lock = self.store.dispatcher_lock()
            self._lead_task = asyncio.create_task(self._lead(), name="dispatcher")
            self._lead_task.add_done_callback(self._lead_ended)
            self._tasks = [self._lead_task]
        self.ready = True
        log.info(
            "router ready: %d receivers, config %s (%s)",
            len(self._config.receivers),
            self._config.source,
            self._config.digest[:12],
        )

    async def stop(self) -> None:
        self.ready = False
        self._stopping = True
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.close)
        applier_stopped = True
        if self.applier is not None:
            applier_stopped = await asyncio.to_thread(self.applier.close)
        self.courier.stop()
        if self._dispatch_wake:
            self._dispatch_wake.set()
        if self._stopped:
            self._stopped.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.enricher is not None:
            self.enricher.close()
        self._settle_pool.shutdown(wait=False, cancel_futures=True)
        if not applier_stopped:
            # Releasing the lock would let another process apply the same records: the
            # process's exit releases it, once the applier thread is gone with it.
            log.error("the journal applier did not stop: keeping the dispatcher lock")
            return
        if self._dispatcher_lock is not None:
            self._dispatcher_lock.close()
        self.store.dispose()

    def dispatching_ended(self) -> asyncio.Task[None]:
        """The dispatcher task of a dispatching runtime: done when it ends, for any reason."""
        if self._lead_task is None:
            raise RuntimeError("only a started dispatching runtime has a dispatcher task")
        return self._lead_task

    def dispatching_failure(self) -> BaseException | None:
        """Why dispatching ended although the runtime is not stopping (the database failed
        while it took over, say), or None. ``/healthz`` fails then, so that the process is
        restarted rather than left holding the dispatcher lock while doing nothing."""
        task = self._lead_task
        if task is None or not task.done() or self._stopping:
            return None
        if task.cancelled():
            return asyncio.CancelledError()
        return task.exception() or RuntimeError("the dispatcher task ended")

    def _lead_ended(self, task: asyncio.Task[None]) -> None:
        failure = self.dispatching_failure()
        if failure is not None:
            log.error("dispatching stopped: %r", failure, exc_info=failure)

    async def _lead(self) -> None:
        """Dispatch and deliver, once this process holds the dispatcher lock (if there is one).

        The other processes of a SQLite database try again every ``poll_interval``: when the
        holder exits, even by ``kill -9``, one of them takes over within that time.
        """
        assert self._stopped is not None
        lock = self._dispatcher_lock
        if lock is not None:
            while not lock.try_acquire():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self.settings.poll_interval)
                if self._stopping:
                    return
            # No other process can hold a lease now: what a dead dispatcher claimed is free.
            released = await asyncio.to_thread(self.outbox.release_all)
            if released:
                log.info("resuming %d notices a previous dispatcher had claimed", released)
        if self.applier is not None:
            self._applying = True
            await asyncio.to_thread(self.applier.start)
        self.dispatching = True
        await asyncio.gather(self._dispatch_loop(), self.courier.run())

    async def accept(
        self, record: JournalRecord, submission: Callable[[], Submission]
    ) -> list[Outcome] | None:
        """Make an accepted ingest request durable; returns once it is.

        Journaled (SQLite): None, its outcomes are known once applied, moments later. Stored
        (PostgreSQL): its outcomes. Raises when it could not be made durable (answer 503).
        """
        if self.journal is not None:
            await self.journal.append(record)
            return None
        assert self.writer is not None
        outcomes = await self.writer.submit(submission())
        for outcome in outcomes:
            self.metrics.alerts_received.labels(record.source, outcome).inc()
        return outcomes

    async def settled(self) -> None:
        """Until what was acknowledged before this call is in the tables (or SETTLE_TIMEOUT
        passed): a client that posted an alert, then reads the API, sees it."""
        if self.journal is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._settle_pool,
                wait_applied,
                self.journal.directory,
                self.store,
                SETTLE_TIMEOUT,
            )

    def _journal_written(self) -> None:
        """Called by the journal writer after each durable batch: apply it now, if this
        process applies."""
        if self._applying and self.applier is not None:
            self.applier.wake()

    def _alerts_committed(self, config_stale: bool) -> None:
        """Called by the applier after each commit: route the new alerts soon."""
        if config_stale:
            self._reload_stale()
        self._wake_dispatcher()

    def _wake_dispatcher(self) -> None:
        if self._loop is not None and self._dispatch_wake is not None:
            self._loop.call_soon_threadsafe(self._dispatch_wake.set)

    def _reload_stale(self) -> None:
        """Another process made another configuration active: load the file again (the
        signal that made it reload is on its way here too, this only closes the gap)."""
        now = time.monotonic()
        if self._loop is None or now - self._stale_reload_at < STALE_RELOAD_INTERVAL:
            return
        self._stale_reload_at = now
        self._loop.call_soon_threadsafe(self._loop.run_in_executor, None, self.reload, "sync")

    async def _dispatch_loop(self) -> None:
        assert self._dispatch_wake is not None
        failures = 0
        while not self._stopping:
            self._dispatch_wake.clear()
            try:
                report = await asyncio.to_thread(self.dispatcher.run_once)
                due = await asyncio.to_thread(self.dispatcher.next_due)
                if failures:
                    await asyncio.to_thread(clear_failures, self.store, self.instance)
                    log.info("dispatch passes work again after %d failures", failures)
                    failures = 0
            except Exception as exc:  # log it and try again: the database may be back
                failures += 1
                log.exception("dispatch pass failed (%d in a row)", failures)
                self.metrics.dispatch_failures.labels("pass").inc()
                await asyncio.to_thread(
                    record_failure, self.store, self.instance, exc, self.clock.now()
                )
                report, due = PassReport(), None
            if report.config_stale:
                self._reload_stale()
            if report.notices:
                if self.enricher is not None:
                    self.enricher.prefetch(report.notices)
                self.courier.wake()
            if report.busy:
                await asyncio.sleep(DISPATCH_DEBOUNCE)
                continue
            wait = self.settings.poll_interval
            if due is not None:
                wait = min(max(due - self.clock.now(), 0.0), wait)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._dispatch_wake.wait(), timeout=wait)
            await asyncio.sleep(DISPATCH_DEBOUNCE)

    def reload(self, actor: str = "signal") -> ReloadResult:
        """Load the configuration file again; keep the running one if the new one is bad."""
        with self._reload_lock:
            try:
                fresh = load_config(self.settings.config_file)
            except ConfigError as exc:
                self.metrics.config_reloads.labels("failure").inc()
                self.metrics.config_last_reload_success.set(0)
                log.error("reload failed, keeping the running configuration: %s", exc)
                return ReloadResult(False, False, str(exc))
            if self.store.shared:
                rerouted = fresh.digest != self._config.digest and self._reroute(fresh, actor)
            else:
                fresh, rerouted = self._adopt(fresh, actor)
            changed = fresh.digest != self._config.digest
            self._config = fresh
            self.metrics.config_reloads.labels("success").inc()
            self.metrics.config_last_reload_success.set(1)
        if rerouted and self._loop is not None and self._dispatch_wake is not None:
            self._loop.call_soon_threadsafe(self._dispatch_wake.set)
        message = "configuration reloaded" if changed else "configuration unchanged"
        log.info("%s (%s)", message, fresh.digest[:12])
        return ReloadResult(True, changed, message)

    def _reroute(self, config: RouterConfig, actor: str) -> bool:
        """Route every firing alert again and audit why (PostgreSQL: each replica for itself)."""
        with self.store.write() as connection:
            self._record_reroute(connection, config, actor)
        return True

    def _adopt(self, config: RouterConfig, actor: str) -> tuple[RouterConfig, bool]:
        """Make ``config`` (just read from the file), or the file as it is by now if it has
        changed since, the active configuration of this SQLite database; return the one this
        process should use, and True if the record changed.

        The file's hash is compared again inside the write transaction, so processes record
        one after another, each the file as it is by then: a worker that read it while
        starting cannot make an older configuration active again after another worker
        reloaded a newer one (and re-route the alerts with it). A changed file is parsed
        outside the transaction (a large configuration takes seconds to compile, too long to
        hold the write lock), then checked again. A file that is unreadable or invalid by then
        changes nothing already recorded: only a first start records ``config``.

        Whoever changes the record re-routes the firing alerts and writes the audit entry, in
        the same transaction, so with several workers that happens once per configuration.
        """
        path = self.settings.config_file
        refused: str | None = None  # the hash of a file content found invalid
        for _ in range(ADOPT_ATTEMPTS):
            with self.store.write() as connection:
                on_disk = file_digest(path)
                if on_disk == config.digest:
                    return config, self._record(connection, config, actor, replace=True)
                if on_disk is None or on_disk == refused:
                    return config, self._record(connection, config, actor, replace=False)
            try:
                config = load_config(path)
            except ConfigError as exc:
                log.warning("the configuration file changed and is refused: %s", exc)
                refused = on_disk
        with self.store.write() as connection:  # changing faster than it can be read
            return config, self._record(connection, config, actor, replace=False)

    def _record(
        self, connection: Connection, config: RouterConfig, actor: str, replace: bool
    ) -> bool:
        """Record ``config`` as the active one: always on a first start, else only if
        ``replace``; True if the record changed."""
        now = self.clock.now()
        previous = active_digest(connection)
        if previous == config.digest or (previous is not None and not replace):
            return False
        set_active_config(connection, config.digest, config.source, now)
        if previous is None:  # first start on this database: nothing was reloaded
            mark_firing_pending(connection, now)
        else:
            self._record_reroute(connection, config, actor)
        return True

    def _record_reroute(self, connection: Connection, config: RouterConfig, actor: str) -> None:
        now = self.clock.now()
        mark_firing_pending(connection, now)
        record_audit(
            connection, now, actor, "config.reload", config.source, {"digest": config.digest}
        )
