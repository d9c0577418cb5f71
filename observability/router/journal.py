"""The ingest journal: accepted requests made durable by one append and one fsync.

Why: storing an alert in the database's tables costs a transaction that touches a page of every
index it is in; done before each answer, that capped SQLite ingest at about 1,200 alerts/s here
(20 KB written per alert). A request appended to a journal costs one sequential write, shared
with every request waiting at the same moment, and one ``fdatasync``. The journal applier
(``applier``) then stores the requests in the tables in large batches. A request is answered 2xx
only after its journal record is on disk, so a crash, even ``kill -9``, loses nothing that was
acknowledged: the applier resumes from where it had stopped.

Layout: a directory next to the SQLite database (``<database>-ingest``; SQLite's own rollback
journal is ``<database>-journal``) of segment files. Each
router process writes its own segment and holds an exclusive ``flock`` on it while it does: a
segment nobody holds is finished, and once applied it is deleted. Segments are filled with
zeros before use, so appending rewrites allocated blocks and ``fdatasync`` has no file size to
commit; a zero length marks where the records end. Each record is framed by its length and a
CRC-32, so a record torn by a crash is recognised and never applied (it was never answered).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from observability.file_lock import held_if_free
from observability.router.waiters import Waiter, answer, take_waiting

log = logging.getLogger(__name__)

SEGMENT_BYTES = 8 * 1024 * 1024
SUFFIX = ".seg"
_FRAME = struct.Struct(">II")  # payload length, CRC-32 of the payload
_META = struct.Struct(">cd")  # source, received_at
_READ_CHUNK = 1024 * 1024
_ZEROS = bytes(1024 * 1024)

CLOUD_MONITORING = "cloud_monitoring"
ALERTMANAGER = "alertmanager"
_SOURCE_CODES = {CLOUD_MONITORING: b"c", ALERTMANAGER: b"a"}
_SOURCES = {code: source for source, code in _SOURCE_CODES.items()}


@dataclass(frozen=True)
class JournalRecord:
    """One accepted ingest request: which endpoint, when, and its body as received."""

    source: str
    received_at: float
    body: bytes

    def frame(self) -> bytes:
        payload = _META.pack(_SOURCE_CODES[self.source], self.received_at) + self.body
        return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def journal_directory(database: str) -> Path:
    """Where the journal of the SQLite database file ``database`` lives."""
    return Path(f"{database}-ingest")


def segments(directory: Path) -> list[Path]:
    """The segment files, oldest first (names start with their creation time)."""
    with contextlib.suppress(FileNotFoundError):
        return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX))
    return []


@dataclass(frozen=True)
class SegmentRead:
    """Records read from one segment: each with the offset just after it."""

    records: list[tuple[int, JournalRecord]]
    end: int
    """Offset after the last complete record read."""
    torn: bool = False
    """Bytes follow ``end`` that are not a complete record (being written, or torn)."""
    more: bool = False
    """Reading stopped at the caller's limit: more records may follow ``end``."""


def read_segment(
    path: Path, offset: int, limit: int | None = None, max_bytes: int | None = None
) -> SegmentRead:
    """The complete records of ``path`` from ``offset`` on: at most ``limit`` of them, and
    no more once ``max_bytes`` were read (the record that crosses it included)."""
    records: list[tuple[int, JournalRecord]] = []
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        file.seek(offset)
        data = b""
        cursor = 0  # index in data of the next frame
        base = offset  # file offset of data[0]

        def available(needed: int) -> bool:
            """Whether ``needed`` bytes from the cursor are read (reading more if not)."""
            nonlocal data, cursor, base
            while len(data) - cursor < needed:
                more = file.read(max(_READ_CHUNK, needed))
                if not more:
                    return False
                data = data[cursor:] + more
                base += cursor
                cursor = 0
            return True

        while True:
            position = base + cursor
            if (limit is not None and len(records) >= limit) or (
                max_bytes is not None and position - offset >= max_bytes
            ):
                return SegmentRead(records, position, more=True)
            if not available(_FRAME.size):
                return SegmentRead(records, position)
            length, crc = _FRAME.unpack_from(data, cursor)
            if length == 0 and crc == 0:
                return SegmentRead(records, position)  # the zeros after the last record
            if (
                length < _META.size
                or position + _FRAME.size + length > size  # a corrupt length: never read it
                or not available(_FRAME.size + length)
            ):
                return SegmentRead(records, position, torn=True)
            payload = data[cursor + _FRAME.size : cursor + _FRAME.size + length]
            code, received_at = _META.unpack_from(payload)
            source = _SOURCES.get(code)
            if zlib.crc32(payload) != crc or source is None:
                return SegmentRead(records, position, torn=True)
            cursor += _FRAME.size + length
            records.append(
                (base + cursor, JournalRecord(source, received_at, payload[_META.size :]))
            )


