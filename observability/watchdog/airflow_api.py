"""Airflow's REST API, read the same way on Airflow 2.10 (``/api/v1``) and 3.x (``/api/v2``).

The watchdog only reads: task instances, DAG runs, DAGs, import errors, pools, event logs and
a try's log. The two API versions differ in paths, field names and pagination limits; this
module hides that behind small typed records, so the detectors never see a version.

Every call is counted (``calls``), since the cost of a pass is a promise of the README.
Airflow caps a page at ``[api] maximum_page_limit`` (100 by default) whatever is asked, so
pagination follows ``total_entries`` rather than the page size asked for.

At most ``concurrency`` requests are in flight at once (4 by default): once the first page of
a list says how many items there are, the other pages are asked for together, and callers
hand independent single requests (a DAG, a log) to ``concurrently``. The API server answers
each list request with the same fixed work (it reads the ids of every DAG the caller may see),
so requests side by side overlap that work with the database's and with the network's.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from observability.redact import redact_cut
from observability.watchdog.config import AirflowAuth

_LIFECYCLE_EVENTS = (
    # What Airflow writes for every try (3: the execution API; 2.10: the task runner and CLI).
    "running",
    "success",
    "failed",
    "skipped",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "deferred",
    "restarting",
    "removed",
    "cli_task_run",
)


_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Record = TypeVar("_Record")

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 2**20
"""The largest answer read: a try's whole log (Airflow 3 serves it as JSON records) fits."""


LOG_TAIL_CHARS = 64 * 1024
"""The most of a log's last lines kept: a kill or a traceback's last line is at its very end,
and the reasons' patterns then cost milliseconds, not seconds, on a log of one huge line."""


DAG_ID_MAX_CHARS = 250
"""Airflow's longest DAG id (``ID_LEN``): a record naming a longer one names no DAG."""


class AirflowAPIError(RuntimeError):
    """The API answered with an error or could not be reached; the message is one line."""


class OddRecord(ValueError):
    """A record the API served that cannot name what it is about; the message names the field."""


