"""A running router: its configuration (reloadable), database, writer and background loops.

The HTTP layer (``app``) only talks to this object. Reloading (SIGHUP or ``POST /-/reload``)
swaps the compiled configuration atomically, or keeps the running one and says why; after a
change, firing alerts are routed again, as Alertmanager does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from observability.router.alert_store import AlertWriter
from observability.router.auth import Authenticator
from observability.router.clock import Clock, SystemClock
from observability.router.config import ConfigError, RouterConfig, load_config
from observability.router.dispatcher import Dispatcher, PassReport
from observability.router.history import record_audit
from observability.router.metrics import RouterMetrics
from observability.router.outbox import Courier, Outbox
from observability.router.settings import RouterSettings
from observability.router.store import Store

log = logging.getLogger(__name__)

# Passes are at least this far apart: new alerts wait a moment to be routed in one batch
# instead of taking the database's write lock after every single commit of the ingest.
DISPATCH_DEBOUNCE = 0.2


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: bool
    message: str


class RouterRuntime:
    def __init__(self, settings: RouterSettings, clock: Clock | None = None) -> None:
        self.settings = settings
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
        self.courier = Courier(
            self.outbox, lambda: self._config, self.metrics, settings.poll_interval
        )
        self.writer = AlertWriter(
            self.store, self.clock, self._alerts_committed, lambda: self._config
        )
        self.metrics.watch_outbox(self.outbox.depths)
        self.metrics.config_last_reload_success.set(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatch_wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.ready = False

    @property
    def config(self) -> RouterConfig:
        return self._config

    async def start(self) -> None:
        """Open the database, resume unfinished work, start the loops."""
        self._loop = asyncio.get_running_loop()
        self._dispatch_wake = asyncio.Event()
        await asyncio.to_thread(self.store.create_schema)
        if not self.store.shared:
            released = await asyncio.to_thread(self.outbox.release_all)
            if released:
                log.info("resuming %d notices a previous run had claimed", released)
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="dispatcher"),
            asyncio.create_task(self.courier.run(), name="courier"),
        ]
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
        await asyncio.to_thread(self.writer.close)
        self.courier.stop()
        if self._dispatch_wake:
            self._dispatch_wake.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.store.dispose()

    def _alerts_committed(self) -> None:
        """Called by the writer thread after each commit: route the new alerts soon."""
        if self._loop is not None and self._dispatch_wake is not None:
            self._loop.call_soon_threadsafe(self._dispatch_wake.set)

    async def _dispatch_loop(self) -> None:
        assert self._dispatch_wake is not None
        while not self._stopping:
            self._dispatch_wake.clear()
            try:
                report = await asyncio.to_thread(self.dispatcher.run_once)
                due = await asyncio.to_thread(self.dispatcher.next_due)
            except Exception:  # log it and try again: the database may be back
                log.exception("dispatch pass failed")
                report, due = PassReport(), None
            if report.notices:
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
            changed = fresh.digest != self._config.digest
            self._config = fresh
            self.metrics.config_reloads.labels("success").inc()
            self.metrics.config_last_reload_success.set(1)
        if changed:
            self.dispatcher.reroute_all()
            with self.store.write() as connection:
                record_audit(
                    connection,
                    self.clock.now(),
                    actor,
                    "config.reload",
                    fresh.source,
                    {"digest": fresh.digest},
                )
            if self._loop is not None and self._dispatch_wake is not None:
                self._loop.call_soon_threadsafe(self._dispatch_wake.set)
        message = "configuration reloaded" if changed else "configuration unchanged"
        log.info("%s (%s)", message, fresh.digest[:12])
        return ReloadResult(True, changed, message)
