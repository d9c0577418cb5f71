"""Durable storage of log entries for the emulator: validation, dedup, keyset-paged listing.

Each entry is kept as its serialized ``LogEntry`` protobuf (see ``convert`` for why
not JSON text) next to the columns listing narrows by (parent, log id, timestamp, insert id,
severity, resource type), so a query is answered by SQL first and the Logging filter only
runs on the rows SQL could not rule out. Readers get entries in the REST JSON shape through
``StoredEntry.as_dict``. One SQLite file (``logging.db``, WAL) in the data directory holds
it all, so the data survives restarts.

Validation follows Cloud Logging's rules for a written entry, and each refusal names the
field, because that message is what a user of the emulator sees instead of Google's.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple
from urllib.parse import quote, unquote

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from observability.emulator.common.sqlite_db import SQLiteDatabase
from observability.emulator.log_entries.convert import (
    EntryInvalid,
    check_renderable,
    check_timestamp,
    entry_to_dict,
)
from observability.emulator.log_entries.depth import (
    decode_entry,
    drop_undecodable_proto_payload,
)

MAX_ENTRY_BYTES: Final = 256 * 1024
MAX_LABELS: Final = 64
MAX_LABEL_KEY_BYTES: Final = 512
MAX_LABEL_VALUE_BYTES: Final = 64 * 1024
MAX_LOG_ID_CHARS: Final = 511
MAX_FUTURE_NS: Final = 24 * 3600 * 1_000_000_000

PARENT_KINDS: Final = ("projects", "organizations", "folders", "billingAccounts")
"""The resource kinds a log can belong to (``projects/P``, ``folders/F``...)."""

_LOG_ID_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.")
"""What a LOG_ID may hold (Google: letters, digits, forward slash, underscore, hyphen, period)."""
_LOG_ID_ENCODED = _LOG_ID_ALLOWED | {"%"}
"""What may appear in the name as written: the allowed characters and %-escapes of them."""

# One index serves both dedup (same parent, timestamp and insertId) and the listing order.
# Each further index costs about 4 µs per written entry, a fifth of the ingest budget; the
# other narrowing columns are tested in SQL while walking this index, which is cheap next to
# decoding an entry for the filter. (Events all go to one log, so a log index would rarely
# narrow anything.)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id            INTEGER PRIMARY KEY,
    parent        TEXT NOT NULL,
    log_id        TEXT NOT NULL COLLATE NOCASE,
    ts            INTEGER NOT NULL,
    insert_id     TEXT NOT NULL,
    severity      INTEGER NOT NULL,
    resource_type TEXT NOT NULL COLLATE NOCASE,
    entry         BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries (parent, ts, insert_id);
CREATE TABLE IF NOT EXISTS logs (
    log_name TEXT PRIMARY KEY,
    parent   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deleted_logs (
    parent     TEXT NOT NULL,
    log_id     TEXT NOT NULL,
    deleted_ns INTEGER NOT NULL,
    PRIMARY KEY (parent, log_id)
) WITHOUT ROWID;
"""

Cursor = tuple[int, str, int]
"""Position in the listing order: (timestamp ns, insert id, row id)."""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def clamp_int64(number: int) -> int:
    """``number`` clamped into SQLite's 64-bit INTEGER, for the indexed columns.

    Cloud Logging accepts timestamps from year 1 to 9999, but nanoseconds since the epoch
    overflow 64 bits outside 1677-2262 (and a filter may say ``severity>=1e30``). The
    columns only order and narrow (the entry keeps its exact timestamp), and clamping is
    monotonic, so ``ts >= clamp(x)`` still holds for every entry at or after ``x``:
    narrowing by clamped bounds never drops a match.
    """
    return _INT64_MIN if number < _INT64_MIN else _INT64_MAX if number > _INT64_MAX else number


@dataclass(frozen=True, slots=True)
class SqlClause:
    """A WHERE fragment over the indexed columns with its parameters; empty means no narrowing."""

    sql: str = "1"
    params: tuple[object, ...] = ()


class PreparedEntry(NamedTuple):
    """A validated entry with the server-set fields filled in: a row of ``entries``.

    A named tuple, not a dataclass: it is made once per written entry and passed to SQLite
    as it is, and a frozen dataclass costs three times as much to build.
    """

    parent: str
    log_id: str
    ts: int
    insert_id: str
    severity: int
    resource_type: str
    blob: bytes


