"""Airflow's REST API, read the same way on Airflow 2.10 (``/api/v1``) and 3.x (``/api/v2``).

The watchdog only reads: task instances, DAG runs, DAGs, import errors, pools, event logs and
a try's log. The two API versions differ in paths, field names and pagination limits; this
module hides that behind small typed records, so the detectors never see a version.

Every call is counted (``calls``), since the cost of a pass is a promise of the README.
Airflow caps a page at ``[api] maximum_page_limit`` (100 by default) whatever is asked, so
pagination follows ``total_entries`` rather than the page size asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from observability.watchdog.config import AirflowAuth


class AirflowAPIError(RuntimeError):
    """The API answered with an error or could not be reached; the message is one line."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TaskInstance:
    """One try of one task in one DAG run, as Airflow records it now."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int | None
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration_s: float | None
    queued_when: datetime | None
    scheduled_when: datetime | None
    pool: str | None
    queue: str | None
    operator: str | None
    hostname: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> TaskInstance:
        return cls(
            dag_id=str(item.get("dag_id")),
            run_id=str(item.get("dag_run_id")),
            task_id=str(item.get("task_id")),
            map_index=int(item.get("map_index", -1) if item.get("map_index") is not None else -1),
            try_number=int(item.get("try_number") or 0),
            max_tries=item.get("max_tries"),
            state=item.get("state"),
            start_date=_time(item.get("start_date")),
            end_date=_time(item.get("end_date")),
            duration_s=item.get("duration"),
            queued_when=_time(item.get("queued_when")),
            scheduled_when=_time(item.get("scheduled_when")),
            pool=item.get("pool"),
            queue=item.get("queue"),
            operator=item.get("operator_name") or item.get("operator"),
            hostname=item.get("hostname") or None,
        )


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str | None
    run_type: str | None
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    note: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> DagRun:
        return cls(
            dag_id=str(item.get("dag_id")),
            run_id=str(item.get("dag_run_id")),
            state=item.get("state"),
            run_type=item.get("run_type"),
            logical_date=_time(item.get("logical_date") or item.get("execution_date")),
            queued_at=_time(item.get("queued_at")),
            start_date=_time(item.get("start_date")),
            end_date=_time(item.get("end_date")),
            note=item.get("note"),
        )


@dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    fileloc: str | None
    next_run_after: datetime | None
    max_consecutive_failed_runs: int

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Dag:
        tags = item.get("tags") or []
        return cls(
            dag_id=str(item.get("dag_id")),
            is_paused=bool(item.get("is_paused")),
            tags=tuple(str(tag.get("name") if isinstance(tag, Mapping) else tag) for tag in tags),
            owners=tuple(str(owner) for owner in item.get("owners") or []),
            fileloc=item.get("fileloc"),
            next_run_after=_time(
                item.get("next_dagrun_run_after") or item.get("next_dagrun_create_after")
            ),
            max_consecutive_failed_runs=int(item.get("max_consecutive_failed_dag_runs") or 0),
        )


@dataclass(frozen=True)
class ImportError_:
    """A DAG file that does not import (named so as not to shadow the builtin)."""

    filename: str
    stack_trace: str
    timestamp: datetime | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> ImportError_:
        return cls(
            filename=str(item.get("filename")),
            stack_trace=str(item.get("stack_trace") or ""),
            timestamp=_time(item.get("timestamp")),
        )


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    open_slots: int


class AirflowAPI:
    """A read-only client of one Airflow; thread-safe, one HTTP connection pool."""

    def __init__(
        self,
        base_url: str,
        auth: AirflowAuth,
        *,
        page_size: int = 1000,
        timeout_s: float = 30.0,
        google_token: Any = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.page_size = page_size
        self.calls = 0
        self._lock = threading.Lock()
        self._google_token = google_token
        self._bearer: str | None = None
        self._major: int | None = None
        self._audit: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self.version: str | None = None
        basic = (auth.username or "", auth.secret()) if auth.kind == "basic" else None
        self._http = httpx.Client(timeout=timeout_s, auth=basic, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------

    @property
    def major(self) -> int:
        """2 or 3, probed once: ``/api/v2/version`` exists on Airflow 3 only."""
        if self._major is None:
            for major in (3, 2):
                try:
                    answer = self._request("GET", f"/api/v{major - 1}/version", probe=True)
                except AirflowAPIError:
                    continue
                if answer is not None:
                    self.version = str(answer.get("version"))
                    self._major = int(self.version.split(".", 1)[0])
                    break
            else:
                raise AirflowAPIError(f"{self.base_url}: neither /api/v2 nor /api/v1 answers")
        return self._major

    @property
    def _prefix(self) -> str:
        return "/api/v2" if self.major >= 3 else "/api/v1"

    def _headers(self) -> dict[str, str]:
        kind = self.auth.kind
        if kind == "token":
            return {"Authorization": f"Bearer {self.auth.secret()}"}
        if kind == "google":
            return {"Authorization": f"Bearer {self._google_access_token()}"}
        if kind == "password":
            if self._bearer is None:
                self._bearer = self._airflow_token()
            return {"Authorization": f"Bearer {self._bearer}"}
        return {}

    def _google_access_token(self) -> str:
        import google.auth
        import google.auth.transport.requests

        with self._lock:
            if self._google_token is None:
                self._google_token, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
            credentials = self._google_token
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())
            return str(credentials.token)

    def _airflow_token(self) -> str:
        """Airflow 3's simple and FAB auth managers hand out JWTs at ``/auth/token``."""
        self.calls += 1
        try:
            answer = self._http.post(
                f"{self.base_url}/auth/token",
                json={"username": self.auth.username, "password": self.auth.secret()},
            )
        except httpx.HTTPError as exc:
            raise AirflowAPIError(f"{self.base_url}/auth/token: {exc}") from None
        if answer.status_code >= 300:
            raise AirflowAPIError(f"{self.base_url}/auth/token answered {answer.status_code}")
        return str(answer.json()["access_token"])

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        accept: str = "application/json",
        probe: bool = False,
    ) -> Any:
        url = f"{self.base_url}{path}"
        for attempt in range(3):
            self.calls += 1
            try:
                answer = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={**self._headers(), "Accept": accept},
                )
            except httpx.HTTPError as exc:
                if attempt == 2 or probe:
                    raise AirflowAPIError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
                time.sleep(0.5 * (attempt + 1))
                continue
            if answer.status_code == 401 and self.auth.kind == "password" and attempt == 0:
                self._bearer = None  # expired: ask for a new one once
                continue
            if answer.status_code in (429, 502, 503, 504) and attempt < 2 and not probe:
                time.sleep(0.5 * (attempt + 1))
                continue
            if probe and answer.status_code == 404:
                return None
            if answer.status_code >= 300:
                detail = answer.text[:200].replace("\n", " ")
                raise AirflowAPIError(f"{method} {url} answered {answer.status_code}: {detail}")
            if accept != "application/json":
                return answer.text
            return answer.json()
        raise AirflowAPIError(f"{method} {url}: gave up after 3 attempts")

    def _pages(self, path: str, key: str, params: list[tuple[str, Any]]) -> Iterator[Any]:
        """Every item of a list endpoint, page after page (offset/limit, ``total_entries``)."""
        offset = 0
        while True:
            page = self._request(
                "GET", path, params=[*params, ("limit", self.page_size), ("offset", offset)]
            )
            items = page.get(key) or []
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_entries") or 0):
                return

    # -- what the watchdog reads -----------------------------------------------------------

    def task_instances(
        self,
        states: list[str],
        *,
        updated_since: datetime | None = None,
        dag_id: str = "~",
        run_id: str = "~",
    ) -> list[TaskInstance]:
        """Task instances in any of ``states`` (of every DAG and run by default)."""
        params: list[tuple[str, Any]] = [("state", state) for state in states]
        if updated_since is not None:
            params.append(("updated_at_gte", _iso(updated_since)))
        path = f"{self._prefix}/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return [TaskInstance.from_api(item) for item in self._pages(path, "task_instances", params)]

    def recent_successes(self, dag_id: str, task_id: str, count: int) -> list[TaskInstance]:
        """The last ``count`` successful tries of one task, newest first (a duration baseline)."""
        if self.major >= 3:
            params: list[tuple[str, Any]] = [
                ("state", "success"),
                ("task_id", task_id),
                ("order_by", "-end_date"),
                ("limit", count),
            ]
            page = self._request(
                "GET", f"{self._prefix}/dags/{dag_id}/dagRuns/~/taskInstances", params=params
            )
        else:
            page = self._request(
                "POST",
                f"{self._prefix}/dags/~/dagRuns/~/taskInstances/list",
                json={
                    "dag_ids": [dag_id],
                    "task_ids": [task_id],
                    "state": ["success"],
                    "page_limit": 1000,
                },
            )
        items = [TaskInstance.from_api(item) for item in page.get("task_instances") or []]
        items.sort(key=lambda ti: ti.end_date or datetime.min.replace(tzinfo=timezone.utc))
        return items[-count:][::-1]

    def dag_runs(
        self, states: list[str], *, updated_since: datetime | None = None, dag_id: str = "~"
    ) -> list[DagRun]:
        params: list[tuple[str, Any]] = [("state", state) for state in states]
        if updated_since is not None:
            params.append(("updated_at_gte", _iso(updated_since)))
        path = f"{self._prefix}/dags/{dag_id}/dagRuns"
        return [DagRun.from_api(item) for item in self._pages(path, "dag_runs", params)]

    def latest_runs(self, dag_id: str, count: int) -> list[DagRun]:
        """The DAG's newest ``count`` runs, newest first."""
        page = self._request(
            "GET",
            f"{self._prefix}/dags/{dag_id}/dagRuns",
            params={"order_by": "-start_date", "limit": count},
        )
        return [DagRun.from_api(item) for item in page.get("dag_runs") or []]

    def dags(self, *, paused: bool | None = None) -> list[Dag]:
        params: list[tuple[str, Any]] = []
        if paused is not None:
            params.append(("paused", str(paused).lower()))
        return [Dag.from_api(item) for item in self._pages(f"{self._prefix}/dags", "dags", params)]

    def dag_run_timeout_s(self, dag_id: str) -> float | None:
        """The DAG's ``dagrun_timeout`` in seconds, if it has one."""
        details = self._request("GET", f"{self._prefix}/dags/{dag_id}/details")
        timeout = details.get("dag_run_timeout")
        if isinstance(timeout, Mapping):  # Airflow 2: a TimeDelta object
            return float(timeout.get("days", 0)) * 86400 + float(timeout.get("seconds", 0))
        if isinstance(timeout, str) and timeout:
            return _iso_duration_s(timeout)
        return None

    def import_errors(self) -> list[ImportError_]:
        path = f"{self._prefix}/importErrors"
        return [ImportError_.from_api(item) for item in self._pages(path, "import_errors", [])]

    def pool(self, name: str) -> Pool | None:
        try:
            item = self._request("GET", f"{self._prefix}/pools/{name}")
        except AirflowAPIError:
            return None
        return Pool(
            name=name,
            slots=int(item.get("slots") or 0),
            open_slots=int(item.get("open_slots") or 0),
        )

    def event_logs(self, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        """Airflow's audit log of one DAG (and run): who changed what, e.g. a state by hand.

        Kept until ``forget``: a failed try and its failed run read the same log in one pass."""
        key = (dag_id, run_id)
        if key not in self._audit:
            params: dict[str, Any] = {"dag_id": dag_id, "limit": 100, "order_by": "-when"}
            if run_id is not None:
                params["run_id"] = run_id
            page = self._request("GET", f"{self._prefix}/eventLogs", params=params)
            self._audit[key] = list(page.get("event_logs") or [])
        return self._audit[key]

    def forget(self) -> None:
        """Drop what one pass read (the audit logs): the next pass reads them afresh."""
        self._audit.clear()

    def log_tail(self, ti: TaskInstance, lines: int = 40) -> str:
        """The last lines of a try's task log, as text (empty when there is none).

        Airflow 2 serves the text itself (``Accept: text/plain``); Airflow 3 serves structured
        records, whose error details are rendered ``Type: value`` like a traceback's last line.
        """
        if ti.try_number < 1:
            return ""
        path = (
            f"{self._prefix}/dags/{ti.dag_id}/dagRuns/{ti.run_id}/taskInstances/"
            f"{ti.task_id}/logs/{ti.try_number}"
        )
        params = {"full_content": "true", "map_index": ti.map_index}
        try:
            if self.major < 3:
                text = self._request("GET", path, params=params, accept="text/plain")
                return "\n".join(str(text).splitlines()[-lines:])
            answer = self._request("GET", path, params=params)
        except AirflowAPIError:
            return ""
        return "\n".join(_record_lines(answer)[-lines:])


def _record_lines(answer: Any) -> list[str]:
    """Airflow 3's log records (``{"content": [{"event", "level", "error_detail"}, ...]}``)."""
    content = answer.get("content") if isinstance(answer, Mapping) else None
    if isinstance(content, str):
        return content.splitlines()
    lines: list[str] = []
    for record in content or []:
        if not isinstance(record, Mapping):
            lines.extend(str(record).splitlines())
            continue
        lines.extend(f"{record.get('level', '')} {record.get('event', '')}".strip().splitlines())
        for detail in record.get("error_detail") or []:
            if isinstance(detail, Mapping) and detail.get("exc_type"):
                lines.append(f"{detail['exc_type']}: {detail.get('exc_value', '')}")
    return lines


def _iso_duration_s(text: str) -> float | None:
    """Airflow 3 sends timedeltas as ISO 8601 durations (``P1DT2H3M4S``) or as seconds."""
    import re

    try:
        return float(text)
    except ValueError:
        pass
    match = re.fullmatch(
        r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        text,
    )
    if not match:
        return None
    days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds
