"""Durable storage of log-based metrics and their minute points (``metrics.db``, SQLite WAL).

``metrics`` holds each LogMetric as its serialized protobuf with its creation time on the
emulator's clock; ``series`` one row per distinct (metric, label values, monitored resource);
``points`` one row per series and minute (count, sum, sum of squares, min, max), and
``buckets`` the distribution bucket counts of that minute. Points are added with upserts, a
whole write request in one transaction, so counting costs one statement per touched
series-minute, not per entry. Metric ids are never reused, so a deleted and re-created metric
starts empty (no backfill, no leftovers).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud.logging_v2.types import LogMetric

LogMetricPb = LogMetric.pb()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    parent     TEXT NOT NULL,
    name       TEXT NOT NULL,
    metric     BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    UNIQUE (parent, name)
);
CREATE TABLE IF NOT EXISTS series (
    id              INTEGER PRIMARY KEY,
    metric_id       INTEGER NOT NULL,
    labels          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_labels TEXT NOT NULL,
    UNIQUE (metric_id, labels, resource_type, resource_labels)
);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL,
    minute    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    total     REAL NOT NULL,
    sumsq     REAL NOT NULL,
    minv      REAL,
    maxv      REAL,
    PRIMARY KEY (series_id, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counted (
    parent    TEXT NOT NULL,
    insert_id TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    PRIMARY KEY (parent, insert_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS buckets (
    series_id INTEGER NOT NULL,
    minute    INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, minute, bucket)
) WITHOUT ROWID;
"""

_CHUNK = 500
_PRUNE_EVERY = 1000

_UPSERT_POINT = """
INSERT INTO points (series_id, minute, count, total, sumsq, minv, maxv)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (series_id, minute) DO UPDATE SET
    count = count + excluded.count,
    total = total + excluded.total,
    sumsq = sumsq + excluded.sumsq,
    minv = min(minv, excluded.minv),
    maxv = max(maxv, excluded.maxv)
"""
_UPSERT_BUCKET = """
INSERT INTO buckets (series_id, minute, bucket, count) VALUES (?, ?, ?, ?)
ON CONFLICT (series_id, minute, bucket) DO UPDATE SET count = count + excluded.count
"""


@dataclass(frozen=True, slots=True)
class StoredMetric:
    metric_id: int
    parent: str
    metric: Any  # LogMetric protobuf
    created_ns: int


@dataclass(frozen=True, slots=True)
class StoredSeries:
    series_id: int
    metric_id: int
    labels: dict[str, Any]
    resource_type: str
    resource_labels: dict[str, str]


@dataclass(slots=True)
class MinutePoint:
    """One series' minute: count, sum, sum of squares, min, max, and bucket counts."""

    minute: int  # seconds since the epoch, a multiple of 60
    count: int
    total: float
    sumsq: float
    minv: float | None
    maxv: float | None
    buckets: dict[int, int]


PointDelta = tuple[int, int, int, float, float, float | None, float | None, dict[int, int]]
"""(series id, minute, count, sum, sum of squares, min, max, bucket counts) to add."""


