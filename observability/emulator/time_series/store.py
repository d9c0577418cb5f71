"""SQLite storage of written time series: auto-created descriptors, series and their points.

Written series are what ``CreateTimeSeries`` (and the emulator's seed endpoint) store, as
opposed to the log-based metrics counted from entries. Values are kept as serialized
``google.monitoring.v3.TypedValue`` protobufs, so a point reads back exactly as written
(INT64, DOUBLE, BOOL or DISTRIBUTION) and the query engine decides how to interpret it.
Times are integer microseconds since the epoch.

``append`` runs the caller's acceptance rule for each point inside one write transaction,
with the metric's descriptor and the series' newest point as they are at that moment, so
two concurrent writers cannot both append "the newest" point of a series.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from observability.emulator.common.sqlite_db import SQLiteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS descriptors (
    project TEXT NOT NULL,
    type TEXT NOT NULL,
    metric_kind TEXT NOT NULL,
    value_type TEXT NOT NULL,
    unit TEXT NOT NULL,
    label_keys TEXT NOT NULL,
    PRIMARY KEY (project, type)
);
CREATE TABLE IF NOT EXISTS series (
    series_id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    metric_labels TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_labels TEXT NOT NULL,
    last_start_us INTEGER NOT NULL,
    last_end_us INTEGER NOT NULL,
    UNIQUE (project, metric_type, metric_labels, resource_type, resource_labels)
);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (series_id, end_us)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class WrittenDescriptor:
    """A metric descriptor auto-created by the first write of its type."""

    metric_type: str
    metric_kind: str
    value_type: str
    unit: str
    label_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewPoint:
    """One point to append: the series it belongs to, its interval and serialized value.

    ``metric_kind`` and ``unit`` are what the request said ("" when unspecified);
    ``value_type`` is the type of the point's value.
    """

    index: int
    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    metric_kind: str
    value_type: str
    unit: str
    start_us: int
    end_us: int
    value: bytes


@dataclass(frozen=True, slots=True)
class LastPoint:
    """The newest stored point of a series, which a new point must follow."""

    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class StoredWrittenSeries:
    """One written series with its metric's descriptor."""

    series_id: int
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    descriptor: WrittenDescriptor


@dataclass(frozen=True, slots=True)
class StoredPoint:
    start_us: int
    end_us: int
    value: bytes


Acceptance = Callable[[NewPoint, WrittenDescriptor | None, LastPoint | None], str | None]
"""Decides on one point: ``None`` to accept it, else the reason it is refused."""


def _key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _descriptor(row: Sequence[str]) -> WrittenDescriptor:
    return WrittenDescriptor(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])))


