"""The shape every CRUD resource of the emulated APIs shares: names, rows, pages, servicer.

Alert policies, notification channels and dashboards (and, for the servicer, log-based
metrics) are the same thing underneath: a JSON body kept per ``(project, id)`` in creation
order, named ``projects/P/<collection>/ID``, answered by five gRPC methods
``Create<R>``/``Get<R>``/``List<Rs>``/``Update<R>``/``Delete<R>``. This module holds that
once, so a new resource is its schema (its protobuf and JSON), a ``ResourceName`` and the
rules of its service:

- ``ResourceName`` parses and builds resource names and words Google's NOT_FOUND;
- ``ResourceStore`` is the SQLite table (optionally with an etag column, compared and
  swapped in one statement so two concurrent updates cannot both win);
- ``list_page`` applies Monitoring's list ``filter``, ``orderBy`` and page token;
- ``mask_label`` applies one ``labels.KEY`` path of an update mask;
- ``crud_handler`` builds the gRPC handler from the service's five behaviours.

Ids, creation and mutation records are made here too (``new_id``, ``now_pb``), as Google
shapes them.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

import grpc
from google.protobuf import empty_pb2, json_format, timestamp_pb2

from observability.emulator.common.errors import ApiError
from observability.emulator.common.grpc_common import unary
from observability.emulator.common.listing import (
    Schema,
    View,
    compile_list_filter,
    page,
    sort_views,
)
from observability.emulator.common.sqlite_db import SQLiteDatabase
from observability.emulator.common.validation import invalid

MUTATED_BY: Final = "composer-obs-emulator"
"""Who ``creationRecord``/``mutationRecord`` say made a change (Google puts the caller)."""


def new_id() -> str:
    """A fresh resource id, shaped like Google's (a 19-digit decimal number)."""
    return str(10**18 + secrets.randbelow(9 * 10**18))


def now_pb() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


def parse_project(name: str, field: str = "name") -> str:
    """The PROJECT of ``projects/PROJECT``; INVALID_ARGUMENT otherwise."""
    kind, _, project = name.partition("/")
    if kind != "projects" or not project or "/" in project:
        raise invalid(field, name, "must be projects/[PROJECT_ID_OR_NUMBER]")
    return project


@dataclass(frozen=True, slots=True)
class ResourceName:
    """How one resource kind is named: ``projects/P/<collection>/ID``."""

    collection: str
    """The URL collection: ``alertPolicies``, ``notificationChannels``, ``dashboards``."""
    id_placeholder: str
    """What the INVALID_ARGUMENT message calls the id: ``ALERT_POLICY_ID``."""
    missing: str
    """The NOT_FOUND message before the name: ``Alert policy not found``."""

    def of(self, project: str, id_: str) -> str:
        return f"projects/{project}/{self.collection}/{id_}"

    def split(self, name: str) -> tuple[str, str] | None:
        """``(project, id)`` of a well-formed name, else None."""
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != "projects" or parts[2] != self.collection:
            return None
        return (parts[1], parts[3]) if parts[1] and parts[3] else None

    def parse(self, name: str, field: str = "name") -> tuple[str, str]:
        """``(project, id)``; INVALID_ARGUMENT naming ``field`` for anything else."""
        parts = self.split(name)
        if parts is None:
            shape = f"projects/[PROJECT_ID]/{self.collection}/[{self.id_placeholder}]"
            raise invalid(field, name, f"must be {shape}")
        return parts

    def not_found(self, name: str) -> ApiError:
        return ApiError(grpc.StatusCode.NOT_FOUND, f"{self.missing}: {name}")


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A stored resource: where it lives, its JSON body (REST field names), its etag (empty
    where the API has none) and ``seq``, its place in creation order."""

    project: str
    id: str
    body: dict[str, Any]
    etag: str = ""
    seq: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage(StoredResource):
    """A resource kept as its protobuf message's JSON: each kind names its ``kind`` (how
    its names are built) and ``message`` (the raw protobuf class)."""

    kind: ClassVar[ResourceName]
    message: ClassVar[Any]

    @property
    def name(self) -> str:
        return self.kind.of(self.project, self.id)

    @property
    def enabled(self) -> bool:
        return bool(self.body.get("enabled", True))

    def proto(self) -> Any:
        """The raw protobuf message of the stored JSON."""
        return json_format.ParseDict(self.body, self.message())


Stored = TypeVar("Stored", bound=StoredResource)


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class ResourceStore(Generic[Stored]):
    """Thread-safe SQLite table of JSON resources keyed by (project, id), in creation order.

    Rows come back as ``row_type``, a resource's own ``StoredResource`` subclass. ``table``
    and ``etag`` give the schema (``seq, project, id, [etag,] body``), so the files written
    by earlier versions of the emulator open unchanged.
    """

    def __init__(
        self,
        path: Path,
        row_type: type[Stored],
        table: str = "resources",
        etag: bool = False,
    ) -> None:
        self.path = Path(path)
        self._row_type = row_type
        self._table = table
        self._etag = etag
        etag_column = "    etag    TEXT NOT NULL,\n" if etag else ""
        schema = f"""