class LogMetricsStore:
    """Thread-safe: one connection, every statement under one lock (metrics are small)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._claims = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- metrics -------------------------------------------------------------------

    def all_metrics(self) -> list[StoredMetric]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, parent, metric, created_ns FROM metrics ORDER BY parent, name"
            ).fetchall()
        return [StoredMetric(i, p, LogMetricPb.FromString(b), c) for i, p, b, c in rows]

    def insert_metric(self, parent: str, metric: Any, created_ns: int) -> int | None:
        """The new metric's id, or None when ``parent`` already has one of that name."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO metrics (parent, name, metric, created_ns)"
                " VALUES (?, ?, ?, ?)",
                (parent, metric.name, metric.SerializeToString(), created_ns),
            )
            return cursor.lastrowid if cursor.rowcount else None

    def replace_metric(self, metric_id: int, metric: Any) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE metrics SET metric = ? WHERE id = ?",
                (metric.SerializeToString(), metric_id),
            )

    def delete_metric(self, metric_id: int) -> None:
        with self._transaction() as conn:
            ids = "SELECT id FROM series WHERE metric_id = ?"
            conn.execute(f"DELETE FROM points WHERE series_id IN ({ids})", (metric_id,))
            conn.execute(f"DELETE FROM buckets WHERE series_id IN ({ids})", (metric_id,))
            conn.execute("DELETE FROM series WHERE metric_id = ?", (metric_id,))
            conn.execute("DELETE FROM metrics WHERE id = ?", (metric_id,))

    # -- series and points ---------------------------------------------------------

    def series_id(
        self, metric_id: int, labels: str, resource_type: str, resource_labels: str
    ) -> int:
        """The id of a series (JSON-encoded label maps), created if new."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM series WHERE metric_id = ? AND labels = ? AND resource_type = ?"
                " AND resource_labels = ?",
                (metric_id, labels, resource_type, resource_labels),
            ).fetchone()
            if row is not None:
                return int(row[0])
            cursor = self._conn.execute(
                "INSERT INTO series (metric_id, labels, resource_type, resource_labels)"
                " VALUES (?, ?, ?, ?)",
                (metric_id, labels, resource_type, resource_labels),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def add_points(self, deltas: Sequence[PointDelta]) -> None:
        """Add a batch of minute deltas in one transaction."""
        if not deltas:
            return
        bucket_rows = [
            (series, minute, bucket, count)
            for series, minute, *_, buckets in deltas
            for bucket, count in buckets.items()
        ]
        with self._transaction() as conn:
            conn.executemany(_UPSERT_POINT, [delta[:7] for delta in deltas])
            if bucket_rows:
                conn.executemany(_UPSERT_BUCKET, bucket_rows)

    def claim(
        self, keys: Sequence[tuple[str, int, str]], prune_before: int
    ) -> list[tuple[str, int, str]]:
        """Of the (parent, ts, insert id) keys of counted entries, those never claimed
        before (now claimed). Keys older than ``prune_before`` are forgotten now and then:
        entries that late are not counted anyway."""
        fresh = []
        seen: set[tuple[str, int, str]] = set()
        with self._transaction() as conn:
            by_parent: dict[str, list[tuple[str, int, str]]] = {}
            for key in keys:
                by_parent.setdefault(key[0], []).append(key)
            for parent, group in by_parent.items():
                for start in range(0, len(group), _CHUNK):
                    chunk = group[start : start + _CHUNK]
                    rows = conn.execute(
                        "SELECT insert_id, ts FROM counted WHERE parent = ? AND insert_id IN"
                        f" ({', '.join('?' * len(chunk))})",
                        (parent, *(insert_id for _, _, insert_id in chunk)),
                    )
                    seen.update((parent, ts, insert_id) for insert_id, ts in rows)
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    fresh.append(key)
            conn.executemany("INSERT INTO counted (parent, ts, insert_id) VALUES (?, ?, ?)", fresh)
            self._claims += 1
            if self._claims % _PRUNE_EVERY == 0:
                conn.execute("DELETE FROM counted WHERE ts < ?", (prune_before,))
        return fresh

    def series_of(self, metric_ids: Iterable[int]) -> list[StoredSeries]:
        ids = list(metric_ids)
        if not ids:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, metric_id, labels, resource_type, resource_labels FROM series"
                f" WHERE metric_id IN ({', '.join('?' * len(ids))}) ORDER BY id",
                ids,
            ).fetchall()
        return [
            StoredSeries(i, m, json.loads(labels), rtype, json.loads(rlabels))
            for i, m, labels, rtype, rlabels in rows
        ]

    def points(
        self, series_ids: Sequence[int], first_minute: int, last_minute: int
    ) -> dict[int, list[MinutePoint]]:
        """Minute points of ``series_ids`` with ``first_minute <= minute <= last_minute``,
        oldest first, by series id."""
        result: dict[int, list[MinutePoint]] = {sid: [] for sid in series_ids}
        if not series_ids:
            return result
        marks = ", ".join("?" * len(series_ids))
        with self._lock:
            rows = self._conn.execute(
                "SELECT series_id, minute, count, total, sumsq, minv, maxv FROM points"
                f" WHERE series_id IN ({marks}) AND minute BETWEEN ? AND ?"
                " ORDER BY series_id, minute",
                (*series_ids, first_minute, last_minute),
            ).fetchall()
            bucket_rows = self._conn.execute(
                "SELECT series_id, minute, bucket, count FROM buckets"
                f" WHERE series_id IN ({marks}) AND minute BETWEEN ? AND ?",
                (*series_ids, first_minute, last_minute),
            ).fetchall()
        buckets: dict[tuple[int, int], dict[int, int]] = {}
        for series, minute, bucket, count in bucket_rows:
            buckets.setdefault((series, minute), {})[bucket] = count
        for series, minute, count, total, sumsq, minv, maxv in rows:
            result[series].append(
                MinutePoint(
                    minute, count, total, sumsq, minv, maxv, buckets.get((series, minute), {})
                )
            )
        return result
