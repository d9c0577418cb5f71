"""User-defined metric descriptors (CreateMetricDescriptor) in SQLite, per project.

A descriptor is kept as its serialized ``google.api.MetricDescriptor``; creating one of a type
that exists replaces it, keeping the labels it had (Google: "The metric descriptor is updated
if it already exists, except that metric labels are never removed").
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from google.api import metric_pb2

from observability.emulator.common.sqlite_db import SQLiteDatabase

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS metric_descriptors (
    project TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    descriptor BLOB NOT NULL,
    PRIMARY KEY (project, metric_type)
) WITHOUT ROWID;
"""


class DescriptorStore:
    """The user-defined descriptors of every project, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = SQLiteDatabase(path, _SCHEMA)

    def close(self) -> None:
        self.db.close()

    def put(
        self, project: str, descriptor: metric_pb2.MetricDescriptor
    ) -> metric_pb2.MetricDescriptor:
        """Create or update; the labels of an existing descriptor are kept. Answers what is
        stored."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT descriptor FROM metric_descriptors WHERE project = ? AND metric_type = ?",
                (project, descriptor.type),
            ).fetchone()
            stored = metric_pb2.MetricDescriptor()
            stored.CopyFrom(descriptor)
            if row is not None:
                previous = metric_pb2.MetricDescriptor.FromString(row[0])
                keys = {label.key for label in stored.labels}
                kept = [label for label in previous.labels if label.key not in keys]
                stored.labels.extend(kept)
            conn.execute(
                "INSERT OR REPLACE INTO metric_descriptors VALUES (?, ?, ?)",
                (project, stored.type, stored.SerializeToString(deterministic=True)),
            )
        return stored

    def get(self, project: str, metric_type: str) -> metric_pb2.MetricDescriptor | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT descriptor FROM metric_descriptors WHERE project = ? AND metric_type = ?",
                (project, metric_type),
            )
            .fetchone()
        )
        return None if row is None else metric_pb2.MetricDescriptor.FromString(row[0])

    def list(self, project: str) -> list[metric_pb2.MetricDescriptor]:
        rows = (
            self.db.connection()
            .execute(
                "SELECT descriptor FROM metric_descriptors WHERE project = ? ORDER BY metric_type",
                (project,),
            )
            .fetchall()
        )
        return [metric_pb2.MetricDescriptor.FromString(row[0]) for row in rows]

    def delete(self, project: str, metric_type: str) -> bool:
        """Whether a descriptor was there to delete."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM metric_descriptors WHERE project = ? AND metric_type = ?",
                (project, metric_type),
            )
        return cursor.rowcount > 0
