"""The four APIs provisioning talks to, behind one small interface of JSON dicts.

Log metrics, notification channels and alert policies go through the generated gRPC clients
(``observability.gcp``); dashboards go as raw JSON over REST (httpx), never through the
client's proto, which would drop the fields it does not know, and are updated with the
``etag`` of the last read. Every call is counted (reads and writes, per method), transient
failures (UNAVAILABLE, 429 / RESOURCE_EXHAUSTED) are retried with exponential backoff, and
PERMISSION_DENIED becomes an error naming the IAM role that is missing.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from google.api_core import exceptions as gexc
from google.protobuf import json_format
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from observability import gcp
from observability.gcp import Endpoint
from observability.provision.spec import Kind

T = TypeVar("T")

ROLES: dict[Kind, str] = {
    "metric": "roles/logging.configWriter",
    "channel": "roles/monitoring.notificationChannelEditor",
    "policy": "roles/monitoring.alertPolicyEditor",
    "dashboard": "roles/monitoring.dashboardEditor",
}
"""The IAM role each kind of resource needs to be written (reads need its viewer role)."""

PAGE_SIZE = 1000
_ITEMS = {"metric": "metrics", "channel": "notification_channels", "policy": "alert_policies"}
DASHBOARDS_URL = "https://monitoring.googleapis.com"


class ProvisionError(Exception):
    """A failure to report in one line (no traceback)."""


class PermissionDeniedError(ProvisionError):
    pass


@dataclass
class CallCounter:
    """API calls made, per ``kind.method``; writes are create/update/delete."""

    reads: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, method: str, write: bool) -> None:
        with self._lock:
            (self.writes if write else self.reads)[f"{kind}.{method}"] += 1

    @property
    def total_reads(self) -> int:
        return sum(self.reads.values())

    @property
    def total_writes(self) -> int:
        return sum(self.writes.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "reads": dict(self.reads),
            "writes": dict(self.writes),
            "total_reads": self.total_reads,
            "total_writes": self.total_writes,
        }


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.ResourceExhausted)):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (429, 503)
    return isinstance(exc, httpx.TransportError)


def _pb(message: Any) -> Any:
    return type(message).pb(message)


def to_json(message: Any) -> dict[str, Any]:
    """A proto-plus message as the API's camelCase JSON (defaults left out)."""
    return dict(json_format.MessageToDict(_pb(message)))


def from_json(message_type: Any, body: dict[str, Any]) -> Any:
    return message_type.wrap(json_format.ParseDict(body, message_type.pb()()))


def _message(kind: Kind, body: dict[str, Any]) -> Any:
    """``body`` as the proto-plus message the gRPC client of ``kind`` takes.

    The types are imported here, not at the top: the client libraries are slow to import and
    only writes need them.
    """
    message_type: Any
    if kind == "metric":
        from google.cloud.logging_v2.types import LogMetric as message_type
    elif kind == "channel":
        from google.cloud.monitoring_v3.types import NotificationChannel as message_type
    else:
        from google.cloud.monitoring_v3.types import AlertPolicy as message_type
    return from_json(message_type, body)


