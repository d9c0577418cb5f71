"""The journal applier: stores journaled ingest requests in the database, in large batches.

Requests are acknowledged once they are in the ingest journal (``journal``); this is the step
that makes them alerts in the tables, routed into their groups, in the same transaction that
records how far each journal segment has been applied: a record is applied exactly once, even
if the process dies in the middle. One process applies (the dispatcher of the database, see
``runtime``); it reads every process's segments, so ``router serve --workers N`` shares one
writer and one transaction for all of them instead of taking turns on the database.

Order: a batch takes, from each segment, only records received up to a time that no unread
record can precede: a request sent after another one was acknowledged (an alert resolved after
it fired) is applied after it, whichever processes received them.

Batches are large when there is a backlog (a storm), so the work per alert drops as the load
rises; at a trickle each request is applied within milliseconds of its answer. Reads of the
API wait until what was acknowledged before them has been applied (``wait_applied``), so a
client that posts an alert and then lists alerts sees it. A record that cannot be stored (it
fails validation after an upgrade, or keeps failing its transaction) is kept in
``rejected_requests`` with the reason, never dropped.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import OperationalError

from observability.router.alert_store import Submission, record_submission, write_routed
from observability.router.clock import Clock
from observability.router.config import RouterConfig
from observability.router.journal import (
    JournalRecord,
    SegmentRead,
    finished,
    read_segment,
    segments,
)
from observability.router.metrics import RouterMetrics
from observability.router.store import Store, journal_progress, rejected_requests

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
"""Records per segment per transaction: large enough to amortise the commit, small enough to
keep the write lock for well under a second."""
MAX_BYTES = 4 * 1024 * 1024
"""Bytes per segment per transaction: a storm of large posts stays a bounded transaction."""
POLL_INTERVAL = 0.02
"""How often other processes' segments are looked at (this process's wake the applier)."""
APPLY_INTERVAL = 0.1
"""Least time between two batches: under load, requests gather into one large transaction
(the cost per alert falls several times from batches of ten to batches of hundreds) and the
applier leaves the CPU to the requests; when idle, a request is applied within this time."""
FINISH_INTERVAL = 0.5
"""How often finished segments are looked for, to be deleted once applied."""
ISOLATE_AFTER = 3
"""Failed attempts at one batch before its records are tried one by one (one that fails alone
is kept aside in ``rejected_requests``): one bad record must not stop the journal."""
STOP_DRAIN_SECONDS = 20.0
"""How long a stopping applier keeps applying what other processes still append."""
CLOCK_SLACK = 5.0
"""Records this far ahead of the clock mean the wall clock went back (see ``_next_batch``)."""
ABANDONED_PARTIAL_SECONDS = 60.0
"""Age after which a half-created segment (``*.new``) nobody holds is deleted."""


_Pending = tuple[str, int, JournalRecord]
"""A record to apply: its segment's name, the offset just after it, the record."""


def _reached(pending: list[_Pending]) -> dict[str, int]:
    """How far each segment gets once ``pending`` is applied (a prefix of each segment)."""
    reached: dict[str, int] = {}
    for name, end, _ in pending:
        reached[name] = max(end, reached.get(name, 0))
    return reached


class ProgressConflict(RuntimeError):
    """Another applier moved a segment's progress: this one must re-read where things are."""


