"""Durable storage of alert policies: one SQLite file (``alert_policies.db``, WAL).

A policy is kept as the proto's JSON (``json_format.MessageToJson``), so every condition kind
the client's proto knows (threshold with ratio and missing-data options, absence, log match
with label extractors, MQL, PromQL, SQL) comes back exactly as it was stored, and an
evaluator can read it without the gRPC layer:

    store = AlertPolicyStore(data_dir / "alert_policies.db")
    for policy in store.list_policies("my-project"):
        policy.name, policy.body["conditions"]   # REST JSON (camelCase) dict
        policy.proto()                            # google.monitoring.v3.AlertPolicy (raw pb)

``ResourceTable`` is the small keyed JSON table both this store and the notification channel
store are made of.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud.monitoring_v3.types import AlertPolicy
from google.protobuf import json_format

from observability.emulator.common.sqlite_db import SQLiteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    project  TEXT NOT NULL,
    id       TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS resources_key ON resources (project, id);
"""


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A stored resource: where it lives and its JSON body (REST field names)."""

    project: str
    id: str
    body: dict[str, Any]


class ResourceTable:
    """Thread-safe SQLite table of JSON resources keyed by (project, id), in creation order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SQLiteDatabase(path, _SCHEMA)
        self.transaction = self._db.transaction
        self.close = self._db.close

    def get(self, project: str, id_: str) -> StoredResource | None:
        row = (
            self._db.connection()
            .execute("SELECT body FROM resources WHERE project = ? AND id = ?", (project, id_))
            .fetchone()
        )
        return None if row is None else StoredResource(project, id_, json.loads(row[0]))

    def rows(self, project: str) -> list[StoredResource]:
        rows = self._db.connection().execute(
            "SELECT id, body FROM resources WHERE project = ? ORDER BY seq", (project,)
        )
        return [StoredResource(project, id_, json.loads(body)) for id_, body in rows]

    def projects(self) -> list[str]:
        """Every project that holds at least one resource."""
        rows = self._db.connection().execute(
            "SELECT DISTINCT project FROM resources ORDER BY project"
        )
        return [project for (project,) in rows]

    @staticmethod
    def put(conn: sqlite3.Connection, project: str, id_: str, body: dict[str, Any]) -> None:
        """Insert or replace (keeping the creation order) inside a transaction."""
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        updated = conn.execute(
            "UPDATE resources SET body = ? WHERE project = ? AND id = ?", (text, project, id_)
        ).rowcount
        if not updated:
            conn.execute(
                "INSERT INTO resources (project, id, body) VALUES (?, ?, ?)", (project, id_, text)
            )

    @staticmethod
    def remove(conn: sqlite3.Connection, project: str, id_: str) -> bool:
        return bool(
            conn.execute(
                "DELETE FROM resources WHERE project = ? AND id = ?", (project, id_)
            ).rowcount
        )


_PolicyPb = AlertPolicy.pb()


def policy_to_body(policy: Any) -> dict[str, Any]:
    """A raw AlertPolicy protobuf as its REST JSON dict."""
    body: dict[str, Any] = json_format.MessageToDict(policy)
    return body


def policy_from_body(body: dict[str, Any]) -> Any:
    """The raw AlertPolicy protobuf of a stored JSON dict."""
    return json_format.ParseDict(body, _PolicyPb())


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """An alert policy as the evaluator reads it."""

    project: str
    id: str
    body: dict[str, Any]
    """The policy in the REST JSON shape (``displayName``, ``conditions``...)."""

    @property
    def name(self) -> str:
        return f"projects/{self.project}/alertPolicies/{self.id}"

    @property
    def enabled(self) -> bool:
        return bool(self.body.get("enabled", True))

    def proto(self) -> Any:
        """The policy as a raw ``google.monitoring.v3.AlertPolicy`` protobuf."""
        return policy_from_body(self.body)


class AlertPolicyStore(ResourceTable):
    """Alert policies per project; see the module docstring for the evaluator's view."""

    def get_policy(self, project: str, policy_id: str) -> StoredPolicy | None:
        found = self.get(project, policy_id)
        return None if found is None else StoredPolicy(project, policy_id, found.body)

    def list_policies(self, project: str) -> list[StoredPolicy]:
        """Every policy of ``project`` in creation order (enabled or not)."""
        return [StoredPolicy(r.project, r.id, r.body) for r in self.rows(project)]

    def all_policies(self) -> list[StoredPolicy]:
        """Every policy of every project (what an evaluation tick walks)."""
        return [policy for project in self.projects() for policy in self.list_policies(project)]
