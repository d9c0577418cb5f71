"""One SQLite database file shared by a store's threads: the emulator's storage primitive.

The gRPC server answers on a thread pool and uvicorn on its own thread, so each thread gets
its own connection (SQLite connections must not be shared while in use), all in WAL mode so
readers never wait for the writer. Writes are serialized by one lock, which makes every
read-check-write inside ``transaction()`` atomic without relying on SQLite's busy retries.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import grpc

from observability.emulator.common.errors import ApiError

BUSY_TIMEOUT_MS: Final = 2000
"""How long a statement waits for a lock another process holds before the call answers
UNAVAILABLE (which Google's clients retry). The emulator's own writers never wait on each
other here (a lock serializes them), so only a foreign process can make this wait."""

_UNAVAILABLE_ERRORS: Final = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL")


def unavailable(error: sqlite3.Error) -> ApiError | None:
    """UNAVAILABLE for a database that is locked by another process or on a full disk.

    Both pass without anything changing in the request, so the caller should retry, as it
    would on Google's UNAVAILABLE; any other SQLite error is a bug, and None is returned.
    """
    name = getattr(error, "sqlite_errorname", "")  # extended: SQLITE_BUSY_RECOVERY...
    if not name.startswith(_UNAVAILABLE_ERRORS):
        return None
    return ApiError(
        grpc.StatusCode.UNAVAILABLE,
        f"The service is currently unavailable (the emulator's storage: {error}); retry.",
    )


class SQLiteDatabase:
    """Per-thread connections to one file, a serialized write transaction, one close."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        with self._write_lock:
            self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``transaction()`` to write atomically)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; writers are serialized so read-check-write is atomic."""
        with self._write_lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (call once no request is running)."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
