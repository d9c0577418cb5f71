"""Small helpers the emulator tests share: reading back what a project holds, the clock."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

import pytest
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.types import LogEntry
from google.protobuf import json_format

from observability.gcp import Endpoint


class _GoogleClient(Protocol):
    @property
    def transport(self) -> Any: ...


Client = TypeVar("Client", bound=_GoogleClient)


def client_fixture(
    name: str, make: Callable[[Endpoint], Client], scope: Literal["session", "module"] = "module"
) -> object:
    """A fixture ``name``: the Google client ``make`` builds for the emulator, its channel
    closed after (a gRPC channel left open holds threads until the interpreter exits)."""

    @pytest.fixture(scope=scope, name=name)
    def client(emulator: Endpoint) -> Iterator[Client]:
        made = make(emulator)
        yield made
        made.transport.close()

    return client


ALL_TIME = 'timestamp>="2000-01-01T00:00:00Z"'
"""A filter that matches every entry's time; keeps the hand-written clients' 24 h default off."""


def all_entries(
    api: LoggingServiceV2Client, project: str, filter_: str = "", **kw: Any
) -> list[LogEntry]:
    """Every entry of ``project`` matching ``filter_``, through the GAPIC pager (all pages)."""
    request = {"resource_names": [f"projects/{project}"], "filter": filter_, **kw}
    return list(api.list_log_entries(request=request))


def as_json(entry: LogEntry) -> dict[str, Any]:
    """A GAPIC LogEntry in the REST JSON shape, for comparisons that read like the API docs."""
    return json_format.MessageToDict(LogEntry.pb(entry))


def payloads(entries: Iterable[Any]) -> list[Any]:
    """Payloads of hand-written client entries, without the diagnostic entry the client
    prepends to the first write of a process."""
    return [e.payload for e in entries if "logging.googleapis.com/diagnostic" not in str(e.payload)]


def clock_call(emulator: Endpoint, action: str = "", body: Any = None) -> dict[str, Any]:
    url = f"{emulator.http_url}/v1/emulator/clock{action}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data else "GET",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def emulator_now(emulator: Endpoint) -> datetime:
    return datetime.fromisoformat(clock_call(emulator)["now"].replace("Z", "+00:00"))