class Api:
    """Reads and writes of the four kinds, as JSON dicts in the API's camelCase."""

    def __init__(
        self,
        project: str,
        endpoint: Endpoint | None = None,
        counter: CallCounter | None = None,
        attempts: int = 5,
        max_wait: float = 8.0,
    ) -> None:
        self.project = project
        self.endpoint = endpoint or Endpoint.from_settings()
        self.counter = counter or CallCounter()
        self._attempts = attempts
        self._max_wait = max_wait
        self._clients: dict[str, Any] = {}
        self._http: httpx.Client | None = None
        self._credentials: Any = None
        self.retries = 0

    # -- plumbing -----------------------------------------------------------------------

    @property
    def parent(self) -> str:
        return f"projects/{self.project}"

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            factory: Callable[[Endpoint], Any] = {
                "metric": gcp.metrics_api,
                "channel": gcp.notification_channel_api,
                "policy": gcp.alert_policy_api,
            }[kind]
            self._clients[kind] = factory(self.endpoint)
        return self._clients[kind]

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            base = self.endpoint.http_url if self.endpoint.emulated else DASHBOARDS_URL
            agent = f"{gcp.USER_AGENT} python-httpx/{httpx.__version__}"
            self._http = httpx.Client(base_url=str(base), timeout=60, headers={"User-Agent": agent})
        return self._http

    def _headers(self) -> dict[str, str]:
        if self.endpoint.emulated:
            return {}
        import google.auth
        import google.auth.transport.requests

        if self._credentials is None:
            self._credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/monitoring"]
            )
        if not self._credentials.valid:
            self._credentials.refresh(google.auth.transport.requests.Request())
        return {"Authorization": f"Bearer {self._credentials.token}"}

    def _count_retry(self, state: RetryCallState) -> None:
        self.retries += 1

    def call(self, kind: Kind, method: str, write: bool, fn: Callable[[], T]) -> T:
        """Run one API call, counted, retried on transient errors."""
        retrying = Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=0.25, max=self._max_wait),
            stop=stop_after_attempt(self._attempts),
            before_sleep=self._count_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self.counter.record(kind, method, write)
                try:
                    return fn()
                except gexc.PermissionDenied as exc:
                    raise PermissionDeniedError(
                        f"{kind} {method}: permission denied in project {self.project}: the "
                        f"caller needs {ROLES[kind]} ({exc.message})"
                    ) from exc
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code == 403:
                        raise PermissionDeniedError(
                            f"{kind} {method}: permission denied in project {self.project}: "
                            f"the caller needs {ROLES[kind]}"
                        ) from exc
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for client in self._clients.values():
            transport = getattr(client, "transport", None)
            if transport is not None:
                transport.close()
        self._clients.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- reads --------------------------------------------------------------------------

    def list(self, kind: Kind) -> list[dict[str, Any]]:
        """Every resource of ``kind`` in the project (all pages)."""
        if kind == "dashboard":
            return list(self._list_dashboards())
        if kind == "metric":
            method, request = "list_log_metrics", {"parent": self.parent, "page_size": PAGE_SIZE}
        elif kind == "channel":
            method = "list_notification_channels"
            request = {"name": self.parent, "page_size": PAGE_SIZE}
        else:
            method, request = "list_alert_policies", {"name": self.parent, "page_size": PAGE_SIZE}
        client = self._client(kind)
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            page_request = {**request, "page_token": token}

            def first_page(r: dict[str, Any] = page_request) -> Any:
                return next(iter(getattr(client, method)(request=r).pages))

            response = self.call(kind, method, False, first_page)
            items = getattr(response, _ITEMS[kind])
            out.extend(to_json(item) for item in items)
            token = response.next_page_token
            if not token:
                return out

    def _list_dashboards(self) -> Iterator[dict[str, Any]]:
        http = self._http_client()
        token = ""
        while True:
            params: dict[str, Any] = {"pageSize": PAGE_SIZE}
            if token:
                params["pageToken"] = token

            def get(params: dict[str, Any] = params) -> httpx.Response:
                response = http.get(
                    f"/v1/{self.parent}/dashboards", params=params, headers=self._headers()
                )
                response.raise_for_status()
                return response

            body = self.call("dashboard", "list_dashboards", False, get).json()
            yield from body.get("dashboards", [])
            token = body.get("nextPageToken", "")
            if not token:
                return

    # -- writes -------------------------------------------------------------------------

    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        if kind == "dashboard":
            return self._dashboard_write(
                "create_dashboard", "POST", f"/v1/{self.parent}/dashboards", body
            )
        message = _message(kind, body)
        if kind == "metric":
            created = self._grpc(kind, "create_log_metric", parent=self.parent, metric=message)
        elif kind == "channel":
            created = self._grpc(
                kind, "create_notification_channel", name=self.parent, notification_channel=message
            )
        else:
            created = self._grpc(
                kind, "create_alert_policy", name=self.parent, alert_policy=message
            )
        return to_json(created)

    def update(self, kind: Kind, name: str, body: dict[str, Any], etag: str = "") -> dict[str, Any]:
        """Replace the whole resource ``name`` with ``body``."""
        if kind == "dashboard":
            payload = {**body, "name": name}
            if etag:
                payload["etag"] = etag
            return self._dashboard_write("update_dashboard", "PATCH", f"/v1/{name}", payload)
        if kind == "metric":
            # Logging takes the metric's path beside the body; Monitoring reads it from the body.
            metric = _message(kind, body)
            updated = self._grpc(kind, "update_log_metric", metric_name=name, metric=metric)
        elif kind == "channel":
            channel = _message(kind, {**body, "name": name})
            updated = self._grpc(kind, "update_notification_channel", notification_channel=channel)
        else:
            policy = _message(kind, {**body, "name": name})
            updated = self._grpc(kind, "update_alert_policy", alert_policy=policy)
        return to_json(updated)

    def delete(self, kind: Kind, name: str) -> None:
        if kind == "dashboard":
            http = self._http_client()

            def delete() -> None:
                response = http.delete(f"/v1/{name}", headers=self._headers())
                if response.status_code != 404:
                    response.raise_for_status()

            self.call(kind, "delete_dashboard", True, delete)
            return
        try:
            if kind == "metric":
                self._grpc(kind, "delete_log_metric", metric_name=name)
            elif kind == "channel":
                self._grpc(kind, "delete_notification_channel", name=name, force=True)
            else:
                self._grpc(kind, "delete_alert_policy", name=name)
        except gexc.NotFound:
            return  # already gone: the goal is reached

    def _grpc(self, kind: Kind, method: str, **request: Any) -> Any:
        """One writing call of the gRPC client for ``kind``, counted and retried by :meth:`call`.

        Only the method name and its keyword arguments differ between the kinds' writes.
        """
        client = self._client(kind)
        return self.call(kind, method, True, lambda: getattr(client, method)(**request))

    def _dashboard_write(
        self, method: str, verb: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        http = self._http_client()

        def send() -> httpx.Response:
            response = http.request(verb, path, json=body, headers=self._headers())
            if response.status_code >= 400:
                try:
                    message = response.json().get("error", {}).get("message", response.text)
                except ValueError:
                    message = response.text
                if response.status_code in (403, 429, 503):
                    response.raise_for_status()
                raise ProvisionError(f"dashboard {method}: HTTP {response.status_code}: {message}")
            return response

        result: dict[str, Any] = self.call("dashboard", method, True, send).json()
        return result


def metric_path(project: str, name: str) -> str:
    """``projects/P/metrics/NAME`` with NAME URL-encoded (it may hold ``/``)."""
    return f"projects/{project}/metrics/{quote(name, safe='')}"