def _time(value: Any) -> datetime | None:
    """A time with its zone (UTC when Airflow gives none); None for anything else, and for a
    time so near the ends of the calendar that a day's arithmetic on it would overflow."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        parsed.astimezone(timezone.utc) - timedelta(days=1) + timedelta(days=2)
    except (ValueError, OverflowError):
        return None
    # Past 9000 no date is real, and a limit of up to 100 years added to it must still fit.
    return parsed if parsed.year <= 9000 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    """An integer, or one written as text (``"2"``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    return None


def _seconds(value: Any) -> float | None:
    """A finite, non-negative number of seconds; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _id(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise OddRecord(f"{key} is {type(value).__name__ if value is not None else 'missing'}")
    return value


def _items(page: Mapping[str, Any], key: str) -> list[Any]:
    """A page's list of records (none when the key holds something else)."""
    items = page.get(key)
    return items if isinstance(items, list) else []


def _segment(value: str) -> str:
    """An id as one path segment: a run id may hold ``/``, ``?``, ``#`` or spaces."""
    return quote(value, safe="")


def _try_key(ti: TaskInstance) -> tuple[Any, ...]:
    return (ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)


def _run_key(run: DagRun) -> tuple[str, str]:
    return (run.dag_id, run.run_id)


def _end_key(ti: TaskInstance) -> datetime:
    return ti.end_date or datetime.min.replace(tzinfo=timezone.utc)


def _identity(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """A try or a run, as the API names it."""
    return tuple(str(item.get(key)) for key in ("dag_id", "dag_run_id", "task_id", "map_index"))


def _newest_first(run: DagRun) -> tuple[bool, float]:
    """A run not started yet first, then by start, newest first."""
    return (run.start_date is not None, -run.start_date.timestamp() if run.start_date else 0.0)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_records(
    items: Iterable[Any],
    parse: Callable[[Mapping[str, Any]], _Record],
    key: Callable[[_Record], Any] = lambda record: record,
) -> list[_Record]:
    """Each record that ``parse`` accepts, once: an odd one (no id, an id of the wrong type,
    not an object) is logged with the field at fault and skipped, so it costs itself only;
    a record served twice (offset pages over a list that moved) is kept once."""
    parsed: dict[Any, _Record] = {}
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise OddRecord(f"not an object but {type(item).__name__}")
            record = parse(item)
        except OddRecord as exc:
            what = getattr(parse, "__qualname__", "").split(".")[0] or "a"
            _log.warning("an odd %s record from Airflow skipped: %s", what, exc)
            continue
        parsed[key(record)] = record
    return list(parsed.values())


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
        """The try; ``OddRecord`` when its ids are missing or not what Airflow sends. Any
        other field of the wrong type or out of range is None."""
        map_index = -1 if item.get("map_index") is None else _int(item.get("map_index"))
        try_number = 0 if item.get("try_number") is None else _int(item.get("try_number"))
        if map_index is None or try_number is None:
            field = "map_index" if map_index is None else "try_number"
            raise OddRecord(f"{field} is not an integer: {str(item.get(field))[:40]!r}")
        return cls(
            dag_id=_id(item, "dag_id"),
            run_id=_id(item, "dag_run_id"),
            task_id=_id(item, "task_id"),
            map_index=map_index,
            try_number=try_number,
            max_tries=_int(item.get("max_tries")),
            state=_text(item.get("state")),
            start_date=_time(item.get("start_date")),
            end_date=_time(item.get("end_date")),
            duration_s=_seconds(item.get("duration")),
            queued_when=_time(item.get("queued_when")),
            scheduled_when=_time(item.get("scheduled_when")),
            pool=_text(item.get("pool")),
            queue=_text(item.get("queue")),
            operator=_text(item.get("operator_name")) or _text(item.get("operator")),
            hostname=_text(item.get("hostname")) or None,
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
            dag_id=_id(item, "dag_id"),
            run_id=_id(item, "dag_run_id"),
            state=_text(item.get("state")),
            run_type=_text(item.get("run_type")),
            logical_date=_time(item.get("logical_date") or item.get("execution_date")),
            queued_at=_time(item.get("queued_at")),
            start_date=_time(item.get("start_date")),
            end_date=_time(item.get("end_date")),
            note=_text(item.get("note")),
        )


@dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    fileloc: str | None
    next_run_after: datetime | None
    """When the scheduler may create the next run (Airflow 3 ``next_dagrun_run_after``,
    2.10 ``next_dagrun_create_after``)."""
    next_logical_date: datetime | None
    """The next run's logical date (``next_dagrun``): what Airflow 3 sorts the list by; never
    after ``next_run_after``."""
    max_consecutive_failed_runs: int

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Dag:
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        owners = item.get("owners") if isinstance(item.get("owners"), list) else []
        return cls(
            dag_id=_id(item, "dag_id"),
            is_paused=item.get("is_paused") is True,
            tags=tuple(
                str(tag.get("name") if isinstance(tag, Mapping) else tag) for tag in tags or []
            ),
            owners=tuple(str(owner) for owner in owners or []),
            fileloc=_text(item.get("fileloc")),
            next_run_after=_time(
                item.get("next_dagrun_run_after") or item.get("next_dagrun_create_after")
            ),
            next_logical_date=_time(
                item.get("next_dagrun_logical_date") or item.get("next_dagrun")
            ),
            max_consecutive_failed_runs=max(
                0, _int(item.get("max_consecutive_failed_dag_runs")) or 0
            ),
        )


def _scheduled_dag(item: Mapping[str, Any]) -> Dag:
    """A DAG of the schedule-ordered list; ``OddRecord`` when its next run cannot be read."""
    dag = Dag.from_api(item)
    served = item.get("next_dagrun_logical_date")
    if served is not None and dag.next_logical_date is None:
        raise OddRecord(f"next_dagrun_logical_date is not a date: {str(served)[:40]!r}")
    return dag


@dataclass(frozen=True)
class ImportError_:
    """A DAG file that does not import (named so as not to shadow the builtin)."""

    filename: str
    stack_trace: str
    timestamp: datetime | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> ImportError_:
        trace = item.get("stack_trace")
        return cls(
            filename=_id(item, "filename"),
            stack_trace=trace if isinstance(trace, str) else "",
            timestamp=_time(item.get("timestamp")),
        )


@dataclass(frozen=True)
class Pool:
    name: str
    slots: int
    open_slots: int


class _Cut(Exception):
    """A request stopped by its own limits (size, deadline), not by the network."""


def _json_object(text: str, request: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        got = " ".join(text[:60].split())
        raise AirflowAPIError(
            f"{request}: the answer is not JSON ({type(exc).__name__}): {got!r}"
        ) from None
    if not isinstance(value, dict):
        raise AirflowAPIError(f"{request}: the answer is not a JSON object")
    return value


class AirflowAPI:
    """A read-only client of one Airflow; thread-safe, one HTTP connection pool."""

    MAX_PAGES = 1000
    """The most pages one list may take: a ``total_entries`` beyond is an error, not a hang."""

    def __init__(
        self,
        base_url: str,
        auth: AirflowAuth,
        *,
        page_size: int = 1000,
        timeout_s: float = 30.0,
        google_token: Any = None,
        concurrency: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.page_size = page_size
        self.calls = 0
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(concurrency)
        # Its jobs are single requests (a page, a DAG, a log): none waits for another job.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="airflow-api")
        self._audit_lock = threading.Lock()
        self._google_token = google_token
        self._bearer: str | None = None
        self._major: int | None = None
        self._audit: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self._audit_read: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self._audit_since: datetime | None = None
        self.version: str | None = None
        basic = (auth.username or "", auth.secret()) if auth.kind == "basic" else None
        self._http = httpx.Client(timeout=timeout_s, auth=basic, follow_redirects=True)
        self.retry_wait_s = 0.5
        """The wait before a second attempt (twice that before a third)."""
        self.request_deadline_s = 3 * timeout_s
        """No request takes longer, even from a server that drips its answer a byte a time."""
        self.max_body_bytes = MAX_BODY_BYTES
        self.deadline: float | None = None
        """``time.monotonic()`` after which no request starts (the pass's end: ``runner``)."""

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def concurrently(self, job: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
        """``job`` of each item, side by side, in order. A job makes single requests only
        (no list of many pages: that would wait for the pool it runs in)."""
        return list(self._pool.map(job, items))

    def _count_call(self) -> None:
        with self._lock:
            self.calls += 1

    # -- plumbing -------------------------------------------------------------------------

    @property
    def major(self) -> int:
        """2 or 3, probed once: ``/api/v2/version`` exists on Airflow 3 only."""
        if self._major is None:
            failures: list[str] = []
            for major in (3, 2):
                try:
                    answer = self._request("GET", f"/api/v{major - 1}/version", probe=True)
                except AirflowAPIError as exc:
                    failures.append(str(exc))
                    continue
                if answer is not None:
                    version = answer.get("version")
                    leading = str(version).split(".", 1)[0]
                    if not isinstance(version, str) or not leading.isdigit():
                        raise AirflowAPIError(
                            f"{self.base_url}/api/v{major - 1}/version: version {version!r} "
                            "is not an Airflow version"
                        )
                    self.version, self._major = version, int(leading)
                    break
            else:
                why = f" ({failures[-1]})" if failures else ""
                raise AirflowAPIError(f"{self.base_url}: neither /api/v2 nor /api/v1 answers{why}")
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
        self._count_call()
        try:
            answer = self._http.post(
                f"{self.base_url}/auth/token",
                json={"username": self.auth.username, "password": self.auth.secret()},
            )
        except httpx.HTTPError as exc:
            raise AirflowAPIError(f"{self.base_url}/auth/token: {exc}") from None
        if answer.status_code >= 300:
            raise AirflowAPIError(f"{self.base_url}/auth/token answered {answer.status_code}")
        token = _json_object(answer.text, f"POST {self.base_url}/auth/token").get("access_token")
        if not isinstance(token, str) or not token:
            raise AirflowAPIError(f"POST {self.base_url}/auth/token: no access_token in the answer")
        return token

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
        """The answer's JSON object (or text, for ``accept`` other than JSON); retried on a
        failed connection, 429 and 502 to 504; anything else wrong is an ``AirflowAPIError``."""
        url = f"{self.base_url}{path}"
        for attempt in range(3):
            self._count_call()
            try:
                status, body = self._exchange(method, url, params, json, accept)
            except (httpx.TooManyRedirects, _Cut) as exc:
                raise AirflowAPIError(f"{method} {url}: {exc}") from None
            except httpx.HTTPError as exc:
                if attempt == 2 or probe:
                    raise AirflowAPIError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
                time.sleep(self.retry_wait_s * (attempt + 1))
                continue
            if status == 401 and self.auth.kind == "password" and attempt == 0:
                self._bearer = None  # expired: ask for a new one once
                continue
            if status in (429, 502, 503, 504) and attempt < 2 and not probe:
                time.sleep(self.retry_wait_s * (attempt + 1))
                continue
            if probe and status == 404:
                return None
            text = body.decode("utf-8", errors="replace")
            if status >= 300:
                detail = " ".join(redact_cut(text, 200).split())
                raise AirflowAPIError(f"{method} {url} answered {status}: {detail}")
            if accept != "application/json":
                return text
            return _json_object(text, f"{method} {url}")
        raise AirflowAPIError(f"{method} {url}: gave up after 3 attempts")

    def _exchange(
        self, method: str, url: str, params: Any, json: Any, accept: str
    ) -> tuple[int, bytes]:
        """One request: its status and body, read within the request's deadline and size."""
        started = time.monotonic()
        deadline = started + self.request_deadline_s
        if self.deadline is not None:
            if started >= self.deadline:
                raise _Cut("the pass's deadline (pass_timeout) has passed")
            deadline = min(deadline, self.deadline)
        headers = {**self._headers(), "Accept": accept}
        with (
            self._in_flight,
            self._http.stream(method, url, params=params, json=json, headers=headers) as answer,
        ):
            chunks, size = [], 0
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise _Cut(f"the answer is larger than {self.max_body_bytes} bytes")
                if time.monotonic() > deadline:
                    raise _Cut(f"no whole answer by the deadline ({deadline - started:.1f} s)")
                chunks.append(chunk)
            return answer.status_code, b"".join(chunks)

    def _total(
        self, page: Mapping[str, Any], size: int, path: str, *, all_at_once: bool = True
    ) -> int:
        """A list's ``total_entries``, checked; when its pages are to be asked for all at once
        (``all_at_once``), never more of them than ``MAX_PAGES``. A list read a page at a
        time (the DAG list, the audit log) stops by itself."""
        total = page.get("total_entries")
        if total is None:
            return size
        if isinstance(total, bool) or not isinstance(total, int | float):
            raise AirflowAPIError(f"{path}: total_entries {str(total)[:40]!r} is not a count")
        if not math.isfinite(total):
            raise AirflowAPIError(f"{path}: total_entries {total} is not a count")
        if all_at_once and size and total > size * self.MAX_PAGES:
            raise AirflowAPIError(
                f"{path}: total_entries {total:g} needs more than {self.MAX_PAGES} pages "
                f"of {size}; narrow the watch (lookback) or raise [api] maximum_page_limit"
            )
        return int(total)

    def _pages(self, path: str, key: str, params: list[tuple[str, Any]]) -> list[Any]:
        """Every item of a list endpoint (offset/limit): the first page, then the others at
        once, since its ``total_entries`` and length (the server's page limit) say which."""
        first = self._request(
            "GET", path, params=[*params, ("limit", self.page_size), ("offset", 0)]
        )
        items = _items(first, key)
        size = len(items)
        total = self._total(first, size, path)
        if not size or size >= total:
            return items
        return items + self._rest(path, key, params, size, total)

    def _rest(
        self, path: str, key: str, params: list[tuple[str, Any]], size: int, total: int
    ) -> list[Any]:
        """The pages after the first (of ``size`` items, ``total`` in all), side by side."""

        def page(offset: int) -> list[Any]:
            params_at = [*params, ("limit", self.page_size), ("offset", offset)]
            return _items(self._request("GET", path, params=params_at), key)

        return [item for more in self.concurrently(page, range(size, total, size)) for item in more]

    def changed_task_instances(self, states: list[str], since: datetime) -> list[TaskInstance]:
        """Task instances in any of ``states`` changed (``updated_at``) since ``since``."""
        items = self._changed("taskInstances", "task_instances", "state", states, since)
        return parse_records(items, TaskInstance.from_api, _try_key)

    def changed_dag_runs(self, states: list[str], since: datetime) -> list[DagRun]:
        """DAG runs in any of ``states`` changed (``updated_at``) since ``since``."""
        items = self._changed("", "dag_runs", "states", states, since)
        return parse_records(items, DagRun.from_api, _run_key)

    def _changed(
        self, tail: str, key: str, state_field: str, states: list[str], since: datetime
    ) -> list[dict[str, Any]]:
        """What changed since ``since``, read in as few list requests as Airflow allows.

        The query lists (``GET``) filter on ``updated_at`` but serve ``[api]
        maximum_page_limit`` items a page (100 by default); the batch lists (``POST
        .../list``) serve ``page_limit`` items whatever that setting, but have no
        ``updated_at`` filter. And every list request costs the API server the same fixed
        work (it gathers the ids of every DAG the caller may read: ~0.25 s of CPU at 10,000
        DAGs). So: one query page; when more pages remain than the batch list would take (a
        first pass, a storm of failures), the items that ended since ``since`` come from the
        batch list, and those changed since but ended before (a state set by hand on an old
        try) from the query list. An item changed since ``since`` with no end date at all is
        the only one this misses: Airflow sets the end date of every try and run it moves to a
        finished state."""
        path = f"{self._prefix}/dags/~/dagRuns" + (f"/~/{tail}" if tail else "")
        params: list[tuple[str, Any]] = [("state", state) for state in states]
        params.append(("updated_at_gte", _iso(since)))
        first = self._request(
            "GET", path, params=[*params, ("limit", self.page_size), ("offset", 0)]
        )
        items = _items(first, key)
        size = len(items)
        total = self._total(first, size, path)
        if not size or size >= total:
            return items
        if math.ceil((total - size) / size) <= math.ceil(total / self.page_size) + 1:
            return items + self._rest(path, key, params, size, total)  # no fewer by batch
        ended = self._batch(
            f"{path}/list", key, {state_field: states, "end_date_gte": _iso(since)}
        )[0]
        earlier = self._pages(path, key, [*params, ("end_date_lte", _iso(since))])
        unique = {_identity(item): item for item in [*ended, *earlier] if isinstance(item, dict)}
        return list(unique.values())

    def _batch(
        self, path: str, key: str, body: dict[str, Any], max_pages: int | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every item of a batch list (``POST``, ``page_offset``/``page_limit``): the first
        page, then the others at once. Returns them and whether ``max_pages`` cut the read."""

        def page(offset: int) -> dict[str, Any]:
            json = {**body, "page_limit": self.page_size, "page_offset": offset}
            return dict(self._request("POST", path, json=json))

        first = page(0)
        items = _items(first, key)
        size = len(items)
        total = self._total(first, size, path)
        offsets = range(size, total, size) if size else range(0)
        cut = max_pages is not None and len(offsets) > max_pages - 1
        if cut:
            offsets = offsets[: max(0, (max_pages or 1) - 1)]
        for more in self.concurrently(page, offsets):
            items.extend(_items(more, key))
        return items, cut

    def task_instance_batch(
        self,
        *,
        states: list[str],
        dag_ids: list[str] | None = None,
        task_ids: list[str] | None = None,
        run_ids: list[str] | None = None,
        started_before: datetime | None = None,
        newest_first: bool = False,
        max_pages: int | None = None,
    ) -> tuple[list[TaskInstance], bool]:
        """Tries of every DAG, or of ``dag_ids`` (and tasks, runs), in batch list requests
        (``.../list``: a page holds ``page_size`` tries whatever ``maximum_page_limit``).

        The filters combine as a cross product (any of the DAGs, any of the tasks): callers keep
        the pairs they asked for. Returns the tries and whether ``max_pages`` cut the read short.
        Airflow 3 sorts by ``order_by``; Airflow 2.10's body has no sort."""
        body: dict[str, Any] = {"state": states}
        if dag_ids is not None:
            body["dag_ids"] = dag_ids
        if task_ids is not None:
            body["task_ids"] = task_ids
        if run_ids is not None:
            body["dag_run_ids"] = run_ids
        if started_before is not None:
            body["start_date_lte"] = _iso(started_before)
        if newest_first and self.major >= 3:
            body["order_by"] = "-end_date"
        path = f"{self._prefix}/dags/~/dagRuns/~/taskInstances/list"
        items, cut = self._batch(path, "task_instances", body, max_pages)
        return parse_records(items, TaskInstance.from_api, _try_key), cut

    def recent_successes(
        self, tasks: set[tuple[str, str]], count: int, *, max_pages: int = 5
    ) -> dict[tuple[str, str], list[TaskInstance]]:
        """The last ``count`` successful tries of each ``(dag_id, task_id)``, newest first.

        One list request for all of them (a duration baseline per task would otherwise cost a
        request per task); a task left with fewer than 3 tries by a read cut short at
        ``max_pages`` is asked for alone, so no baseline is missed for the sake of the cap."""
        if not tasks:
            return {}
        tries, cut = self.task_instance_batch(
            dag_ids=sorted({dag for dag, _ in tasks}),
            task_ids=sorted({task for _, task in tasks}),
            states=["success"],
            newest_first=True,
            max_pages=max_pages,
        )
        by_task: dict[tuple[str, str], list[TaskInstance]] = {task: [] for task in tasks}
        for ti in tries:
            if (ti.dag_id, ti.task_id) in by_task:
                by_task[ti.dag_id, ti.task_id].append(ti)
        for task, found in by_task.items():
            if cut and len(found) < 3:
                found[:] = self._task_successes(*task, count)
            found.sort(key=_end_key, reverse=True)
            del found[count:]
        return by_task

    def _task_successes(self, dag_id: str, task_id: str, count: int) -> list[TaskInstance]:
        if self.major >= 3:
            params: list[tuple[str, Any]] = [
                ("state", "success"),
                ("task_id", task_id),
                ("order_by", "-end_date"),
                ("limit", count),
            ]
            page = self._request(
                "GET",
                f"{self._prefix}/dags/{_segment(dag_id)}/dagRuns/~/taskInstances",
                params=params,
            )
            return parse_records(_items(page, "task_instances"), TaskInstance.from_api, _try_key)
        tries, _ = self.task_instance_batch(
            dag_ids=[dag_id], task_ids=[task_id], states=["success"]
        )
        return tries

    def dag_runs(self, states: list[str]) -> list[DagRun]:
        """Every DAG run in any of ``states``."""
        path = f"{self._prefix}/dags/~/dagRuns/list"
        items = self._batch(path, "dag_runs", {"states": states})[0]
        return parse_records(items, DagRun.from_api, _run_key)

    def latest_runs(self, dag_id: str, count: int) -> list[DagRun]:
        """The DAG's newest ``count`` runs, newest first (one not started yet first, as
        PostgreSQL sorts it), ties by run id: sorted here too, since callers count from the
        newest and name facts by it, and a server that sends them out of order, or more than
        asked, must not change either. Airflow serves at most ``maximum_page_limit`` a request:
        more are read on, a page at a time, up to ``MAX_PAGES``."""
        path = f"{self._prefix}/dags/{_segment(dag_id)}/dagRuns"
        items: list[Any] = []
        for _ in range(self.MAX_PAGES):
            params = {"order_by": "-start_date", "limit": count - len(items), "offset": len(items)}
            page = self._request("GET", path, params=params)
            found = _items(page, "dag_runs")
            items += found
            total = self._total(page, len(items), path, all_at_once=False)
            if not found or len(items) >= min(count, total):
                break
        runs = parse_records(items, DagRun.from_api, _run_key)
        runs.sort(key=lambda run: run.run_id, reverse=True)
        runs.sort(key=_newest_first)  # stable: runs started at once stay by run id
        return runs[:count]

    def dags(
        self,
        *,
        paused: bool | None = None,
        tags: list[str] | None = None,
        last_run_failed: bool = False,
        has_import_errors: bool = False,
    ) -> list[Dag]:
        """DAGs, filtered; the last two filters exist on Airflow 3 only (callers check)."""
        params: list[tuple[str, Any]] = [("tags", tag) for tag in tags or []]
        if tags:
            params.append(("tags_match_mode", "any"))
        if paused is not None:
            params.append(("paused", str(paused).lower()))
        if last_run_failed:
            params.append(("last_dag_run_state", "failed"))
        if has_import_errors:
            # Airflow 3.3 marks the DAGs of a file that stopped importing stale, and lists
            # stale DAGs only when asked: those are the DAGs wanted here.
            params += [("has_import_errors", "true"), ("exclude_stale", "false")]
        items = self._pages(f"{self._prefix}/dags", "dags", params)
        return parse_records(items, Dag.from_api, lambda dag: dag.dag_id)

    def dag_page(self, offset: int) -> tuple[list[Dag], int, int]:
        """One page of every DAG, in ``dag_id`` order from ``offset``: the DAGs, how many
        records the page held (the next page's offset: a record that does not parse is
        skipped, not read again) and how many there are."""
        page = self._request(
            "GET",
            f"{self._prefix}/dags",
            params={"order_by": "dag_id", "limit": self.page_size, "offset": offset},
        )
        items = _items(page, "dags")
        dags = parse_records(items, Dag.from_api, lambda dag: dag.dag_id)
        total = self._total(page, len(items), "dags", all_at_once=False) if items else 0
        return dags, len(items), total

    def schedule_page(
        self, offset: int, *, latest_first: bool = False
    ) -> tuple[list[Dag], int, int]:
        """One page of the unpaused DAGs in the order of their next run's logical date (Airflow
        3 only: 2.10 sorts by ``dag_id`` alone), from ``offset``: the DAGs, how many records
        the page held (the next page's offset, whatever was skipped), and how many there are.

        A DAG whose next run is there but unreadable (garbage, past year 9000) is skipped with
        a warning: the list places it, but a missing next run would mean where the DAGs
        without one begin, and the scan would stop at it."""
        page = self._request(
            "GET",
            f"{self._prefix}/dags",
            params={
                "paused": "false",
                "order_by": "-next_dagrun" if latest_first else "next_dagrun",
                "limit": self.page_size,
                "offset": offset,
            },
        )
        items = _items(page, "dags")
        dags = parse_records(items, _scheduled_dag, lambda dag: dag.dag_id)
        total = self._total(page, len(items), "dags", all_at_once=False) if items else 0
        return dags, len(items), total

    def dag(self, dag_id: str) -> Dag | None:
        """One DAG as it is now (None when Airflow no longer has it)."""
        try:
            return Dag.from_api(self._request("GET", f"{self._prefix}/dags/{_segment(dag_id)}"))
        except OddRecord as exc:
            raise AirflowAPIError(f"dags/{dag_id}: {exc}") from None
        except AirflowAPIError as exc:
            if " answered 404" in str(exc):
                return None
            raise

    def tag_names(self, prefix: str) -> list[str] | None:
        """Every DAG tag starting with ``prefix`` (Airflow 3's ``/dagTags``; None on 2.10)."""
        if self.major < 3:
            return None
        names = self._pages(f"{self._prefix}/dagTags", "tags", [("tag_name_pattern", prefix)])
        return sorted(str(name) for name in names if str(name).startswith(prefix))

    def dag_run_timeout_s(self, dag_id: str) -> float | None:
        """The DAG's ``dagrun_timeout`` in seconds, if it has one."""
        details = self._request("GET", f"{self._prefix}/dags/{_segment(dag_id)}/details")
        timeout = details.get("dag_run_timeout")
        if isinstance(timeout, Mapping):  # Airflow 2: a TimeDelta object
            days, seconds = _seconds(timeout.get("days", 0)), _seconds(timeout.get("seconds", 0))
            return None if days is None or seconds is None else days * 86400 + seconds
        if isinstance(timeout, str) and timeout:
            return _iso_duration_s(timeout)
        return None

    def import_errors(self) -> list[ImportError_]:
        path = f"{self._prefix}/importErrors"
        items = self._pages(path, "import_errors", [])
        return parse_records(items, ImportError_.from_api, lambda error: error.filename)

    def pool(self, name: str) -> Pool | None:
        try:
            item = self._request("GET", f"{self._prefix}/pools/{_segment(name)}")
        except AirflowAPIError:
            return None
        return Pool(
            name=name,
            slots=_int(item.get("slots")) or 0,
            open_slots=_int(item.get("open_slots")) or 0,
        )

    def read_audit_since(self, since: datetime, *, max_pages: int = 3) -> bool:
        """Airflow's audit log since ``since`` in a few requests, for ``event_logs`` and
        ``pause_records`` to serve; whether it was kept.

        The task lifecycle records (``running``, ``success``... one per try and state) are left
        out; what remains is rare (states set by hand, heartbeat timeouts, pauses). When more
        than ``max_pages`` remain, nothing is kept and ``event_logs`` reads run by run."""
        params: list[tuple[str, Any]] = [("after", _iso(since)), ("order_by", "-when")]
        params += [("excluded_events", event) for event in _LIFECYCLE_EVENTS]
        records: list[dict[str, Any]] = []
        offset = 0
        for _ in range(max_pages):
            page = self._request(
                "GET",
                f"{self._prefix}/eventLogs",
                params=[*params, ("limit", self.page_size), ("offset", offset)],
            )
            items = _items(page, "event_logs")
            records.extend(item for item in items if isinstance(item, dict))
            offset += len(items)  # an item that is not a record still holds its place
            if not items or offset >= self._total(page, len(items), "eventLogs", all_at_once=False):
                break
        else:
            return False
        self._audit_since = since
        # A record served twice (the log grew while paged: newer records push older ones
        # onto the next page) is kept once; a record naming no DAG or run by text names none.
        unique = {json.dumps(record, sort_keys=True, default=str): record for record in records}
        for record in unique.values():
            key = (_text(record.get("dag_id")) or "", _text(record.get("run_id")))
            self._audit.setdefault(key, []).append(record)
        return True

    def pause_records(self) -> list[dict[str, Any]] | None:
        """The audit records kept by ``read_audit_since`` that may pause (or unpause) a DAG,
        None when nothing was kept. Airflow's own pause after failed runs writes ``paused``
        (both lines); a pause by hand writes the endpoint's or command's name (3.3
        ``patch_dag``, 2.10 ``ui.paused`` or ``api.patch_dag``, ``cli_dag_pause``...) with
        ``is_paused`` in its ``extra``: a record says which DAG to look at, not its state."""
        if self._audit_since is None:
            return None
        return [
            record
            for (dag_id, _), records in self._audit.items()
            if 0 < len(dag_id) <= DAG_ID_MAX_CHARS
            for record in records
            if "pause" in (_text(record.get("event")) or "").lower()
            or "is_paused" in (_text(record.get("extra")) or "")
        ]

    def event_logs(
        self, dag_id: str, run_id: str | None = None, *, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Airflow's audit log of one DAG run: who changed what, e.g. a state by hand.

        Served from ``read_audit_since`` when it covers ``since``, else read (once a pass: a
        failed try and its failed run read the same log)."""
        key = (dag_id, run_id)
        covered = self._audit_since is not None and since is not None and since >= self._audit_since
        if covered:
            return self._audit.get(key, [])
        with self._audit_lock:  # a try and its run, explained side by side, read it once
            if key not in self._audit_read:
                params: dict[str, Any] = {"dag_id": dag_id, "limit": 100, "order_by": "-when"}
                if run_id is not None:
                    params["run_id"] = run_id
                page = self._request("GET", f"{self._prefix}/eventLogs", params=params)
                self._audit_read[key] = [
                    item for item in _items(page, "event_logs") if isinstance(item, dict)
                ]
            return self._audit_read[key]

    def forget(self) -> None:
        """Drop what one pass read (the audit logs): the next pass reads them afresh."""
        self._audit.clear()
        self._audit_read.clear()
        self._audit_since = None

    def log_tail(self, ti: TaskInstance, lines: int = 40) -> str:
        """The last lines of a try's task log, as text (empty when there is none).

        Airflow 2 serves the text itself (``Accept: text/plain``); Airflow 3 serves structured
        records, whose error details are rendered ``Type: value`` like a traceback's last line.
        """
        if ti.try_number < 1:
            return ""
        path = (
            f"{self._prefix}/dags/{_segment(ti.dag_id)}/dagRuns/{_segment(ti.run_id)}/"
            f"taskInstances/{_segment(ti.task_id)}/logs/{ti.try_number}"
        )
        params = {"full_content": "true", "map_index": ti.map_index}
        try:
            if self.major < 3:
                text = self._request("GET", path, params=params, accept="text/plain")
                return "\n".join(str(text).splitlines()[-lines:])[-LOG_TAIL_CHARS:]
            answer = self._request("GET", path, params=params)
        except AirflowAPIError:
            return ""
        return "\n".join(_record_lines(answer)[-lines:])[-LOG_TAIL_CHARS:]


def _record_lines(answer: Any) -> list[str]:
    """Airflow 3's log records (``{"content": [{"event", "level", "error_detail"}, ...]}``)."""
    content = answer.get("content") if isinstance(answer, Mapping) else None
    if isinstance(content, str):
        return content.splitlines()
    lines: list[str] = []
    for record in content if isinstance(content, list) else []:
        if not isinstance(record, Mapping):
            lines.extend(str(record).splitlines())
            continue
        lines.extend(f"{record.get('level', '')} {record.get('event', '')}".strip().splitlines())
        details = record.get("error_detail")
        for detail in details if isinstance(details, list) else []:
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
