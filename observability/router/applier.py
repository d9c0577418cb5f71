"""The journal applier: stores journaled ingest requests in the database, in large batches.

Requests are acknowledged once they are in the ingest journal (``journal``); this is the step
that makes them alerts in the tables, routed into their groups, in the same transaction that
records how far each journal segment has been applied: a record is applied exactly once, even
if the process dies in the middle. One process applies (the dispatcher of the database, see
``runtime``); it reads every process's segments, so ``router serve --workers N`` shares one
writer and one transaction for all of them instead of taking turns on the database.

Batches are large when there is a backlog (a storm), so the work per alert drops as the load
rises; at a trickle each request is applied within milliseconds of its answer. Reads of the
API wait until what was acknowledged before them has been applied (``wait_applied``), so a
client that posts an alert and then lists alerts sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Connection, delete, select

from observability.router.alert_store import Submission, record_submission, write_routed
from observability.router.clock import Clock
from observability.router.config import RouterConfig
from observability.router.journal import JournalRecord, finished, read_segment, segments
from observability.router.metrics import RouterMetrics
from observability.router.store import Store, journal_progress

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
"""Records per transaction: large enough to amortise the commit, small enough to keep the
write lock for well under a second."""
POLL_INTERVAL = 0.02
"""How often other processes' segments are looked at (this process's wake the applier)."""
APPLY_INTERVAL = 0.1
"""Least time between two batches: under load, requests gather into one large transaction
(the cost per alert falls several times from batches of ten to batches of hundreds) and the
applier leaves the CPU to the requests; when idle, a request is applied within this time."""
FINISH_INTERVAL = 0.5
"""How often finished segments are looked for, to be deleted once applied."""


class JournalApplier:
    """One thread that applies every segment of the journal ``directory`` to ``store``."""

    def __init__(
        self,
        directory: Path,
        store: Store,
        clock: Clock,
        config: Callable[[], RouterConfig],
        metrics: RouterMetrics,
        on_commit: Callable[[bool], None],
    ) -> None:
        self.directory = directory
        self.store = store
        self.clock = clock
        self.config = config
        self.metrics = metrics
        self.on_commit = on_commit
        self._offsets: dict[str, int] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._finished_at = 0.0
        self._thread = threading.Thread(target=self._run, name="journal-applier", daemon=True)

    def start(self) -> None:
        self._offsets = self._load_progress()
        self._thread.start()

    def wake(self) -> None:
        """Something was appended: apply it now rather than at the next poll."""
        self._wake.set()

    def close(self) -> None:
        """Apply what is in the journal, then stop."""
        if not self._thread.is_alive():
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()
            stopping = self._stopping
            try:
                while self.apply_once() and not stopping:
                    time.sleep(APPLY_INTERVAL)
                    stopping = self._stopping
                while stopping and self.apply_once():
                    pass
                if stopping or time.monotonic() - self._finished_at > FINISH_INTERVAL:
                    self._finish_segments()
                    self._finished_at = time.monotonic()
            except Exception:  # the database may be back at the next try; nothing is lost
                log.exception("applying the ingest journal failed")
                time.sleep(POLL_INTERVAL * 10)
                if stopping:
                    return
                continue
            if stopping:
                return

    def apply_once(self) -> int:
        """Apply the next batch of records (oldest first); how many there were."""
        batch: list[JournalRecord] = []
        reached: dict[str, int] = {}
        for path in segments(self.directory):
            room = MAX_RECORDS - len(batch)
            if room <= 0:
                break
            read = read_segment(path, self._offsets.get(path.name, 0), room)
            if read.records:
                batch.extend(record for _, record in read.records)
                reached[path.name] = read.end
        if not batch:
            return 0
        batch.sort(key=lambda record: record.received_at)
        timeout = self.config().resolve_timeout
        applied: list[tuple[str, Submission]] = []
        for record in batch:
            try:
                applied.append((record.source, record_submission(record, timeout)))
            except ValidationError as exc:
                log.error("journal record from %s no longer valid, skipped: %s", record.source, exc)
                self.metrics.requests_invalid.labels("journal").inc()
        with self.store.write() as connection:
            stale = write_routed(
                connection,
                self.store,
                [submission for _, submission in applied],
                self.clock.now(),
                self.config(),
            )
            _save_progress(connection, self.store, reached)
        self._offsets.update(reached)
        for source, submission in applied:
            for outcome in submission.outcomes:
                self.metrics.alerts_received.labels(source, outcome).inc()
        self.on_commit(stale)
        return len(batch)

    def _finish_segments(self) -> None:
        """Delete the segments no process writes any more and that are fully applied."""
        for path in segments(self.directory):
            offset = self._offsets.get(path.name, 0)
            with finished(path) as done:
                if not done:
                    continue
                read = read_segment(path, offset, limit=1)
                if read.records:
                    continue  # not applied yet: the next pass does
                if read.torn:
                    log.warning(
                        "journal segment %s ends in a torn record at %d (never acknowledged)",
                        path.name,
                        offset,
                    )
                # The file first: a progress row without its file is harmless, a file without
                # its progress row would be applied again.
                path.unlink()
            with self.store.write() as connection:
                connection.execute(
                    delete(journal_progress).where(journal_progress.c.segment == path.name)
                )
            self._offsets.pop(path.name, None)
        for partial in self.directory.glob("*.new"):
            with finished(partial) as done:
                if done:  # a process died creating it: nothing was ever written there
                    partial.unlink()

    def _load_progress(self) -> dict[str, int]:
        """The applied offsets, forgetting segments that are gone (deleted once applied)."""
        present = {path.name for path in segments(self.directory)}
        offsets = applied_offsets(self.store)
        gone = [name for name in offsets if name not in present]
        if gone:
            with self.store.write() as connection:
                connection.execute(
                    delete(journal_progress).where(journal_progress.c.segment.in_(gone))
                )
        return {name: offset for name, offset in offsets.items() if name in present}


def _save_progress(connection: Connection, store: Store, reached: dict[str, int]) -> None:
    statement = store.insert(journal_progress)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["segment"],
            set_={"applied_offset": statement.excluded.applied_offset},
        ),
        [{"segment": name, "applied_offset": offset} for name, offset in reached.items()],
    )


def applied_offsets(store: Store) -> dict[str, int]:
    with store.read() as connection:
        rows = connection.execute(select(journal_progress)).all()
    return {row.segment: row.applied_offset for row in rows}


def wait_applied(directory: Path, store: Store, timeout: float) -> bool:
    """Until every record complete in the journal now is applied; False if ``timeout`` passed
    first (the applier is behind or not running: the caller reads what there is)."""
    deadline = time.monotonic() + timeout
    offsets = applied_offsets(store)
    targets: dict[str, int] = {}
    for path in segments(directory):
        start = offsets.get(path.name, 0)
        try:
            end = read_segment(path, start).end
        except FileNotFoundError:
            continue  # applied and deleted meanwhile
        if end > start:
            targets[path.name] = end
    while targets:
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_INTERVAL / 4)
        offsets = applied_offsets(store)
        present = {path.name for path in segments(directory)}
        targets = {
            name: end
            for name, end in targets.items()
            if name in present and offsets.get(name, 0) < end
        }
    return True
