"""What entries look like when read back, on both transports: the server-set
``receiveTimestamp``, the ``project_id`` label Cloud Logging fills into the resource, an empty
write, and entries an older emulator stored deeper than today's write limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from google.cloud.logging import Client, Resource
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.types import LogEntry

from observability import gcp
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint
from tests.emulator.helpers import ALL_TIME, all_entries, as_json

pytestmark = pytest.mark.integration

TRANSPORTS = ("grpc", "http")
GAE = {"module_id": "default", "version_id": "test", "zone": ""}


def rest_list(emulator: Endpoint, parent: str, filter_: str = "") -> list[dict[str, object]]:
    response = httpx.post(
        f"{emulator.http_url}/v2/entries:list",
        json={"resourceNames": [parent], "filter": filter_},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json().get("entries", [])
    return entries


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_receive_timestamp_is_read_back(
    hand_client: Callable[[str], Client], emulator: Endpoint, transport: str, project: str
) -> None:
    logger = hand_client(transport).logger("received")
    logger.log_text("x")

    (entry,) = logger.list_entries(filter_=f"{ALL_TIME} AND textPayload:*")
    assert isinstance(entry.received_timestamp, datetime)
    assert entry.received_timestamp >= entry.timestamp
    (raw,) = rest_list(emulator, f"projects/{project}", "textPayload:*")
    assert raw["receiveTimestamp"] == raw["timestamp"]  # the server's "now" filled both


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_project_id_is_filled_into_resources_that_have_it(
    hand_client: Callable[[str], Client], transport: str, project: str
) -> None:
    """Google's own system test (test_log_text_with_resource) writes a gae_app resource
    without project_id and deletes ``resource.labels["project_id"]`` from what it reads."""
    logger = hand_client(transport).logger("with-resource")
    resource = Resource(type="gae_app", labels=dict(GAE))
    logger.log_text("gae", resource=resource)
    logger.log_text("global", resource=Resource(type="global", labels={}))
    logger.log_text("own", resource=Resource(type="global", labels={"project_id": "other"}))

    texts = logger.list_entries(filter_=f"{ALL_TIME} AND textPayload:*")
    got = {e.payload: e.resource for e in texts}
    assert got["gae"].labels == {**GAE, "project_id": project}
    assert got["global"].labels == {"project_id": project}
    assert got["own"].labels == {"project_id": "other"}  # what the writer set is kept
    by_label = logger.list_entries(
        filter_=f'{ALL_TIME} AND textPayload:* AND resource.labels.project_id="{project}"'
    )
    assert sorted(e.payload for e in by_label) == ["gae", "global"]


def test_project_id_only_where_the_resource_type_has_it(
    api: LoggingServiceV2Client, project: str
) -> None:
    org = f"organizations/9{project[-6:]}"
    api.write_log_entries(
        request={
            "entries": [
                # organization's only label is organization_id: nothing to fill
                {"log_name": f"projects/{project}/logs/x", "resource": {"type": "organization"}},
                # a parent that is no project has no project id to give
                {"log_name": f"{org}/logs/x", "resource": {"type": "global"}},
            ]
        }
    )

    (mine,) = all_entries(api, project)
    (theirs,) = api.list_log_entries(request={"resource_names": [org]})
    assert dict(mine.resource.labels) == {}
    assert dict(theirs.resource.labels) == {}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_empty_write_succeeds(
    api: LoggingServiceV2Client, emulator: Endpoint, transport: str, project: str
) -> None:
    """Google's generated system test (test_write_log_entries) sends no entries at all, with
    an empty resource and labels, and expects success."""
    log_name = f"projects/{project}/logs/empty"
    if transport == "grpc":
        api.write_log_entries(entries=[], log_name=log_name, resource={}, labels={})
    else:
        response = httpx.post(
            f"{emulator.http_url}/v2/entries:write",
            json={"logName": log_name, "entries": []},
            timeout=10,
        )
        assert (response.status_code, response.json()) == (200, {})
    assert all_entries(api, project) == []
    assert list(api.list_logs(parent=f"projects/{project}")) == []


def _nest(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": "bottom"}
    for level in range(depth):
        value = {"down": value, "level": level}
    return value


def test_entries_stored_deeper_than_the_write_limit_are_read_back_truncated(
    tmp_path: Path,
) -> None:
    """An older emulator stored JSON-written payloads of any depth; the protobuf decoders
    (the server's and every client's) stop at 100 nested messages. Such an entry must come
    back cut, with a marker saying so, not break every list of its project."""
    project = "old-data"
    data = tmp_path / "data"
    deep = {"event": "deep", "tree": _nest(60)}
    with emulator_process(data) as emulator:
        api = gcp.logging_api(emulator)
        try:
            api.write_log_entries(
                request={
                    "log_name": f"projects/{project}/logs/old",
                    "resource": {"type": "global"},
                    "entries": [{"json_payload": {"event": "deep"}}, {"text_payload": "fine"}],
                }
            )
        finally:
            api.transport.close()
    # What the older emulator stored: the same entry, with the deep payload.
    with closing(sqlite3.connect(data / "logging.db")) as db, db:
        stored = [
            (i, LogEntry.pb().FromString(blob))
            for i, blob in db.execute("SELECT id, entry FROM entries")
        ]
        ((row_id, entry),) = [(i, e) for i, e in stored if e.HasField("json_payload")]
        entry.json_payload.update(deep)
        db.execute("UPDATE entries SET entry = ? WHERE id = ?", (entry.SerializeToString(), row_id))

    with emulator_process(data) as emulator:
        api = gcp.logging_api(emulator)
        try:
            over_grpc = [as_json(e) for e in all_entries(api, project)]
            filtered = all_entries(api, project, 'jsonPayload.event="deep"')
        finally:
            api.transport.close()
        over_rest = rest_list(emulator, f"projects/{project}")
        http_client = gcp.logging_client(project, emulator, transport="http")
        over_hand_client = list(
            http_client.list_entries(resource_names=[f"projects/{project}"], filter_=ALL_TIME)
        )

    for listed in (over_grpc, over_rest):
        cut, fine = sorted(listed, key=lambda e: "textPayload" in e)
        assert fine["textPayload"] == "fine"
        payload = cut["jsonPayload"]
        assert payload["event"] == "deep"
        text = str(payload)
        assert "bottom" not in text  # the part below the limit is gone...
        assert "truncated by the emulator" in text  # ...and says so where it was cut
        assert cut["labels"]["emulator.truncated"] == "jsonPayload"
    assert len(filtered) == 1
    assert len(over_hand_client) == 2