CREATE TABLE IF NOT EXISTS {table} (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    id      TEXT NOT NULL,
{etag_column}    body    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {table}_key ON {table} (project, id);
"""
        self._db = SQLiteDatabase(self.path, schema)
        self._columns = "seq, project, id, " + ("etag, " if etag else "'', ") + "body"
        self.close = self._db.close

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction: a read-check-write inside it is atomic."""
        return self._db.transaction()

    def _row(self, row: tuple[int, str, str, str, str]) -> Stored:
        seq, project, id_, etag, body = row
        return self._row_type(project, id_, json.loads(body), etag, seq)

    def _select(self, where: str, params: Sequence[object]) -> Iterator[Stored]:
        sql = f"SELECT {self._columns} FROM {self._table} WHERE {where}"
        return (self._row(row) for row in self._db.connection().execute(sql, params))

    def get(self, project: str, id_: str) -> Stored | None:
        return next(self._select("project = ? AND id = ?", (project, id_)), None)

    def find(self, kind: ResourceName, name: str, field: str = "name") -> Stored:
        """The resource called ``name``: INVALID_ARGUMENT if malformed, NOT_FOUND if absent."""
        found = self.get(*kind.parse(name, field))
        if found is None:
            raise kind.not_found(name)
        return found

    def rows(self, project: str) -> list[Stored]:
        """Every resource of ``project``, in creation order."""
        return list(self._select("project = ? ORDER BY seq", (project,)))

    def after(self, project: str, after_seq: int, limit: int) -> list[Stored]:
        """Up to ``limit`` resources of ``project`` created after ``after_seq``, in order."""
        where = "project = ? AND seq > ? ORDER BY seq LIMIT ?"
        return list(self._select(where, (project, after_seq, limit)))

    def projects(self) -> list[str]:
        """Every project that holds at least one resource."""
        rows = self._db.connection().execute(
            f"SELECT DISTINCT project FROM {self._table} ORDER BY project"
        )
        return [project for (project,) in rows]

    def put(self, conn: sqlite3.Connection, project: str, id_: str, body: dict[str, Any]) -> None:
        """Insert or replace (keeping the creation order) inside a ``transaction()``."""
        text = _text(body)
        updated = conn.execute(
            f"UPDATE {self._table} SET body = ? WHERE project = ? AND id = ?", (text, project, id_)
        ).rowcount
        if not updated:
            conn.execute(
                f"INSERT INTO {self._table} (project, id, body) VALUES (?, ?, ?)",
                (project, id_, text),
            )

    def put_message(self, conn: sqlite3.Connection, project: str, id_: str, message: Any) -> None:
        """``put`` a raw protobuf message, kept as its REST JSON (camelCase)."""
        self.put(conn, project, id_, json_format.MessageToDict(message))

    def remove(self, conn: sqlite3.Connection, project: str, id_: str) -> bool:
        """Delete inside a ``transaction()``; False if there was nothing to delete."""
        sql = f"DELETE FROM {self._table} WHERE project = ? AND id = ?"
        return bool(conn.execute(sql, (project, id_)).rowcount)

    def insert(self, project: str, id_: str, etag: str, body: dict[str, Any]) -> bool:
        """Store a new resource (with its etag, where the table has one); False if
        ``project`` already has this id."""
        columns, params = self._written(etag, body)
        marks = ", ".join("?" * (len(params) + 2))
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO {self._table} (project, id, {', '.join(columns)}) "
                f"VALUES ({marks})",
                (project, id_, *params),
            )
        return cursor.rowcount == 1

    def replace(
        self, project: str, id_: str, etag: str, body: dict[str, Any], if_etag: str | None
    ) -> bool:
        """Overwrite a resource and its etag (only if its etag is still ``if_etag``, when
        given; a table without etags ignores both). False if nothing was written: it is gone
        or its etag changed meanwhile."""
        columns, params = self._written(etag, body)
        assignments = ", ".join(f"{column} = ?" for column in columns)
        sql = f"UPDATE {self._table} SET {assignments} WHERE project = ? AND id = ?"
        params += (project, id_)
        if if_etag is not None and self._etag:
            sql += " AND etag = ?"
            params += (if_etag,)
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount == 1

    def _written(self, etag: str, body: dict[str, Any]) -> tuple[list[str], tuple[str, ...]]:
        if self._etag:
            return ["etag", "body"], (etag, _text(body))
        return ["body"], (_text(body),)

    def delete(self, project: str, id_: str) -> bool:
        with self.transaction() as conn:
            return self.remove(conn, project, id_)


