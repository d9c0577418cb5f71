"""The in-process event pipeline: a bounded queue, a background writer, a bounded final flush.

A callback runs inside the task process, and Airflow 3 kills that process 20 s after the task
reported its state. So a callback only puts the event on a queue and returns; a daemon thread
turns events into entries and writes them in batches; and when the process ends, a flush waits
at most ``flush_timeout_s`` for delivery before writing whatever is left to the spool. Failed
batches go to the spool too, and for a while after a failure (growing up to a minute) batches
go straight there, so a dead API costs one timeout, not one per batch.

Process ends are caught three ways, since Airflow ends its task processes in three ways:
``atexit`` (``airflow dags test``; Airflow 3's forked task runner runs the exit functions
registered after the fork), ``logging.shutdown()`` (Airflow 2's forked task runner calls it
just before ``os._exit``), and multiprocessing's finalizers (Airflow 2's DAG file processors).
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from observability.emit.held_termination import termination_held
from observability.emit.signal_mask import leave_signals_to_the_main_thread

if TYPE_CHECKING:  # loaded by the writer thread, off the callback's path
    from observability.emit.entry import EntryTarget
    from observability.emit.replay import BackgroundReplay
    from observability.emit.sink import LoggingSink
    from observability.emit.spool import Spool
    from observability.events import Event
    from observability.gcp import Endpoint
    from observability.settings import Settings

_log = logging.getLogger("composer_observability")

_WAKE = object()
"""Put on the queue by flush() so the writer sends its partial batch at once."""

DEFAULT_CAPACITY = 10_000
DEFAULT_FLUSH_TIMEOUT_S = 2.0
"""Queue bound until the settings (``queue_size``) are loaded by the writer."""
SPOOL_SHARE = 0.25
"""Part of a flush's time kept for spooling what was not delivered while the writer cannot
make entries yet: on a busy machine, formatting and saving a few events' fields then takes a
few hundred milliseconds. Once it can, spooling is a file write: a twentieth is kept."""
SPOOL_SHARE_READY = 0.05

_MAX_BACKOFF_S = 60.0


@dataclass
class EmitterStats:
    """Counters for tests, benchmarks and the final flush's report."""

    enqueued: int = 0
    delivered: int = 0
    spooled: int = 0
    rejected: int = 0
    batches: int = 0
    failures: int = 0


