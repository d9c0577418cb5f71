"""The router's database: every table, and how to open SQLite or PostgreSQL for it.

All state lives here so that a restart, even ``kill -9``, resumes exactly where it stopped:
alerts, groups with their timers, the notification log that deduplicates, the outbox of
notices still to deliver, dead letters, silences and the history of every incident.

SQLite (WAL) is the embedded default for one machine, with one router process or several
(``router serve --workers N``). Its writers take the database lock at ``BEGIN IMMEDIATE`` so two
writers never deadlock upgrading a read lock, and readers use a second engine that does not
take it. Writers of different processes queue on a lock file next to the database first (see
``Store.write``), and only the holder of the dispatcher lock (``Store.dispatcher_lock``)
flushes groups and delivers. PostgreSQL is for several replicas sharing one database: rows
that must be worked on by one replica only are claimed with ``SELECT ... FOR UPDATE SKIP
LOCKED``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("incident_id", String(512), nullable=True, index=True),
    Column("incident_state", String(32), nullable=True),
    # Set when the alert (re)starts firing: the dispatcher has yet to route it into groups.
    Column("pending", Boolean, nullable=False),
)
Index("alerts_pending", alerts.c.pending)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(512), nullable=False),
    Column("state", String(32), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("incident_id", "state", name="incident_events_once"),
)

groups = Table(
    "alert_groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("group_key", Text, nullable=False),
    Column("route_id", Text, nullable=False),
    Column("receiver", String(256), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_flush_at", Float, nullable=False, index=True),
    Column("flushed_at", Float, nullable=True),
)

group_alerts = Table(
    "group_alerts",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("fingerprint", String(32), primary_key=True, index=True),
)

notification_log = Table(
    "notification_log",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("integration", String(512), primary_key=True),
    Column("firing", JSON, nullable=False),
    Column("resolved", JSON, nullable=False),
    Column("sent_at", Float, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(36), nullable=False, unique=True),
    Column("stream", String(600), nullable=False, index=True),
    Column("receiver", String(256), nullable=False),
    Column("integration", String(512), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("notice", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("claim_token", String(36), nullable=True),
    Column("last_reason", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
)

notice_alerts = Table(
    "notice_alerts",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("fingerprint", String(32), primary_key=True, index=True),
    Column("status", String(16), nullable=False),
)

# The parts of a notice its service has accepted, for an integration that sends one notice as
# several requests (PagerDuty: an event per alert). Recorded as each is accepted, so a retry,
# or a router restarted mid-notice, sends only the others; deleted with the outbox row.
notice_parts = Table(
    "notice_parts",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("part", String(600), primary_key=True),
    Column("accepted_at", Float, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(36), nullable=False, index=True),
    Column("receiver", String(256), nullable=False),
    Column("integration", String(512), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("reason", String(64), nullable=True),
    Column("error", Text, nullable=True),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", String(36), nullable=False, unique=True),
    Column("receiver", String(256), nullable=False),
    Column("integration", String(512), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("notice", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("dead_at", Float, nullable=False),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False, index=True),
    Column("created_by", String(256), nullable=False),
    Column("comment", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("detail", JSON, nullable=False),
)

# The cause of each incident (``enrichment``), looked up once: retries, repeats, the resolve and
# a restarted router read it here instead of querying Cloud Logging again. ``cause`` is null
# for an incident whose condition is not on logs (nothing to look up).
causes = Table(
    "causes",
    metadata,
    Column("incident_key", String(600), primary_key=True),
    Column("cause", JSON, nullable=True),
    Column("created_at", Float, nullable=False, index=True),
)

# How far the ingest journal's segments have been applied (SQLite: see ``journal``); updated
# in the transaction that stores their records, so each record is applied exactly once.
journal_progress = Table(
    "journal_progress",
    metadata,
    Column("segment", String(128), primary_key=True),
    Column("applied_offset", Integer, nullable=False),
)

# Journaled requests that could not be stored (invalid after an upgrade, or failing their
# transaction alone): acknowledged to their sender, so kept here with the reason, never dropped.
rejected_requests = Table(
    "rejected_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("body", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("rejected_at", Float, nullable=False),
)

# Alerts the dispatcher could not route or notify about (a value no code path expected): set
# aside so the others go on, and shown in the incident's history. One row per alert, stage
# and group, counting the attempts.
dispatch_failures = Table(
    "dispatch_failures",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("stage", String(16), primary_key=True),
    Column("group_key", Text, primary_key=True),
    Column("error", Text, nullable=False),
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
)

# Dispatchers whose passes keep failing as a whole (one row per dispatching router while it
# fails; deleted by its next good pass): any process of that router reports it on /readyz.
dispatcher_health = Table(
    "dispatcher_health",
    metadata,
    Column("instance", String(256), primary_key=True),
    Column("failing_since", Float, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The configuration that routed the stored alerts (SQLite: one row, shared by the workers).
active_config = Table(
    "active_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", Float, nullable=False),
)


def active_digest(connection: Connection) -> str | None:
    """The digest of the configuration that routes the stored alerts (None: none yet)."""
    query = select(active_config.c.digest).where(active_config.c.id == 1)
    return connection.execute(query).scalar()


def set_active_config(connection: Connection, digest: str, source: str, now: float) -> None:
    values = {"digest": digest, "source": source, "loaded_at": now}
    connection.execute(
        sqlite.insert(active_config)
        .values(id=1, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


def normalize_url(url: str) -> str:
    """Accept ``postgres://``/``postgresql://`` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Store:
    """Engines for one database, with write and read transactions and dialect helpers."""

    def __init__(self, url: str, sqlite_synchronous: str = "FULL") -> None:
        if sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"sqlite synchronous must be NORMAL, FULL or EXTRA: {sqlite_synchronous}"
            )
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )
        self._process_lock: ProcessLock | None = None
        if self.dialect == "sqlite":
            self._writer = _sqlite_engine(self.url, sqlite_synchronous, immediate=True)
            self._reader = _sqlite_engine(self.url, sqlite_synchronous, immediate=False)
            database = make_url(self.url).database
            if database and database != ":memory:":
                self._process_lock = ProcessLock(f"{database}-writer.lock")
        elif self.dialect == "postgresql":
            self._writer = create_engine(self.url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self._reader = self._writer
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @property
    def shared(self) -> bool:
        """Whether other router processes may use this database at the same time."""
        return self.dialect == "postgresql"

    def database_file(self) -> str:
        """The SQLite database's file (where its lock files and ingest journal live)."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            raise ValueError("a SQLite router needs a database file, not :memory:")
        return database

    def create_schema(self) -> None:
        """Create missing tables; on PostgreSQL under a lock, as replicas may start together."""
        with self.write() as connection:
            if self.shared:
                connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            metadata.create_all(connection)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; committed on success, rolled back on error.

        On SQLite the writers of this process queue on a Python lock first, then on a lock
        file shared with the other processes of this database: waiting there hands over at
        once, where SQLite's own busy handler sleeps for up to 100 ms between tries.
        """
        with self._write_lock:
            if self._process_lock is None:
                with self._writer.begin() as connection:
                    yield connection
                return
            with self._process_lock.held(), self._writer.begin() as connection:
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reading only (never blocks writers)."""
        with self._reader.connect() as connection, connection.begin():
            yield connection

    def insert(self, table: Table) -> Any:
        """A dialect INSERT, with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        return (postgresql.insert if self.shared else sqlite.insert)(table)

    def claim(self, query: Select[Any], of: Table | None = None) -> Select[Any]:
        """Lock the selected rows for this transaction, skipping rows another replica holds.

        On SQLite the write transaction already holds the only write lock: nothing to add.
        """
        if self.shared:
            return query.with_for_update(skip_locked=True, of=of)
        return query

    def lock(self, query: Select[Any]) -> Select[Any]:
        """Lock the selected rows for this transaction, waiting for other replicas."""
        return query.with_for_update() if self.shared else query

    def routes_with(self, connection: Connection, digest: str) -> bool:
        """Whether the configuration ``digest`` may route alerts into this database now.

        On SQLite the processes of one database record the configuration they route with
        (``active_config``); one still on another configuration must leave alerts pending
        and reload. A database where none is recorded (one embedded user, such as the alert
        tests) takes any; PostgreSQL replicas each route with their own.
        """
        if self.shared:
            return True
        recorded = active_digest(connection)
        return recorded is None or recorded == digest

    def ping(self) -> None:
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def dispatcher_lock(self) -> ProcessLock | None:
        """The lock whose holder alone dispatches and delivers; None when every process may.

        SQLite's outbox claims rely on one claimer (a dispatcher starting up releases every
        lease, which is only safe if no other process holds one), so of all the processes on
        one SQLite file only the lock's holder runs the dispatcher and the courier; when it
        dies the kernel drops the lock and another process takes over. PostgreSQL replicas
        claim rows with ``SKIP LOCKED`` and all dispatch.
        """
        if self.shared:
            return None
        return ProcessLock(f"{self.database_file()}-dispatcher.lock")

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()
        if self._process_lock is not None:
            self._process_lock.close()


class ProcessLock:
    """An exclusive ``flock`` on a file: one holder among all processes (and Store objects).

    The kernel releases it when its holder exits, ``kill -9`` included, so a lock is never
    left behind by a dead router.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def _descriptor(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"lock {self.path} is closed")
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the lock, hold it for the block."""
        fd = self._descriptor()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; keep it until ``close``.

        The holder writes its process id in the file, so an operator (or a test) can tell
        which process holds it: ``cat <database>-dispatcher.lock``.
        """
        fd = self._descriptor()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def close(self) -> None:
        """Release (if held) and close."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _sqlite_engine(url: str, synchronous: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(connection: Any, _record: Any) -> None:
        connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