Item = TypeVar("Item")


def list_page(
    items: Sequence[Item], request: Any, schema: Schema, view: Callable[[Item], View]
) -> tuple[list[Item], str, int]:
    """A Monitoring list request (``filter``, ``order_by``, ``page_size``, ``page_token``)
    over ``items``: ``(this page, next page token, total size after the filter)``."""
    test = compile_list_filter(request.filter, schema)
    kept = [(item, shown) for item in items if test(shown := view(item))]
    sort_views(kept, request.order_by, schema, lambda pair: pair[1])
    chunk, token = page(kept, request.page_size, request.page_token)
    return [item for item, _ in chunk], token, len(kept)


def mask_label(target: MutableMapping[str, str], source: Any, key: str) -> None:
    """An update mask's ``labels.KEY`` path: copy the supplied value, or drop the label when
    the supplied resource lacks it (the key may be quoted)."""
    key = key.strip('"')
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


class CrudService(Protocol):
    """The behaviours a CRUD servicer calls, each on the raw request protobuf."""

    def create(self, request: Any) -> Any: ...
    def get(self, request: Any) -> Any: ...
    def update(self, request: Any) -> Any: ...
    def delete(self, request: Any) -> None: ...


def crud_handler(
    service_name: str,
    types: ModuleType,
    resource: str,
    plural: str,
    service: CrudService,
    list_: Callable[[Any], Any],
    extra: dict[str, grpc.RpcMethodHandler] | None = None,
) -> grpc.GenericRpcHandler:
    """The generic gRPC handler of a CRUD service, its messages found in ``types`` by
    Google's naming (``Create<resource>Request``, ``List<plural>Response``...).

    ``service`` answers Create, Get and Update with the resource's raw protobuf and Delete
    with nothing (the method answers ``google.protobuf.Empty``); ``list_`` builds the raw
    list response. ``extra`` adds the service's other methods.
    """
    message = getattr(types, resource).pb()

    def request(verb: str) -> Any:
        return getattr(types, f"{verb}Request").pb()

    def deleted(req: Any) -> Any:
        service.delete(req)
        return empty_pb2.Empty()

    methods = {
        f"Create{resource}": unary(service.create, request(f"Create{resource}"), message),
        f"Get{resource}": unary(service.get, request(f"Get{resource}"), message),
        f"List{plural}": unary(
            list_, request(f"List{plural}"), getattr(types, f"List{plural}Response").pb()
        ),
        f"Update{resource}": unary(service.update, request(f"Update{resource}"), message),
        f"Delete{resource}": unary(deleted, request(f"Delete{resource}"), empty_pb2.Empty),
        **(extra or {}),
    }
    return grpc.method_handlers_generic_handler(service_name, methods)
