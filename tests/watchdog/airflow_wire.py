"""A stand-in for Airflow's REST API at the wire: DAGs, and the lists of runs and tries.

It answers as Airflow 3.3 (``/api/v2``) or 2.10 (``/api/v1``) does: a page is capped at
``maximum_page_limit`` whatever ``limit`` asks, ``total_entries`` counts every match, the list
is sorted by ``order_by`` (2.10: ``dag_id`` only; 3.3 also ``next_dagrun``, ascending or
``-`` descending, then by ``dag_id`` the same way, DAGs without a next run last ascending as
PostgreSQL sorts NULLs, or first as SQLite and MySQL do: ``nulls_first``), ``tags`` with
``tags_match_mode=any``, ``paused`` and (Airflow 3) ``has_import_errors`` and
``last_dag_run_state`` (the newest run's) filter it,
``/dagTags`` matches ``tag_name_pattern`` anywhere in the name (SQL ``ILIKE '%pattern%'``),
a missing DAG is a 404, and a malformed number is a 422 naming the field. The runs and tries
of every DAG (``~``) come from the query lists (``GET``: ``state``, ``updated_at_gte``,
``end_date_lte``, capped pages) and the batch lists (``POST .../list``: ``state``/``states``,
``end_date_gte``, and ``page_limit`` uncapped, as Airflow 3.3 and 2.10 serve them); a DAG's
own runs newest first. It also serves what a whole watchdog pass reads: import errors, the
audit log (``eventLogs``: ``after`` strictly, ``excluded_events``, newest first), a try's log
(Airflow 3's records, 2.10's text), pools and a DAG's details. It records every request, and
how many were in flight at once, for the tests to count.

``fault`` lets a test break the wire for chosen requests: answer raw bytes with any status and
headers, never answer, or redirect, as a broken or hostile server would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import AirflowAuth


@dataclass(frozen=True)
class Fault:
    """A broken answer: ``body`` with ``status`` and ``headers`` (a byte every ``drip_s``
    seconds if set), or (``hang``) none at all, the connection held open until the server
    stops."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    hang: bool = False
    drip_s: float = 0.0