class StoredEntry:
    """An entry read back: its protobuf bytes, and its REST JSON dict made on first use."""

    __slots__ = ("_dict", "blob")

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self._dict: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as ``entries.list`` returns it over REST (what filters evaluate)."""
        if self._dict is None:
            self._dict = entry_to_dict(decode_entry(self.blob))
        return self._dict

    def add_to(self, entries: Any) -> None:
        """Append the entry to a repeated ``LogEntry`` field (a gRPC ListLogEntriesResponse).

        Decoding straight into the response is the fast path; an entry an older emulator
        stored too deep to decode is appended cut instead (``depth``).
        """
        target = entries.add()
        try:
            target.MergeFromString(self.blob)
        except DecodeError:
            target.Clear()
            target.CopyFrom(decode_entry(self.blob))
        else:
            drop_undecodable_proto_payload(target)


@dataclass(slots=True)
class Prepared:
    """The outcome of validating a batch: entries to store, the (log name, parent) pairs
    they belong to, and refusals by batch index."""

    entries: list[PreparedEntry] = field(default_factory=list)
    logs: set[tuple[str, str]] = field(default_factory=set)
    errors: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogName:
    """A parsed ``PARENT/logs/LOG_ID``; ``log_id`` is URL-decoded, ``name`` canonical."""

    parent: str
    log_id: str
    name: str


_WITHOUT_PROJECT_LABEL: Final = frozenset({"organization", "folder", "billing_account"})


def has_project_label(resource_type: str) -> bool:
    """Whether the monitored resource type has a ``project_id`` label Cloud Logging fills in.

    Cloud Logging sets ``resource.labels.project_id`` to the project an entry is written to
    when the writer left it out (Google's system test test_log_text_with_resource writes a
    ``gae_app`` without it and reads it back with it). In Google's monitored resource list
    every plain type has that label except the three above, which name their own parent
    (``organization_id``, ``folder_id``, ``account_id``); service-qualified types
    (``datastream.googleapis.com/Stream``) name theirs in ``resource_container`` instead.
    """
    return "/" not in resource_type and resource_type not in _WITHOUT_PROJECT_LABEL


def parse_parent(text: str) -> str | None:
    """``projects/P`` (or another parent kind) if ``text`` names one, else None."""
    kind, _, ident = text.partition("/")
    if kind in PARENT_KINDS and ident and "/" not in ident:
        return text
    return None


@functools.lru_cache(maxsize=1024)
def parse_log_name(text: str) -> LogName:
    """Split and check a log name; raises EntryInvalid naming ``logName``.

    A leading slash is dropped as Google does for backward compatibility; the LOG_ID may
    be URL-encoded or use the few characters Google allows raw, and is stored decoded
    (what ``log_id()`` compares with) while the name is re-encoded canonically.
    """
    if not text:
        raise EntryInvalid("logName: required (set it on the entry or on the request)")
    head, sep, log_id = text.removeprefix("/").partition("/logs/")
    parent = parse_parent(head)
    if not sep or parent is None or not log_id:
        raise EntryInvalid(
            f"logName: must be projects/[PROJECT_ID]/logs/[LOG_ID] "
            f"(or organizations/, folders/, billingAccounts/), got {text!r}"
        )
    if len(log_id) > MAX_LOG_ID_CHARS:
        raise EntryInvalid(
            f"logName: LOG_ID must be shorter than 512 characters, got {len(log_id)}"
        )
    # The encoding is how a '/' travels inside the name; Google's rule on the characters is
    # about the LOG_ID itself, so it applies after decoding: "%20" is a space, refused.
    decoded = unquote(log_id)
    bad = sorted((set(log_id) - _LOG_ID_ENCODED) | (set(decoded) - _LOG_ID_ALLOWED))
    if bad:
        raise EntryInvalid(
            f"logName: LOG_ID may only hold letters, digits, '/', '_', '-' and '.' (raw or "
            f"URL-encoded), got {''.join(bad)!r} in {log_id!r}"
        )
    return LogName(parent, decoded, f"{parent}/logs/{quote(decoded, safe='')}")


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def _check_labels(labels: Any) -> None:
    """Refuse too many labels; cut keys and values that are too long, as Google does."""
    if len(labels) > MAX_LABELS:
        raise EntryInvalid(f"labels: {len(labels)} labels, at most {MAX_LABELS} are allowed")
    # A character is at most 4 UTF-8 bytes: only encode when a limit could be reached.
    long_keys = [
        key
        for key in labels
        if len(key) * 4 > MAX_LABEL_KEY_BYTES or len(labels[key]) * 4 > MAX_LABEL_VALUE_BYTES
    ]
    for key in long_keys:
        value = labels.pop(key)
        labels[_truncate_utf8(key, MAX_LABEL_KEY_BYTES)] = _truncate_utf8(
            value, MAX_LABEL_VALUE_BYTES
        )


class LoggingStore:
    """Thread-safe SQLite store of log entries; one connection per thread, writes serialized."""

    SCAN_LIMIT: Final = 20_000
    """Rows one listing call may examine before it answers with what it has and a cursor,
    so that a very selective filter over a large store cannot hold a request for long
    (Cloud Logging too may return a short or empty page with a next page token)."""

    SCAN_SECONDS: Final = 1.0
    """The same bound in time: a filter that is costly on every row (regexes over large
    payloads) answers after about this long with a cursor, instead of holding the call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SQLiteDatabase(path, _SCHEMA)
        self._id_lock = threading.Lock()
        self._last_generated = 0
        rows = self._db.connection().execute("SELECT parent, log_id, deleted_ns FROM deleted_logs")
        self._deleted: dict[tuple[str, str], int] = {
            (parent, log_id): deleted_ns for parent, log_id, deleted_ns in rows
        }
        """When each deleted log was deleted: entries older than that are not stored."""

    def close(self) -> None:
        """Close every thread's connection (call once no request is running)."""
        self._db.close()

    # -- writing -------------------------------------------------------------------

    def _generated_ids(self, count: int) -> Iterator[str]:
        """Insert ids that sort in batch order and never repeat, even across restarts."""
        with self._id_lock:
            first = max(time.time_ns(), self._last_generated + 1)
            self._last_generated = first + count - 1
        return (f"{first + i:016x}" for i in range(count))

    def prepare(self, entries: Sequence[Any]) -> Prepared:
        """Validate raw ``LogEntry`` protobufs (request defaults already applied).

        Fills what the server owns: ``receiveTimestamp``, and ``timestamp`` and
        ``insertId`` when absent; entries are changed in place.
        """
        now = time.time_ns()
        now_pb = timestamp_pb2.Timestamp(seconds=now // 1_000_000_000, nanos=now % 1_000_000_000)
        new_ids = self._generated_ids(sum(1 for entry in entries if not entry.insert_id))
        prepared = Prepared()
        for index, entry in enumerate(entries):
            try:
                prepared.entries.append(self._prepare_one(entry, now, now_pb, new_ids))
            except EntryInvalid as error:
                prepared.errors[index] = str(error)
            else:
                prepared.logs.add((entry.log_name, prepared.entries[-1].parent))
        return prepared

    @staticmethod
    def _prepare_one(
        entry: Any, now: int, now_pb: timestamp_pb2.Timestamp, new_ids: Iterator[str]
    ) -> PreparedEntry:
        log_name = parse_log_name(entry.log_name)
        if entry.log_name != log_name.name:
            entry.log_name = log_name.name
        if not entry.resource.type:
            raise EntryInvalid(
                "resource.type: required (give the entry or the request a monitored resource)"
            )
        labels = entry.resource.labels
        if "project_id" not in labels and has_project_label(entry.resource.type):
            project = log_name.parent.partition("projects/")[2]
            if project:  # about 2 µs an entry, with the check
                labels["project_id"] = project
        if entry.HasField("timestamp"):
            check_timestamp(entry.timestamp, "timestamp")
            ts = entry.timestamp.seconds * 1_000_000_000 + entry.timestamp.nanos
            if ts > now + MAX_FUTURE_NS:
                raise EntryInvalid(
                    f"timestamp: {entry.timestamp.ToJsonString()} is more than 24 hours "
                    "in the future"
                )
        else:
            ts = now
            entry.timestamp.CopyFrom(now_pb)
        entry.receive_timestamp.CopyFrom(now_pb)
        if not entry.insert_id:
            entry.insert_id = next(new_ids)
        if entry.labels:
            _check_labels(entry.labels)
        check_renderable(entry)
        blob = entry.SerializeToString()
        if len(blob) > MAX_ENTRY_BYTES:
            raise EntryInvalid(
                f"log entry of {len(blob)} bytes exceeds the maximum size of "
                f"{MAX_ENTRY_BYTES} bytes"
            )
        return PreparedEntry(
            log_name.parent,
            log_name.log_id,
            clamp_int64(ts),
            entry.insert_id,
            entry.severity,
            entry.resource.type,
            blob,
        )

    def insert(self, prepared: Prepared) -> None:
        """Store the valid entries of a prepared batch, skipping duplicates.

        A duplicate is an entry of the same parent with the same ``insertId`` and the
        same timestamp, which is how Cloud Logging recognizes a replayed write.
        """
        if not prepared.entries:
            return
        with self._db.transaction() as conn:
            entries, logs = prepared.entries, prepared.logs
            if self._deleted:
                entries, logs = self._after_deletes(entries, logs)
            conn.executemany(
                "INSERT OR IGNORE INTO entries"
                " (parent, log_id, ts, insert_id, severity, resource_type, entry)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                entries,
            )
            conn.executemany("INSERT OR IGNORE INTO logs (log_name, parent) VALUES (?, ?)", logs)

    def _after_deletes(
        self, entries: list[PreparedEntry], logs: set[tuple[str, str]]
    ) -> tuple[list[PreparedEntry], set[tuple[str, str]]]:
        """The entries (and their logs) a DeleteLog has not already deleted.

        The API reference for DeleteLog: "Entries received after the delete operation with
        a timestamp before the operation will be deleted." They were received (log-based
        metrics counted them, as they count at ingestion), so they are dropped here, at
        storage, and newer entries make the log reappear.
        """
        deleted = self._deleted
        kept = [e for e in entries if e.ts >= deleted.get((e.parent, e.log_id), e.ts)]
        if len(kept) == len(entries):
            return entries, logs
        live = {(e.parent, e.log_id) for e in kept}
        return kept, {
            (name, parent) for name, parent in logs if (parent, parse_log_name(name).log_id) in live
        }

    def delete_log(self, log: LogName, now_ns: int) -> bool:
        """DeleteLog: remove every entry of ``log``; False if it had none (NOT_FOUND).

        Log ids compare exactly here (the listing column's NOCASE is for filters), and the
        deletion time is remembered for ``_after_deletes``.
        """
        with self._db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM entries WHERE parent = ? AND log_id = ? COLLATE BINARY",
                (log.parent, log.log_id),
            ).rowcount
            removed += conn.execute("DELETE FROM logs WHERE log_name = ?", (log.name,)).rowcount
            if not removed:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO deleted_logs (parent, log_id, deleted_ns) VALUES (?, ?, ?)",
                (log.parent, log.log_id, now_ns),
            )
            self._deleted[(log.parent, log.log_id)] = now_ns
        return True

    # -- reading -------------------------------------------------------------------

    def list_entries(
        self,
        parents: Sequence[str],
        narrowing: SqlClause,
        matches: Callable[[dict[str, Any]], bool] | None,
        *,
        descending: bool,
        page_size: int,
        after: Cursor | None = None,
    ) -> tuple[list[StoredEntry], Cursor | None]:
        """One page of entries of ``parents`` in timestamp order (ties by insert id).

        ``narrowing`` is applied in SQL, ``matches`` (the compiled filter) to each row SQL
        returns. The cursor returned continues after the last row examined; it is None
        once nothing is left.
        """
        direction = "DESC" if descending else "ASC"
        params: list[object] = [*parents, *narrowing.params]
        keyset = ""
        if after is not None:
            keyset = f" AND (ts, insert_id, id) {'<' if descending else '>'} (?, ?, ?)"
            params.extend(after)
        sql = (
            "SELECT ts, insert_id, id, entry FROM entries"
            f" WHERE parent IN ({', '.join('?' * len(parents))}) AND ({narrowing.sql}){keyset}"
            f" ORDER BY ts {direction}, insert_id {direction}, id {direction}"
            f" LIMIT {self.SCAN_LIMIT + 1}"
        )
        page: list[StoredEntry] = []
        last: Cursor | None = None
        deadline = time.monotonic() + self.SCAN_SECONDS
        # Closing the cursor ends the read transaction even when the page fills early.
        with closing(self._db.connection().execute(sql, params)) as rows:
            for scanned, (ts, insert_id, row_id, blob) in enumerate(rows):
                if scanned == self.SCAN_LIMIT or (last and time.monotonic() > deadline):
                    return page, last  # out of budget with rows left: continue from here
                last = (ts, insert_id, row_id)
                entry = StoredEntry(blob)
                if matches is None or matches(entry.as_dict()):
                    page.append(entry)
                    if len(page) == page_size:
                        more = rows.fetchone() is not None
                        return page, last if more else None
        return page, None

    def list_logs(
        self, parents: Sequence[str], page_size: int, after: str | None = None
    ) -> tuple[list[str], str | None]:
        """Names of the logs that have entries in ``parents``, sorted; cursor is a name."""
        params: list[object] = list(parents)
        keyset = ""
        if after is not None:
            keyset = " AND log_name > ?"
            params.append(after)
        rows = self._db.connection().execute(
            f"SELECT log_name FROM logs WHERE parent IN ({', '.join('?' * len(parents))})"
            f"{keyset} ORDER BY log_name LIMIT {page_size + 1}",
            params,
        )
        names = [name for (name,) in rows]
        if len(names) > page_size:
            return names[:page_size], names[page_size - 1]
        return names, None
