"""Replaying the spool: automatically, from any process's writer, and from the command line.

A short task process that could not deliver in time leaves its events in the spool and ends.
Nobody has to run a command for them: the next writer on the machine that stores a batch
(so Cloud Logging is reachable again) replays the spool in a background thread of its own,
holding the machine's replay lock, and looks again at most once a minute while it lives. The
callback never waits for it, and the end of the process does not either: a replay stops
between batches when asked, and one cut short harder (``os._exit``, ``kill -9``) leaves a claim
the next replay takes back. ``composer-obs spool replay`` runs the same replay in the
foreground.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from observability.emit.raw_event import fallback_spool_dir
from observability.emit.signal_mask import leave_signals_to_the_main_thread
from observability.emit.spool import ReplayReport, Spool

if TYPE_CHECKING:
    from observability.emit.sink import LoggingSink
    from observability.gcp import Endpoint
    from observability.settings import Settings

_log = logging.getLogger("composer_observability")

CHECK_EVERY_S = 60.0
"""How often a long-lived process looks at the spool again, at most."""


def spools(settings: Settings) -> list[Spool]:
    """The configured spool, and the folder a process that ended before loading its settings
    used, when that is another one (a spool folder set only in the YAML file)."""
    folders = [settings.spool_dir, fallback_spool_dir()]
    unique = [folder for index, folder in enumerate(folders) if folder not in folders[:index]]
    return [Spool(folder) for folder in unique]


def replay_spools(
    settings: Settings,
    sink: LoggingSink,
    endpoint: Endpoint,
    stop: threading.Event | None = None,
    wait_s: float = 0.0,
    only: Path | None = None,
) -> ReplayReport:
    """Replay every spool of these settings (or the folder ``only``) through ``sink``, waiting
    up to ``wait_s`` for another replay to finish; one report for all."""
    from observability.emit.entry import entry_target, to_entry
    from observability.emit.sink import entry_problem

    target = entry_target(settings, endpoint)

    def send(batch: list[dict[str, Any]]) -> dict[int, str]:
        return sink.write_refused(batch, timeout=settings.send_timeout_s)

    def convert(event_fields: dict[str, Any]) -> dict[str, Any]:
        return to_entry(event_fields, target, settings.max_entry_bytes)

    total = ReplayReport()
    for spool in [Spool(only)] if only is not None else spools(settings):
        report = spool.replay(
            send, settings.batch_size, entry_problem, convert, stop=stop, wait_s=wait_s
        )
        total.add(report)
    return total


class BackgroundReplay:
    """At most one replay thread per process, started by ``poke()``, stopped by ``stop()``."""

    def __init__(self, settings: Settings, sink: LoggingSink, endpoint: Endpoint) -> None:
        self._settings, self._sink, self._endpoint = settings, sink, endpoint
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._checked_at: float | None = None
        self.last_report: ReplayReport | None = None

    def poke(self) -> None:
        """Cloud Logging just stored a batch: replay the spool, unless a replay is running or
        the spool was looked at less than ``CHECK_EVERY_S`` ago. Returns at once."""
        now = time.monotonic()
        with self._lock:
            if self._stop.is_set() or self.running():
                return
            if self._checked_at is not None and now - self._checked_at < CHECK_EVERY_S:
                return
            self._checked_at = now
            self._thread = threading.Thread(
                target=self._run, name="composer-observability-replay", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Ask a running replay to stop after its current batch; does not wait for it."""
        self._stop.set()

    def running(self) -> bool:
        """Whether a replay thread is at work now."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def join(self, timeout: float) -> None:
        """Wait for a running replay (tests and the benchmark)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        leave_signals_to_the_main_thread()
        if not any(spool.files() for spool in spools(self._settings)):
            return
        try:
            report = replay_spools(self._settings, self._sink, self._endpoint, stop=self._stop)
        except Exception as exc:  # noqa: BLE001 - a replay never takes the writer down
            _log.warning("composer-observability: spool replay failed: %s", exc)
            return
        self.last_report = report
        if report.delivered or report.failed_files or report.quarantined:
            _log.info(
                "composer-observability: replayed %d spooled events (%d files left, "
                "%d lines quarantined)",
                report.delivered,
                len(report.failed_files),
                report.quarantined,
            )