@dataclass
class AirflowWire:
    """The DAGs it serves (``dag_id`` -> DAG record as the API returns it) and what it saw."""

    major: int = 3
    maximum_page_limit: int = 100
    delay_s: float = 0.0
    """How long each answer takes: lets requests overlap, so concurrency is visible."""
    dags: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    """DAG runs as the API returns them (``dag_id``, ``dag_run_id``, ``state``,
    ``updated_at``, ``end_date``: ISO 8601 times)."""
    tries: list[dict[str, Any]] = field(default_factory=list)
    """Task instances, likewise (and ``task_id``, ``map_index``, ``try_number``)."""
    import_errors: list[dict[str, Any]] = field(default_factory=list)
    """Import errors as the API returns them (``filename``, ``stack_trace``, ``timestamp``)."""
    logs: dict[tuple[str, str, str, int], str] = field(default_factory=dict)
    """A try's log text by ``(dag_id, run_id, task_id, try_number)``."""
    fault: Callable[[str, dict[str, Any]], Fault | None] | None = None
    """Called with each request's path and query: a ``Fault`` replaces Airflow's answer."""
    audit: list[dict[str, Any]] = field(default_factory=list)
    """Audit records (``event``, ``dag_id``, ``when``: ISO 8601, ``extra``)."""
    nulls_first: bool = False
    """How the database sorts a missing next run: last (PostgreSQL) or first (SQLite)."""
    audit_refused: bool = False
    """Answer the audit log with a 403, as Airflow 2.10 does a role without "can read on Audit
    Logs" (its Viewer)."""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Each request's path and query (``{"body": [body]}`` for a ``POST``)."""
    most_in_flight: int = 0
    url: str = ""
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, dag_id: str, next_run: str | None = None, **fields: Any) -> None:
        """A DAG; ``next_run`` (ISO 8601) sets its next run's logical date and the time it may
        be created, both (a trigger timetable: override either by its field)."""
        names = (
            ("next_dagrun_logical_date", "next_dagrun_run_after")
            if self.major >= 3
            else ("next_dagrun", "next_dagrun_create_after")
        )
        self.dags[dag_id] = {
            names[0]: next_run,
            names[1]: next_run,
            "dag_id": dag_id,
            "is_paused": False,
            "tags": [],
            "owners": ["airflow"],
            "fileloc": f"/dags/{dag_id}.py",
            "has_import_errors": False,
            **fields,
        }

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def reset(self) -> None:
        self.requests.clear()
        self.most_in_flight = 0

    # -- answers -------------------------------------------------------------------------

    def answer(
        self, path: str, query: dict[str, list[str]], body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, query if body is None else {"body": [body]}))
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            time.sleep(self.delay_s)
            if body is not None:
                return self._batch(path, body)
            return self._answer(path, query)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        prefix = f"/api/v{self.major - 1}"
        if path == f"{prefix}/version":
            return 200, {"version": "3.3.2" if self.major == 3 else "2.10.5"}
        if not path.startswith(prefix + "/"):
            return 404, {"detail": "Not Found"}
        rest = path[len(prefix) + 1 :]
        try:
            limit = min(int(query.get("limit", ["100"])[0]), self.maximum_page_limit)
            offset = int(query.get("offset", ["0"])[0])
        except ValueError as exc:
            return 422, {"detail": [{"loc": ["query", "limit/offset"], "msg": str(exc)}]}
        if limit < 0 or offset < 0:
            return 422, {"detail": [{"loc": ["query", "limit/offset"], "msg": "negative"}]}
        if rest in ("dags/~/dagRuns", "dags/~/dagRuns/~/taskInstances"):
            records = self.tries if rest.endswith("taskInstances") else self.runs
            found = _filtered(
                records,
                set(query.get("state", [])),
                query.get("updated_at_gte", [None])[0],
                query.get("end_date_lte", [None])[0],
            )
            key = "task_instances" if rest.endswith("taskInstances") else "dag_runs"
            return 200, {key: found[offset : offset + limit], "total_entries": len(found)}
        if rest == "dags":
            order = query.get("order_by", ["dag_id"])[0]
            allowed = ("dag_id", "next_dagrun") if self.major >= 3 else ("dag_id",)
            if order.lstrip("-") not in allowed:
                return 400, {"detail": f"Ordering with '{order.lstrip('-')}' is disallowed"}
            found = sorted(
                self._matching(query),
                key=self._sort_key(order.lstrip("-")),
                reverse=order.startswith("-"),
            )
            return 200, {"dags": found[offset : offset + limit], "total_entries": len(found)}
        if rest.startswith("dags/") and rest.endswith("/dagRuns") and rest.count("/") == 2:
            runs = [run for run in self.runs if run["dag_id"] == rest.split("/")[1]]
            runs.sort(key=lambda run: run.get("start_date") or "", reverse=True)
            return 200, {"dag_runs": runs[offset : offset + limit], "total_entries": len(runs)}
        if rest == "eventLogs" and self.audit_refused:
            return 403, {"detail": "Forbidden"}
        if rest == "eventLogs":
            after = query.get("after", [None])[0]
            excluded = set(query.get("excluded_events", []))
            records = [
                record
                for record in self.audit
                if (after is None or record["when"] > after) and record["event"] not in excluded
            ]
            records.sort(key=lambda record: record["when"], reverse=True)
            page = records[offset : offset + limit]
            return 200, {"event_logs": page, "total_entries": len(records)}
        if rest == "importErrors":
            found = self.import_errors
            return 200, {
                "import_errors": found[offset : offset + limit],
                "total_entries": len(found),
            }
        if rest.startswith("pools/"):
            return 200, {"name": rest[6:], "slots": 128, "open_slots": 128}
        parts = [unquote(part) for part in rest.split("/")]
        if len(parts) == 8 and parts[0] == "dags" and parts[6] == "logs":
            text = self.logs.get((parts[1], parts[3], parts[5], int(parts[7])), "")
            lines = [{"event": line, "level": "info"} for line in text.splitlines()]
            return 200, {"content": lines} if self.major >= 3 else text
        if len(parts) == 3 and parts[0] == "dags" and parts[2] == "details":
            return 200, {**self.dags.get(parts[1], {}), "dag_run_timeout": None}
        if rest.startswith("dags/") and "/" not in rest[5:]:
            dag = self.dags.get(rest[5:])
            return (200, dag) if dag else (404, {"detail": f"The Dag `{rest[5:]}` not found"})
        if rest == "dagTags" and self.major >= 3:
            pattern = query.get("tag_name_pattern", [""])[0].lower()
            names = sorted(
                {tag["name"] for dag in self.dags.values() for tag in dag["tags"]}
                if pattern == ""
                else {
                    tag["name"]
                    for dag in self.dags.values()
                    for tag in dag["tags"]
                    if pattern in tag["name"].lower()
                }
            )
            return 200, {"tags": names[offset : offset + limit], "total_entries": len(names)}
        return 404, {"detail": "Not Found"}

    def _last_run_state(self, dag_id: str) -> str | None:
        runs = [run for run in self.runs if run["dag_id"] == dag_id]
        latest = max(runs, key=lambda run: run.get("start_date") or "", default=None)
        return latest["state"] if latest else None

    def _sort_key(self, order: str) -> Any:
        """Airflow's sort: the column, then the DAG id; a missing next run sorts as the largest
        value (PostgreSQL) or the smallest (SQLite, MySQL)."""
        column = "next_dagrun_logical_date" if self.major >= 3 else "next_dagrun"

        def key(dag: dict[str, Any]) -> tuple[Any, ...]:
            if order == "dag_id":
                return (dag["dag_id"],)
            value = dag.get(column)
            missing = value is None
            return (not missing if self.nulls_first else missing, value or "", dag["dag_id"])

        return key

    def _batch(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        prefix = f"/api/v{self.major - 1}"
        kinds = {
            f"{prefix}/dags/~/dagRuns/list": ("dag_runs", self.runs, "states"),
            f"{prefix}/dags/~/dagRuns/~/taskInstances/list": (
                "task_instances",
                self.tries,
                "state",
            ),
        }
        if path not in kinds:
            return 404, {"detail": "Not Found"}
        key, records, state_field = kinds[path]
        filters = {"dag_ids": "dag_id", "task_ids": "task_id", "dag_run_ids": "dag_run_id"}
        allowed = {state_field, "end_date_gte", "start_date_lte", "order_by", *filters}
        unknown = set(body) - allowed - {"page_limit", "page_offset"}
        if unknown:
            return 422, {"detail": [{"loc": ["body", sorted(unknown)[0]], "msg": "extra"}]}
        found = [
            record
            for record in _filtered(
                records, set(body.get(state_field) or []), None, None, body.get("end_date_gte")
            )
            if all(record.get(key) in body[name] for name, key in filters.items() if name in body)
            and (
                "start_date_lte" not in body
                or str(record.get("start_date") or "~") <= body["start_date_lte"]
            )
        ]
        offset, limit = int(body.get("page_offset", 0)), int(body.get("page_limit", 100))
        return 200, {key: found[offset : offset + limit], "total_entries": len(found)}

    def _matching(self, query: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
        tags = set(query.get("tags", []))
        paused = query.get("paused", [None])[0]
        import_errors = query.get("has_import_errors", [None])[0]
        last_run_state = query.get("last_dag_run_state", [None])[0]
        for dag in self.dags.values():
            if last_run_state is not None and self._last_run_state(dag["dag_id"]) != last_run_state:
                continue
            if tags and not tags & {tag["name"] for tag in dag["tags"]}:
                continue
            if paused is not None and dag["is_paused"] != (paused == "true"):
                continue
            broken = import_errors == "true"
            if import_errors is not None and self.major >= 3 and dag["has_import_errors"] != broken:
                continue
            yield dag


def _filtered(
    records: list[dict[str, Any]],
    states: set[str],
    updated_since: str | None,
    ended_by: str | None,
    ended_since: str | None = None,
) -> list[dict[str, Any]]:
    """The records that match, in a stable order (ISO 8601 UTC times compare as text)."""
    found = []
    for record in records:
        end = record.get("end_date")
        end = end if isinstance(end, str) else None
        if states and str(record.get("state")) not in states:
            continue
        if updated_since is not None and str(record.get("updated_at", "~")) < updated_since:
            continue
        if ended_by is not None and (end is None or end > ended_by):
            continue
        if ended_since is not None and (end is None or end < ended_since):
            continue
        found.append(record)
    return sorted(
        found, key=lambda record: (str(record.get("dag_id")), str(record.get("dag_run_id")))
    )


class WireClients:
    """A module's clients of one wire, one per Airflow line it answers as: making a client
    (its TLS context) costs about 0.1 s, more than most tests at the wire."""

    def __init__(self, wire: AirflowWire) -> None:
        self._wire = wire
        self._made: dict[int, AirflowAPI] = {}

    def __call__(self) -> AirflowAPI:
        """The client for the line the wire answers as now, its requests not yet counted."""
        major = self._wire.major
        if major not in self._made:
            client = AirflowAPI(self._wire.url, AirflowAuth(kind="none"))
            _ = client.major
            self._made[major] = client
        self._made[major].forget()
        self._wire.reset()
        return self._made[major]

    def close(self) -> None:
        for client in self._made.values():
            client.close()


@contextmanager
def airflow_wire(wire: AirflowWire) -> Iterator[AirflowWire]:
    """Serve ``wire`` on 127.0.0.1 (a thread per request) until the block ends."""

    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if not self._faulted(parts.path, query):
                self._send(*wire.answer(parts.path, query))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            path = urlsplit(self.path).path
            if not self._faulted(path, {"body": [body]}):
                self._send(*wire.answer(path, {}, body))

        def _faulted(self, path: str, query: dict[str, Any]) -> bool:
            fault = wire.fault(path, query) if wire.fault else None
            if fault is None:
                return False
            with wire._lock:
                wire.requests.append((path, query))
            if fault.hang:
                stopping.wait()
                return True
            self.send_response(fault.status)
            for name, value in fault.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(fault.body)))
            self.end_headers()
            if not fault.drip_s:
                self.wfile.write(fault.body)
                return True
            for byte in fault.body:
                if stopping.wait(fault.drip_s):
                    break
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    break
            return True

        def _send(self, status: int, body: Any) -> None:
            text = body if isinstance(body, str) else None
            data = text.encode() if text is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "text/plain" if text is not None else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    wire.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield wire
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
