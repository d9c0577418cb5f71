"""The Google APIs a cause is read from: Cloud Logging (entries, log-based metrics) and the
Composer API (an environment's Airflow URL), through the real client libraries.

Every call is blocking and carries a deadline (the notice's budget) and no retry: a cause that
cannot be had in time is better left out than late. Metric definitions and environments
change rarely and are cached for ``DEFINITION_TTL``; entries are never cached here (the
causes they make are, per incident, in the router's database).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from google.api_core import exceptions
from google.protobuf.json_format import MessageToDict

from observability import gcp
from observability.gcp import Endpoint

DEFINITION_TTL = 600.0
T = TypeVar("T")


class Unavailable(Exception):
    """The cause cannot be had; the message is the reason a person reads in the notice."""


def explain(exc: BaseException, api: str, role: str) -> str:
    """Why a call failed, in the words a notice shows after "details unavailable: "."""
    if isinstance(exc, Unavailable):
        return str(exc)
    if type(exc).__name__ == "DefaultCredentialsError":
        return f"the router has no Google credentials to call {api} with"
    if isinstance(exc, exceptions.PermissionDenied | exceptions.Unauthenticated):
        return f"the router's service account lacks {role} ({api} answered {_status(exc)})"
    if isinstance(exc, exceptions.DeadlineExceeded | exceptions.RetryError | TimeoutError):
        return f"{api} did not answer in time"
    if isinstance(exc, exceptions.ServiceUnavailable):
        return f"{api} is unreachable"
    if isinstance(exc, exceptions.TooManyRequests | exceptions.ResourceExhausted):
        return f"{api} read quota exhausted (RESOURCE_EXHAUSTED)"
    if isinstance(exc, exceptions.GoogleAPICallError):
        message = (exc.message or "").splitlines()[0][:200] if exc.message else ""
        return f"{api} refused the query: {_status(exc)}: {message}"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{api} failed: {type(exc).__name__}: {text}"


def _status(exc: exceptions.GoogleAPICallError) -> str:
    """The canonical status name (PERMISSION_DENIED), whichever transport answered."""
    code = exc.grpc_status_code
    return code.name if code is not None else str(exc.code)


class _Cached:
    """A small thread-safe TTL cache of definitions (values and NotFound alike); concurrent
    misses of one key wait for the one load instead of each calling the API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, Any]] = {}
        self._loading: dict[str, threading.Lock] = {}

    def _fresh(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < DEFINITION_TTL:
            return True, hit[1]
        return False, None

    def get(self, key: str, load: Callable[[], T]) -> T:
        found, value = self._fresh(key)
        if found:
            return value
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            found, value = self._fresh(key)
            if found:
                return value
            value = load()
            with self._lock:
                self._values[key] = (time.monotonic(), value)
        return value


class GoogleSources:
    """Clients built on first use (importing them costs most of a second)."""

    def __init__(self, endpoint: Endpoint | None = None) -> None:
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._metrics = _Cached()
        self._environments = _Cached()

    @cached_property
    def reachable(self) -> bool:
        """Whether Cloud Logging can be asked at all: the emulator is configured, or Google
        credentials are at hand (a key file, gcloud's application default credentials, or a
        Google runtime's metadata server). Decided from files and variables, never by
        probing the network, so a router without either starts and delivers at once."""
        endpoint = self._endpoint or Endpoint.from_settings()
        if endpoint.emulated or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            return True
        from google.auth import _cloud_sdk

        if Path(_cloud_sdk.get_application_default_credentials_path()).is_file():
            return True
        if os.environ.get("K_SERVICE") or os.environ.get("GCE_METADATA_HOST"):
            return True
        try:
            product = Path("/sys/class/dmi/id/product_name").read_text(encoding="utf-8")
        except OSError:
            return False
        return product.strip().startswith("Google")

    def _client(self, name: str, make: Callable[[Endpoint | None], Any]) -> Any:
        with self._lock:
            if name not in self._clients:
                endpoint = self._endpoint or Endpoint.from_settings()
                self._clients[name] = make(endpoint)
            return self._clients[name]

    def warm(self) -> None:
        """Import and build the clients now (about a second), not on the first page."""
        if self.reachable:
            self._client("logging", gcp.logging_api)
            self._client("metrics", gcp.metrics_api)
            self._client("composer", gcp.composer_api)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            transport = getattr(client, "transport", None)
            if transport is not None:
                transport.close()

    def entries(
        self, project: str, query: str, limit: int, newest_first: bool, timeout: float
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` entries matching ``query``, as the API's JSON (camelCase)."""
        from google.cloud.logging_v2.types import ListLogEntriesRequest, LogEntry

        api = self._client("logging", gcp.logging_api)
        request = ListLogEntriesRequest(
            resource_names=[f"projects/{project}"],
            filter=query,
            order_by="timestamp desc" if newest_first else "timestamp asc",
            page_size=min(limit, 1000),
        )
        deadline = time.monotonic() + timeout
        out: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise exceptions.DeadlineExceeded("the budget ran out between pages")
            # the pager's first page is this call's answer; its own paging has no deadline
            page = api.list_log_entries(request=request, timeout=remaining, retry=None)
            out += [MessageToDict(LogEntry.pb(entry)) for entry in page.entries]
            if len(out) >= limit or not page.next_page_token:
                return out[:limit]
            request.page_token = page.next_page_token

    def log_metric(self, project: str, name: str, timeout: float) -> dict[str, Any] | None:
        """The log-based metric's definition (filter, label extractors), None if it is gone."""
        from google.cloud.logging_v2.types import LogMetric

        api = self._client("metrics", gcp.metrics_api)
        full = f"projects/{project}/metrics/{name}"

        def load() -> dict[str, Any] | None:
            try:
                metric = api.get_log_metric(metric_name=full, timeout=timeout, retry=None)
            except exceptions.NotFound:
                return None
            return dict(MessageToDict(LogMetric.pb(metric)))

        return self._metrics.get(full, load)

    def airflow_uri(
        self, project: str, location: str, environment: str, timeout: float
    ) -> str | None:
        """The environment's Airflow web UI (``config.airflowUri``), None if unknown."""
        api = self._client("composer", gcp.composer_api)
        name = f"projects/{project}/locations/{location}/environments/{environment}"

        def load() -> str | None:
            try:
                found = api.get_environment(name=name, timeout=timeout, retry=None)
            except exceptions.NotFound:
                return None
            return str(found.config.airflow_uri) or None

        return self._environments.get(name, load)
