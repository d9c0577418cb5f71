"""Durable storage of dashboards for the emulator: the JSON the client sent, as text.

Dashboards are never stored through the proto, which lags the live API and would drop
fields. One SQLite file (``dashboards.db``, WAL) in the data directory holds a row per
dashboard: project, id, the JSON body without ``name`` and ``etag``, and the etag. Writes
that depend on the current etag compare and swap in one statement, so two concurrent
updates cannot both win.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboards (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    id      TEXT NOT NULL,
    etag    TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS dashboards_key ON dashboards (project, id);
"""


@dataclass(frozen=True, slots=True)
class StoredDashboard:
    """One stored dashboard; ``seq`` orders listings (creation order)."""

    seq: int
    project: str
    id: str
    etag: str
    body: dict[str, Any]


class DashboardsStore:
    """Thread-safe store; dashboards are few and small, so one connection and one lock do."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _row(row: tuple[int, str, str, str, str]) -> StoredDashboard:
        seq, project, ident, etag, body = row
        return StoredDashboard(seq, project, ident, etag, json.loads(body))

    def get(self, project: str, ident: str) -> StoredDashboard | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, project, id, etag, body FROM dashboards WHERE project=? AND id=?",
                (project, ident),
            ).fetchone()
        return None if row is None else self._row(row)

    def insert(self, project: str, ident: str, etag: str, body: dict[str, Any]) -> bool:
        """Store a new dashboard; False if ``project`` already has one with this id."""
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO dashboards (project, id, etag, body) VALUES (?, ?, ?, ?)",
                (project, ident, etag, text),
            )
        return cursor.rowcount == 1

    def replace(
        self, project: str, ident: str, etag: str, body: dict[str, Any], if_etag: str | None
    ) -> bool:
        """Overwrite a dashboard (only if its etag is still ``if_etag``, when given).

        False if nothing was written: the dashboard is gone or its etag changed meanwhile.
        """
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        sql = "UPDATE dashboards SET etag=?, body=? WHERE project=? AND id=?"
        params: tuple[str, ...] = (etag, text, project, ident)
        if if_etag is not None:
            sql += " AND etag=?"
            params += (if_etag,)
        with self._lock:
            cursor = self._db.execute(sql, params)
        return cursor.rowcount == 1

    def delete(self, project: str, ident: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM dashboards WHERE project=? AND id=?", (project, ident)
            )
        return cursor.rowcount == 1

    def list(self, project: str, after_seq: int, limit: int) -> list[StoredDashboard]:
        """Up to ``limit`` dashboards of ``project`` created after ``after_seq``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, project, id, etag, body FROM dashboards "
                "WHERE project=? AND seq>? ORDER BY seq LIMIT ?",
                (project, after_seq, limit),
            ).fetchall()
        return [self._row(row) for row in rows]