class WrittenSeriesStore:
    """Written descriptors, series and points of every project, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = SQLiteDatabase(path, _SCHEMA)

    def close(self) -> None:
        self.db.close()

    def append(
        self, project: str, points: Sequence[NewPoint], accept: Acceptance
    ) -> list[tuple[int, str]]:
        """Append the points ``accept`` allows, auto-creating descriptors on first use.

        Answers the refused points as ``(index, reason)``; the others are stored.
        """
        refused: list[tuple[int, str]] = []
        with self.db.transaction() as conn:
            for point in points:
                row = conn.execute(
                    "SELECT type, metric_kind, value_type, unit, label_keys FROM descriptors "
                    "WHERE project = ? AND type = ?",
                    (project, point.metric_type),
                ).fetchone()
                descriptor = _descriptor(row) if row else None
                identity = (
                    project,
                    point.metric_type,
                    _key(point.metric_labels),
                    point.resource_type,
                    _key(point.resource_labels),
                )
                series = conn.execute(
                    "SELECT series_id, last_start_us, last_end_us FROM series WHERE project = ? "
                    "AND metric_type = ? AND metric_labels = ? AND resource_type = ? "
                    "AND resource_labels = ?",
                    identity,
                ).fetchone()
                last = LastPoint(series[1], series[2]) if series else None
                reason = accept(point, descriptor, last)
                if reason is not None:
                    refused.append((point.index, reason))
                    continue
                self._remember_descriptor(conn, project, point, descriptor)
                if series is None:
                    series_id = conn.execute(
                        "INSERT INTO series (project, metric_type, metric_labels, resource_type, "
                        "resource_labels, last_start_us, last_end_us) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (*identity, point.start_us, point.end_us),
                    ).lastrowid
                else:
                    series_id = series[0]
                    conn.execute(
                        "UPDATE series SET last_start_us = ?, last_end_us = ? WHERE series_id = ?",
                        (point.start_us, point.end_us, series_id),
                    )
                conn.execute(
                    "INSERT INTO points (series_id, start_us, end_us, value) VALUES (?, ?, ?, ?)",
                    (series_id, point.start_us, point.end_us, point.value),
                )
        return refused

    @staticmethod
    def _remember_descriptor(
        conn: sqlite3.Connection,
        project: str,
        point: NewPoint,
        descriptor: WrittenDescriptor | None,
    ) -> None:
        """Create the descriptor, or add label keys an auto-created one had not seen yet."""
        keys = sorted(set(point.metric_labels) | set(descriptor.label_keys if descriptor else ()))
        if descriptor is None:
            conn.execute(
                "INSERT INTO descriptors (project, type, metric_kind, value_type, unit, "
                "label_keys) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    project,
                    point.metric_type,
                    point.metric_kind or "GAUGE",
                    point.value_type,
                    point.unit,
                    json.dumps(keys),
                ),
            )
        elif tuple(keys) != descriptor.label_keys:
            conn.execute(
                "UPDATE descriptors SET label_keys = ? WHERE project = ? AND type = ?",
                (json.dumps(keys), project, point.metric_type),
            )

    def descriptors(self, project: str) -> list[WrittenDescriptor]:
        """The descriptors of ``project``, by type."""
        rows = self.db.connection().execute(
            "SELECT type, metric_kind, value_type, unit, label_keys FROM descriptors "
            "WHERE project = ? ORDER BY type",
            (project,),
        )
        return [_descriptor(row) for row in rows]

    def delete_metric(self, project: str, metric_type: str) -> bool:
        """Delete the descriptor of ``metric_type`` with its series and their points, in one
        transaction (Google: deleting a descriptor removes the metric's data); whether there
        was a descriptor."""
        key = (project, metric_type)
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM points WHERE series_id IN "
                "(SELECT series_id FROM series WHERE project = ? AND metric_type = ?)",
                key,
            )
            conn.execute("DELETE FROM series WHERE project = ? AND metric_type = ?", key)
            cursor = conn.execute("DELETE FROM descriptors WHERE project = ? AND type = ?", key)
        return cursor.rowcount > 0

    def series(
        self, project: str, metric_types: frozenset[str] | None
    ) -> list[StoredWrittenSeries]:
        """The series of ``project`` (of these metric types, when given)."""
        rows = self.db.connection().execute(
            "SELECT s.series_id, s.metric_labels, s.resource_type, s.resource_labels, d.type, "
            "d.metric_kind, d.value_type, d.unit, d.label_keys FROM series s JOIN descriptors d "
            "ON d.project = s.project AND d.type = s.metric_type WHERE s.project = ? "
            "ORDER BY s.series_id",
            (project,),
        )
        return [
            StoredWrittenSeries(
                series_id=row[0],
                metric_labels=json.loads(row[1]),
                resource_type=row[2],
                resource_labels=json.loads(row[3]),
                descriptor=_descriptor(row[4:]),
            )
            for row in rows
            if metric_types is None or row[4] in metric_types
        ]

    def points(
        self, series_id: int, first_end_us: int, last_end_us: int, with_previous: bool
    ) -> list[StoredPoint]:
        """Points of a series whose end is in ``[first_end_us, last_end_us]``, oldest first;
        with ``with_previous``, preceded by the newest point before that range."""
        conn = self.db.connection()
        found = [
            StoredPoint(*row)
            for row in conn.execute(
                "SELECT start_us, end_us, value FROM points WHERE series_id = ? "
                "AND end_us >= ? AND end_us <= ? ORDER BY end_us",
                (series_id, first_end_us, last_end_us),
            )
        ]
        if with_previous:
            row = conn.execute(
                "SELECT start_us, end_us, value FROM points WHERE series_id = ? AND end_us < ? "
                "ORDER BY end_us DESC LIMIT 1",
                (series_id, first_end_us),
            ).fetchone()
            if row:
                found.insert(0, StoredPoint(*row))
        return found
