"""Durable storage of alerting incidents (``incidents.db``, WAL): what the evaluator opened.

One row per incident: the policy and condition it belongs to, the key of the violating series
(or of the extracted labels of a log-match condition), its state, when it started and ended
(epoch seconds on the emulator's clock) and a JSON ``detail`` holding what its notifications
need (series labels, observed and threshold values, a snapshot of the policy)::

    store = IncidentStore(data_dir / "incidents.db")
    incident = store.open_incident(project, policy_id, condition, key, started_at, detail)
    store.close_incident(incident.id, ended_at, "recovered")
    store.list_incidents(project)            # newest first
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id           TEXT PRIMARY KEY,
    project      TEXT NOT NULL,
    policy_id    TEXT NOT NULL,
    condition    TEXT NOT NULL,
    key          TEXT NOT NULL,
    state        TEXT NOT NULL,
    started_at   REAL NOT NULL,
    ended_at     REAL,
    close_reason TEXT,
    detail       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_project ON incidents (project, started_at);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (state, policy_id);
"""


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident; ``state`` is "open" or "closed", times are epoch seconds."""

    id: str
    project: str
    policy_id: str
    condition: str
    key: str
    state: str
    started_at: float
    ended_at: float | None
    close_reason: str | None
    detail: dict[str, Any]

    @property
    def policy_name(self) -> str:
        return f"projects/{self.project}/alertPolicies/{self.policy_id}"

    def as_json(self) -> dict[str, Any]:
        """The admin endpoint's view of the incident."""
        return {
            "incidentId": self.id,
            "policy": self.policy_name,
            "policyDisplayName": self.detail.get("policy", {}).get("displayName", ""),
            "condition": self.condition,
            "state": self.state,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "closeReason": self.close_reason,
            "metric": self.detail.get("metric", {}),
            "resource": self.detail.get("resource", {}),
            "observedValue": self.detail.get("observed_value"),
            "thresholdValue": self.detail.get("threshold_value"),
            "extractedLabels": self.detail.get("extracted_labels", {}),
        }


_COLUMNS = (
    "id, project, policy_id, condition, key, state, started_at, ended_at, close_reason, detail"
)


def _incident(row: tuple[Any, ...]) -> Incident:
    id_, project, policy_id, condition, key, state, started, ended, reason, detail = row
    return Incident(
        id_, project, policy_id, condition, key, state, started, ended, reason, json.loads(detail)
    )


class IncidentStore:
    """Thread-safe: one connection guarded by a lock (incidents are few and small)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def open_incident(
        self,
        project: str,
        policy_id: str,
        condition: str,
        key: str,
        started_at: float,
        detail: dict[str, Any],
    ) -> Incident:
        incident_id = f"0.{uuid.uuid4().hex[:20]}"
        text = json.dumps(detail, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO incidents ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, 'open', ?, NULL, NULL, ?)",
                (incident_id, project, policy_id, condition, key, started_at, text),
            )
        return Incident(
            incident_id, project, policy_id, condition, key, "open", started_at, None, None, detail
        )

    def close_incident(self, incident_id: str, ended_at: float, reason: str) -> Incident | None:
        """Close an open incident; None if it is not open (already closed or unknown)."""
        with self._lock:
            changed = self._conn.execute(
                "UPDATE incidents SET state = 'closed', ended_at = ?, close_reason = ? "
                "WHERE id = ? AND state = 'open'",
                (ended_at, reason, incident_id),
            ).rowcount
            if not changed:
                return None
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
        return _incident(row)

    def open_incidents(self) -> list[Incident]:
        """Every open incident of every project."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM incidents WHERE state = 'open' ORDER BY started_at"
            ).fetchall()
        return [_incident(row) for row in rows]

    def list_incidents(self, project: str, state: str | None = None) -> list[Incident]:
        """The incidents of ``project`` (optionally only "open" or "closed"), newest first."""
        sql = f"SELECT {_COLUMNS} FROM incidents WHERE project = ?"
        params: tuple[Any, ...] = (project,)
        if state:
            sql += " AND state = ?"
            params += (state,)
        with self._lock:
            rows = self._conn.execute(
                sql + " ORDER BY started_at DESC, rowid DESC", params
            ).fetchall()
        return [_incident(row) for row in rows]

    def started_since(self, project: str, policy_id: str, since: float) -> tuple[int, float | None]:
        """How many incidents of a policy started at or after ``since``, and when the newest
        of all started (log-match throttling)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT SUM(started_at >= ?), MAX(started_at) FROM incidents "
                "WHERE project = ? AND policy_id = ?",
                (since, project, policy_id),
            ).fetchone()
        return int(row[0] or 0), None if row[1] is None else float(row[1])
