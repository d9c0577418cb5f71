"""Cloud Composer's ``environments.get`` and ``environments.list`` over REST, and an admin
endpoint that puts an environment in place.

The router reads an environment's ``config.airflowUri`` to link a failure to its DAG run in
the Airflow UI, and the watchdog finds the environments it watches; both use the real
``google-cloud-orchestration-airflow`` client (REST transport) against these endpoints. The
emulator does not create environments (there is no Airflow behind it): a test or the demo
declares one with ``PUT /v1/emulator/projects/P/locations/L/environments/E`` and the body of
an ``Environment`` in the API's JSON, checked against the API's own message type. Stored in
``composer.db`` in the data directory, so a restarted emulator still knows them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
from fastapi import APIRouter, Request
from google.cloud.orchestration.airflow.service_v1 import Environment
from google.protobuf import json_format

from observability.emulator.common.errors import ApiError
from observability.emulator.common.rest_common import json_body, parse_message
from observability.emulator.common.sqlite_db import SQLiteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    name TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS environments_parent ON environments (parent, name);
"""
_MAX_BODY = 256 * 1024
_MAX_PAGE = 1000
# Composer's environment ids: lower-case letters, digits and hyphens, starting with a letter.
_ENVIRONMENT_ID = re.compile(r"[a-z]([a-z0-9-]{0,62}[a-z0-9])?")


class EnvironmentsStore:
    """Environments as the JSON the API returns, keyed by resource name."""

    def __init__(self, path: Path) -> None:
        self._db = SQLiteDatabase(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def put(self, parent: str, name: str, body: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO environments (name, parent, body) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                (name, parent, json.dumps(body)),
            )

    def get(self, name: str) -> dict[str, Any] | None:
        row = (
            self._db.connection()
            .execute("SELECT body FROM environments WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    def page(self, parent: str, after: str, size: int) -> list[dict[str, Any]]:
        rows = self._db.connection().execute(
            "SELECT body FROM environments WHERE parent = ? AND name > ? ORDER BY name LIMIT ?",
            (parent, after, size),
        )
        return [dict(json.loads(row[0])) for row in rows]


def _environment_body(name: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The stored form: the given fields checked against ``Environment``, with the fields the
    service itself sets (name, state, times) filled as a running environment has them."""
    message = parse_message({**body, "name": name}, type(Environment.pb(Environment())))
    data: dict[str, Any] = json_format.MessageToDict(message)
    stamp = now.isoformat().replace("+00:00", "Z")
    data.setdefault("state", "RUNNING")
    data.setdefault("createTime", stamp)
    data["updateTime"] = stamp
    return data


def _page_size(request: Request) -> int:
    text = request.query_params.get("pageSize", "")
    if not text:
        return _MAX_PAGE
    if not text.isdigit():
        raise ApiError.invalid(f"pageSize: not a non-negative integer: {text!r}")
    return min(int(text), _MAX_PAGE) or _MAX_PAGE


def router(store: EnvironmentsStore) -> APIRouter:
    """The two read methods of ``projects.locations.environments`` and the admin put."""
    api = APIRouter()

    @api.get("/v1/projects/{project}/locations/{location}/environments/{environment}")
    def get_environment(project: str, location: str, environment: str) -> dict[str, Any]:
        name = f"projects/{project}/locations/{location}/environments/{environment}"
        found = store.get(name)
        if found is None:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Environment {name} not found.")
        return found

    @api.get("/v1/projects/{project}/locations/{location}/environments")
    def list_environments(project: str, location: str, request: Request) -> dict[str, Any]:
        parent = f"projects/{project}/locations/{location}"
        size = _page_size(request)
        after = request.query_params.get("pageToken", "")
        found = store.page(parent, after, size + 1)
        out: dict[str, Any] = {"environments": found[:size]}
        if len(found) > size:
            out["nextPageToken"] = found[size - 1]["name"]
        return out

    @api.put("/v1/emulator/projects/{project}/locations/{location}/environments/{environment}")
    async def put_environment(
        project: str, location: str, environment: str, request: Request
    ) -> dict[str, Any]:
        if not _ENVIRONMENT_ID.fullmatch(environment):
            raise ApiError.invalid(
                f"environment id {environment!r}: lower-case letters, digits and hyphens, "
                "starting with a letter, at most 64 characters"
            )
        parent = f"projects/{project}/locations/{location}"
        name = f"{parent}/environments/{environment}"
        body = await json_body(request, _MAX_BODY)
        stored = _environment_body(name, body, datetime.now(timezone.utc))
        store.put(parent, name, stored)
        return stored

    return api