_NOT_THE_RECORDS = (OperationalError, OSError, MemoryError)
"""Failures of the database or the machine (locked, disk full, I/O, a missing column after an
upgrade): retried for as long as they last, never blamed on a record."""


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
        self._state = threading.Lock()
        self._stopping = False
        self._finished_at = 0.0
        self._thread = threading.Thread(target=self._run, name="journal-applier", daemon=True)

    def start(self) -> None:
        """Start applying from the recorded progress (unless already stopped)."""
        with self._state:
            if self._stopping:
                return
            self._thread.start()

    def resume(self) -> None:
        """Where each segment was left, as recorded in the database."""
        self._offsets = self._load_progress()

    def wake(self) -> None:
        """Something was appended: apply it now rather than at the next poll."""
        self._wake.set()

    def close(self) -> bool:
        """Apply what is in the journal, then stop; False if the thread is still running."""
        with self._state:
            self._stopping = True
            started = self._thread.is_alive()
        if not started:
            return True
        self._wake.set()
        self._thread.join(timeout=STOP_DRAIN_SECONDS + 30)
        return not self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        resumed = False
        while True:
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()
            stopping = self._stopping
            try:
                if not resumed:
                    self.resume()
                    resumed = True
                if stopping:
                    self._drain()
                    return
                while self.apply_once() and not self._stopping:
                    self._finish_now_and_then()
                    time.sleep(APPLY_INTERVAL)
                failures = 0
                self._finish_now_and_then()
            except ProgressConflict as exc:
                log.error("%s: reading the recorded progress again", exc)
                resumed = False
            except _NOT_THE_RECORDS as exc:  # the database or the disk: retry, never reject
                log.error("applying the ingest journal failed, retrying: %s", exc)
                time.sleep(POLL_INTERVAL * 25)
                if stopping:
                    return
            except Exception:  # maybe one record: found and kept aside below
                failures += 1
                log.exception("applying the ingest journal failed (attempt %d)", failures)
                if failures >= ISOLATE_AFTER:
                    failures = 0
                    self._isolate()
                time.sleep(POLL_INTERVAL * 10)
                if stopping:
                    return

    def _drain(self) -> None:
        """At stop: apply what is there, for a bounded time (other processes may append)."""
        deadline = time.monotonic() + STOP_DRAIN_SECONDS
        try:
            while self.apply_once() and time.monotonic() < deadline:
                pass
            self._finish_segments()
        except Exception:  # what is left is applied by the next applier
            log.exception("applying the ingest journal at stop failed")

    def _finish_now_and_then(self) -> None:
        if time.monotonic() - self._finished_at > FINISH_INTERVAL:
            self._finish_segments()
            self._finished_at = time.monotonic()

    def apply_once(self, limit: int = MAX_RECORDS) -> int:
        """Apply the next batch of records, in the order they were received; how many."""
        pending = self._next_batch(limit)
        if pending:
            self._apply(pending)
        return len(pending)

    def _apply(self, pending: list[_Pending]) -> None:
        batch = [record for _, _, record in pending]
        reached = _reached(pending)
        timeout = self.config().resolve_timeout
        applied: list[tuple[str, Submission]] = []
        rejected: list[tuple[JournalRecord, str]] = []
        for record in batch:
            try:
                applied.append((record.source, record_submission(record, timeout)))
            except ValidationError as exc:
                rejected.append((record, f"no longer valid: {exc}"))
        with self.store.write() as connection:
            stale = write_routed(
                connection,
                self.store,
                [submission for _, submission in applied],
                self.clock.now(),
                self.config(),
            )
            self._reject(connection, rejected)
            self._save_progress(connection, reached)
        self._offsets.update(reached)
        # Committed: what follows must not count as the records' failure.
        try:
            # Counted per (source, outcome), not per alert: a batch has thousands of alerts.
            received = Counter(
                (source, outcome)
                for source, submission in applied
                for outcome in submission.outcomes
            )
            for (source, outcome), count in received.items():
                self.metrics.alerts_received.labels(source, outcome).inc(count)
            self.on_commit(stale)
        except Exception:  # the records are stored; the dispatcher polls anyway
            log.exception("after applying journal records")

    def _next_batch(self, limit: int) -> list[_Pending]:
        """Records to apply now, oldest first, and the offset each segment reaches with them.

        Only records received up to ``horizon`` are taken: not after this call began (one
        received later may follow one not yet written when its segment was read), and not
        after the newest record read from a segment cut off by the limits (its unread records
        may be older than what other segments offer).
        """
        horizon = self.clock.now()
        reads: list[tuple[str, SegmentRead]] = []
        for path in segments(self.directory):
            read = read_segment(path, self._offsets.get(path.name, 0), limit, MAX_BYTES)
            if read.records:
                reads.append((path.name, read))
        ahead = [read.records[0][1].received_at for _, read in reads]
        if ahead and min(ahead) > horizon + CLOCK_SLACK:
            # The wall clock went back: what was received "later" would wait for it to catch
            # up. Apply in the order of the segments' own clocks meanwhile.
            log.warning("journal records are %.0f s ahead of the clock", min(ahead) - horizon)
            horizon = max(ahead)
        cut = [max(r.received_at for _, r in read.records) for _, read in reads if read.more]
        horizon = min(horizon, min(cut, default=math.inf))
        ordered: list[tuple[float, _Pending]] = []
        for name, read in reads:
            latest = -math.inf
            for end, record in read.records:
                if record.received_at > horizon:
                    break  # a segment is applied in order: the rest waits for the next batch
                # A segment's own order is kept: a record never sorts before one written
                # earlier in its segment, even if the clock stepped back between them.
                if record.received_at > latest:
                    latest = record.received_at
                ordered.append((latest, (name, end, record)))
        ordered.sort(key=itemgetter(0))
        return [item for _, item in ordered]

    def _isolate(self) -> None:
        """Apply the next batch one record at a time: a record that fails alone, for a reason
        that is not the database's, is kept aside in ``rejected_requests`` so that the
        records behind it are applied."""
        try:
            for item in self._next_batch(MAX_RECORDS):
                try:
                    self._apply([item])
                except (ProgressConflict, *_NOT_THE_RECORDS):
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded with the record
                    error = f"{type(exc).__name__}: {exc}"
                    reached = _reached([item])
                    with self.store.write() as connection:
                        self._reject(connection, [(item[2], error)])
                        self._save_progress(connection, reached)
                    self._offsets.update(reached)
        except Exception:  # the loop retries
            log.exception("applying journal records one by one failed")

    def _reject(self, connection: Connection, records: list[tuple[JournalRecord, str]]) -> None:
        for record, error in records:
            log.error("journal record from %s kept aside: %s", record.source, error)
            self.metrics.requests_invalid.labels("journal").inc()
        if records:
            connection.execute(
                insert(rejected_requests),
                [
                    {
                        "source": record.source,
                        "received_at": record.received_at,
                        "body": record.body.decode("utf-8", "replace"),
                        "error": error[:2000],
                        "rejected_at": self.clock.now(),
                    }
                    for record, error in records
                ],
            )

    def _save_progress(self, connection: Connection, reached: dict[str, int]) -> None:
        """Record the new offsets, only from where this applier left them (compare and set):
        a second applier, however it came to run, fails instead of applying twice."""
        for name, offset in reached.items():
            if name not in self._offsets:
                created = connection.execute(
                    self.store.insert(journal_progress)
                    .values(segment=name, applied_offset=offset)
                    .on_conflict_do_nothing(index_elements=["segment"])
                )
                if created.rowcount != 1:
                    raise ProgressConflict(f"journal segment {name} was applied by another process")
                continue
            moved = connection.execute(
                update(journal_progress)
                .where(
                    journal_progress.c.segment == name,
                    journal_progress.c.applied_offset == self._offsets[name],
                )
                .values(applied_offset=offset)
            )
            if moved.rowcount != 1:
                raise ProgressConflict(f"journal segment {name} was applied by another process")

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
            try:
                age = time.time() - partial.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < ABANDONED_PARTIAL_SECONDS:
                continue  # maybe being created this moment, not yet locked
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