@contextlib.contextmanager
def finished(path: Path) -> Iterator[bool]:
    """Whether no process writes ``path`` any more (its writer's lock is free), held so while
    inside: a segment found finished stays so until the caller is done with it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    with held_if_free(descriptor) as free:
        yield free


class _Segment:
    """An open segment of this process, locked, zero-filled, written from ``end`` on."""

    def __init__(self, directory: Path, size: int) -> None:
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Created and locked under a name the applier ignores, renamed once it is ready: the
        # applier must never find this process's segment unlocked (it would delete it).
        partial = directory / f"{name}.new"
        self.path = directory / f"{name}{SUFFIX}"
        self.descriptor = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX)
            written = 0
            while written < size:
                written += os.write(self.descriptor, _ZEROS[: min(len(_ZEROS), size - written)])
                # A megabyte at a time: the disk never has a long write queued ahead of the
                # journal's own fdatasync (one 16 MB flush stalled ingest for ~100 ms).
                os.fdatasync(self.descriptor)
            os.fsync(self.descriptor)
            os.rename(partial, self.path)
            _sync_directory(directory)
        except BaseException:
            os.close(self.descriptor)
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        self.size = size
        self.end = 0

    def room(self) -> int:
        # A zero frame header must stay after the last record to mark the end.
        return self.size - self.end - _FRAME.size

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self.descriptor, view, self.end)
            self.end += written
            view = view[written:]
        os.fdatasync(self.descriptor)

    def close(self) -> None:
        os.close(self.descriptor)  # releases the lock: the segment is finished


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _Waiting(Waiter[None]):
    __slots__ = ("frame",)

    def __init__(self, frame: bytes) -> None:
        super().__init__()
        self.frame = frame


class JournalWriter:
    """This process's appender: one thread, one write and one fsync per batch of requests.

    ``on_durable`` is called after each batch reached the disk (the applier of this process,
    if it is the one applying, is woken by it instead of polling).
    """

    def __init__(
        self,
        directory: Path,
        on_durable: Callable[[], None] = lambda: None,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.directory = directory
        self.on_durable = on_durable
        self.segment_bytes = segment_bytes
        self._segment: _Segment | None = None
        self._spare: Future[_Segment] | None = None
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix="journal-spare")
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._closed = False
        # Closing and queueing exclude each other: a request queued after the stop sign would
        # wait forever.
        self._closing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then release the segments (the applier finishes them)."""
        with self._closing:
            self._closed = True
            if self._thread.is_alive():
                self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=30)
            if self._thread.is_alive():  # stuck in the disk: its segment is still in use
                log.error("the journal writer did not stop within 30 s")
                return
        self._preparer.shutdown(wait=True)
        spare = self._take_spare()
        for segment in (self._segment, spare):
            if segment is not None:
                segment.close()
        self._segment = None

    async def append(self, record: JournalRecord) -> None:
        """Returns once ``record`` is on disk; raises OSError if it could not be written."""
        waiting = _Waiting(record.frame())
        with self._closing:
            if self._closed:
                raise OSError("the ingest journal is closed")
            self._queue.put(waiting)
        await waiting.future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = take_waiting(self._queue, batch)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Waiting]) -> None:
        data = b"".join(waiting.frame for waiting in batch)
        try:
            self._segment_with_room(len(data)).append(data)
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear about it
            log.error("journal write failed: %s", exc)
            # What follows a failed write is unknown: never append after it.
            if self._segment is not None:
                with contextlib.suppress(OSError):
                    self._segment.close()
                self._segment = None
            answer(batch, exc, _nothing)
            return
        answer(batch, None, _nothing)
        self.on_durable()
        self._prepare_spare()

    def _segment_with_room(self, needed: int) -> _Segment:
        if self._segment is not None and self._segment.room() >= needed:
            return self._segment
        if self._segment is not None:
            segment, self._segment = self._segment, None
            segment.close()
        spare = self._take_spare()
        if spare is None or spare.room() < needed:
            if spare is not None:
                spare.close()
            spare = _Segment(self.directory, max(self.segment_bytes, needed + 2 * _FRAME.size))
        self._segment = spare
        return spare

    def _prepare_spare(self) -> None:
        """Once this segment is three-quarters full, zero-fill the next one on another thread,
        so that no request waits for a segment to be created."""
        if self._spare is not None or self._segment is None:
            return
        if self._segment.room() > self._segment.size // 4:
            return
        self._spare = self._preparer.submit(_Segment, self.directory, self.segment_bytes)

    def _take_spare(self) -> _Segment | None:
        """The prepared segment (waiting for it if it is still being filled), if any."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            return spare.result()
        except OSError as exc:
            log.warning("could not prepare the next journal segment: %s", exc)
            return None


def _nothing(_: object) -> None:
    return None