class Emitter:
    """Owns the queue and the writer thread of one process.

    The callback side touches only the queue. Everything slow to set up (settings, which
    import pydantic-settings; the Google clients; the spool folder) is set up by the writer
    thread, so even the first callback of a process returns in a few milliseconds.
    """

    def __init__(
        self,
        settings: Settings | Callable[[], Settings],
        sink: LoggingSink | None = None,
        spool: Spool | None = None,
    ) -> None:
        self._settings_source = settings
        self._given_sink, self._given_spool = sink, spool
        self.settings: Settings | None = None
        self.stats = EmitterStats()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._capacity = DEFAULT_CAPACITY
        self._ready = threading.Event()
        self._converting = threading.Event()
        """Set once the writer can make entries: until then a flush saves event fields."""
        self._setup_lock = threading.Lock()
        self._target: EntryTarget | None = None
        self._lock = threading.Lock()
        # The batch the writer holds: from the moment it leaves the queue (raw events) and, once
        # converted, as entries. A flush that times out spools it from whichever is there.
        self._held: list[Event | Mapping[str, Any]] = []
        self._held_entries: list[dict[str, Any]] | None = None
        self._held_spooled = False
        self._held_taken = 0
        """How much of the held batch a timed-out flush took; the writer spools the rest."""
        self._spooled_to: Path | None = None
        self._circuit_open_until = 0.0
        self._backoff_s = 1.0
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="composer-observability-writer", daemon=True
        )
        self._thread.start()

    # -- the callback side: cheap, never raises, never waits --------------------------------

    def emit(self, event: Event | Mapping[str, Any]) -> None:
        """Queue one event. If the queue is full, spool it now rather than drop it."""
        if self._queue.qsize() < self._capacity:
            self._queue.put_nowait(event)
            self.stats.enqueued += 1
            return
        self._spool_now([event])

    # -- setup, once, normally on the writer thread -------------------------------------------

    def _setup(self) -> None:
        with self._setup_lock:
            if self._ready.is_set():
                return
            from observability.emit.replay import BackgroundReplay
            from observability.emit.sink import LoggingSink
            from observability.emit.spool import Spool
            from observability.gcp import Endpoint

            source = self._settings_source
            settings = source if not callable(source) else source()
            self._endpoint: Endpoint = Endpoint.from_settings(settings)
            self._sink = self._given_sink or LoggingSink(self._endpoint)
            self.spool = self._given_spool or Spool(settings.spool_dir)
            self._capacity = settings.queue_size
            self.replay: BackgroundReplay = BackgroundReplay(settings, self._sink, self._endpoint)
            self.settings = settings
            self._ready.set()

    @property
    def _settings(self) -> Settings:
        assert self.settings is not None, "set up by the writer thread before use"
        return self.settings

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        leave_signals_to_the_main_thread()  # before any thread of ours or gRPC's starts
        # First what a flush needs to spool events before the rest is ready (a few ms).
        from observability.emit import raw_event  # noqa: F401

        try:
            self._setup()
        except Exception as exc:  # noqa: BLE001 - cannot happen with valid defaults; say so
            print(f"composer-observability: writer setup failed: {exc!r}", file=sys.stderr)
            return
        # The Google client costs about 0.3 s of CPU to import: on a busy worker, seconds. It
        # loads on a thread of its own while this one converts events, so that events are
        # entries (ready to spool at once) if the end of the process comes first.
        threading.Thread(
            target=self._warm_client, name="composer-observability-warm-up", daemon=True
        ).start()
        from observability.emit import entry  # noqa: F401 - the schema and redaction, loaded now

        self._converting.set()
        while True:
            batch = self._collect()
            if batch:
                self._deliver(batch)

    def _warm_client(self) -> None:
        try:
            self._sink.warm_up()
        except Exception as exc:  # noqa: BLE001 - delivery will fail and spool; say why once
            _log.warning("composer-observability: Logging client unavailable: %s", exc)

    def _hold(
        self, batch: list[Event | Mapping[str, Any]], item: Event | Mapping[str, Any]
    ) -> None:
        with self._lock:
            batch.append(item)

    def _collect(self) -> list[Event | Mapping[str, Any]]:
        """Wait for one event, then gather more until the batch is full, waited for, or woken.

        Taken events go straight into ``self._held``, so that no event is ever in neither the
        queue nor a place a timed-out flush can spool it from."""
        with self._lock:
            batch = self._held = []
            self._held_entries, self._held_spooled, self._held_taken = None, False, 0
        first = self._queue.get()
        if first is _WAKE:
            self._queue.task_done()
            return batch
        self._hold(batch, first)
        deadline = time.monotonic() + self._settings.batch_wait_s
        while len(batch) < self._settings.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _WAKE:
                self._queue.task_done()
                break
            self._hold(batch, item)
        return batch

    def _deliver(self, batch: list[Event | Mapping[str, Any]]) -> None:
        try:
            entries = [self._entry(event) for event in batch]
            with self._lock:
                spooled, late = self._held_spooled, entries[self._held_taken :]
                if not spooled:
                    self._held_entries = entries
            if spooled:  # a timed-out flush spooled the batch meanwhile
                self._spool_entries(late)  # what was taken off the queue as it did so
                return
            if time.monotonic() < self._circuit_open_until:
                self._spool_held()
            else:
                self._send(entries)
        finally:
            with self._lock:
                self._held, self._held_entries = [], None
            for _ in batch:
                self._queue.task_done()

    def _send(self, entries: list[dict[str, Any]]) -> None:
        from observability.emit.sink import DeliveryError
        from observability.emit.spool import REJECTED_DIR

        self.stats.batches += 1
        try:
            self._sink.write(entries, timeout=self._settings.send_timeout_s)
        except DeliveryError as exc:
            self.stats.failures += 1
            if exc.rejected:
                # partial_success: the other entries were stored; keep the refused ones aside.
                refused = [entries[index] for index in sorted(exc.rejected) if index < len(entries)]
                self.spool.write(refused, REJECTED_DIR)
                self.stats.rejected += len(refused)
                self.stats.delivered += len(entries) - len(refused)
                _log.warning("composer-observability: entries refused: %s", exc)
                return
            self._circuit_open_until = time.monotonic() + self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, _MAX_BACKOFF_S)
            _log.warning("composer-observability: delivery failed, spooling: %s", exc)
            self._spool_held()
            return
        self._backoff_s = 1.0
        self.stats.delivered += len(entries)
        self.replay.poke()  # Cloud Logging answers: deliver what earlier processes spooled

    # -- conversion and spooling --------------------------------------------------------------

    def _entry(self, event: Event | Mapping[str, Any]) -> dict[str, Any]:
        from observability.emit.entry import to_entry

        if self._target is None:
            self._target = self._resolve_target()
        return to_entry(event, self._target, self._settings.max_entry_bytes)

    def _resolve_target(self) -> EntryTarget:
        from observability.emit.entry import entry_target

        return entry_target(self._settings, self._endpoint)

    def _spool_entries(self, entries: list[dict[str, Any]]) -> None:
        if entries and self.spool.write(entries) is not None:
            self.stats.spooled += len(entries)
            self._spooled_to = self.spool.directory

    def _spool_held(self) -> None:
        """Spool the writer's batch, once: converted if it is, else converted here."""
        with self._lock:
            if not self._held or self._held_spooled:
                return
            self._held_spooled = True
            entries, raw = self._held_entries, list(self._held)
        self._spool_entries(entries if entries is not None else [self._entry(e) for e in raw])

    # -- flushing -----------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver or spool every queued event within ``timeout`` seconds.

        Delivery is waited for until a share of the time is left (``SPOOL_SHARE``); what is
        still undelivered then (queued, or in a hanging call) is spooled in the rest, without
        waiting for the writer, so the caller can let the process end. Returns True if nothing
        had to be spooled here.
        """
        if timeout is None:
            timeout = self.settings.flush_timeout_s if self.settings else DEFAULT_FLUSH_TIMEOUT_S
        end = time.monotonic() + timeout
        self._queue.put_nowait(_WAKE)
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                share = SPOOL_SHARE_READY if self._converting.is_set() else SPOOL_SHARE
                remaining = end - timeout * share - time.monotonic()
                if remaining <= 0:
                    break
                self._queue.all_tasks_done.wait(min(remaining, 0.1))
            done = not self._queue.unfinished_tasks
        if not done:
            self._spool_leftovers()
        return done

    def _spool_leftovers(self) -> None:
        """Spool what the deadline found undelivered: the writer's batch and the queue."""
        leftovers: list[Event | Mapping[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _WAKE:
                leftovers.append(item)
            self._queue.task_done()
        with self._lock:
            held_entries: list[dict[str, Any]] = []
            if self._held and not self._held_spooled:
                self._held_spooled, self._held_taken = True, len(self._held)
                if self._held_entries is not None:
                    held_entries = self._held_entries
                else:
                    leftovers[:0] = self._held
        self._spool_entries(held_entries)
        self._spool_now(leftovers)

    def _spool_now(self, items: list[Event | Mapping[str, Any]]) -> None:
        """Spool events at once, without waiting for the writer: as entries if it can make
        them, else as their redacted fields (``observability.emit.raw_event``), which a replay
        turns into entries. The writer's set-up can take seconds on a busy machine; the end
        of the process does not wait for it."""
        if not items:
            return
        if self._converting.is_set():
            self._spool_entries([self._entry(item) for item in items])
            return
        from observability.emit.raw_event import fallback_spool_dir, raw_fields
        from observability.emit.spool import Spool

        spool = self.spool if self._ready.is_set() else Spool(fallback_spool_dir())
        if spool.write_events([raw_fields(item) for item in items]) is not None:
            self.stats.spooled += len(items)
            self._spooled_to = spool.directory

    def abandon(self) -> None:
        """Make ``close()`` a no-op: used in a forked child, where the writer thread is gone."""
        self._closed = True

    def close(self) -> None:
        """The end of the process: one bounded flush; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._ready.is_set():
                self.replay.stop()
            with termination_held():
                self.flush()
            if self.stats.spooled:
                self._hand_off()
        except Exception as exc:  # noqa: BLE001 - never raise at interpreter exit
            print(f"composer-observability: final flush failed: {exc}", file=sys.stderr)

    def _hand_off(self) -> None:
        """Leave a replayer for what this process spooled, and say so: the one line the task
        log gets (these events are not lost, and not silent)."""
        from observability.emit.handoff import lifetime_s, start_replayer
        from observability.emit.raw_event import fallback_spool_dir

        settings = self.settings
        folder = settings.spool_dir if settings else fallback_spool_dir()
        pid = start_replayer(folder, lifetime_s(settings.replay_after_exit_s if settings else None))
        by = f"by replayer process {pid}" if pid else "by the next writer on this machine"
        print(
            f"composer-observability: {self.stats.spooled} events spooled to "
            f"{self._spooled_to}; they will be replayed {by}",
            file=sys.stderr,
            flush=True,
        )


class _FlushOnLoggingShutdown(logging.Handler):
    """A handler that handles no records; ``logging.shutdown()`` closing it flushes events."""

    def __init__(self, emitter: Emitter) -> None:
        super().__init__()
        self._emitter = emitter

    def emit(self, record: logging.LogRecord) -> None:
        """Records are not ours to handle."""

    def close(self) -> None:
        self._emitter.close()
        super().close()


def install_exit_hooks(emitter: Emitter) -> None:
    """Make every way an Airflow process ends run ``emitter.close()`` first."""
    atexit.register(emitter.close)
    # logging keeps every Handler in logging._handlerList and closes them in shutdown();
    # keeping a reference on the emitter keeps the weak reference there alive.
    emitter._logging_hook = _FlushOnLoggingShutdown(emitter)  # type: ignore[attr-defined]
    if "multiprocessing" in sys.modules:
        from multiprocessing import util

        util.Finalize(None, emitter.close, exitpriority=100)
