"""entries.list and logs.list through the real Google clients: order, paging, filters,
and the refusals of bad requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud.logging import DESCENDING, Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

from tests.emulator.helpers import ALL_TIME, all_entries, payloads

pytestmark = pytest.mark.integration


def write(api: LoggingServiceV2Client, project: str, entries: list[dict[str, Any]]) -> None:
    api.write_log_entries(
        request={
            "log_name": f"projects/{project}/logs/events",
            "resource": {"type": "global"},
            "entries": entries,
        }
    )


def at(second: int) -> datetime:
    return datetime(2026, 3, 1, 12, 0, second, tzinfo=timezone.utc)


def texts(entries: list[Any]) -> list[str]:
    return [entry.text_payload for entry in entries]


def test_order_is_by_timestamp_then_insert_id(api: LoggingServiceV2Client, project: str) -> None:
    write(
        api,
        project,
        [
            {"text_payload": "late", "timestamp": at(30), "insert_id": "a"},
            {"text_payload": "tie-b", "timestamp": at(10), "insert_id": "b"},
            {"text_payload": "early", "timestamp": at(1), "insert_id": "z"},
            {"text_payload": "tie-a", "timestamp": at(10), "insert_id": "a"},
        ],
    )

    assert texts(all_entries(api, project)) == ["early", "tie-a", "tie-b", "late"]
    assert texts(all_entries(api, project, order_by="timestamp desc")) == [
        "late",
        "tie-b",
        "tie-a",
        "early",
    ]


def test_pages_cover_every_entry_once(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": f"{i:02d}", "timestamp": at(i)} for i in range(25)])
    pager = api.list_log_entries(
        request={"resource_names": [f"projects/{project}"], "page_size": 10}
    )

    pages = [texts(list(page.entries)) for page in pager.pages]
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [text for page in pages for text in page] == [f"{i:02d}" for i in range(25)]


def test_default_page_size_is_50(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": str(i)} for i in range(60)])

    first = api.list_log_entries(request={"resource_names": [f"projects/{project}"]})
    assert len(first._response.entries) == 50
    assert first.next_page_token


def test_a_page_token_only_continues_its_own_query(
    api: LoggingServiceV2Client, project: str
) -> None:
    write(api, project, [{"text_payload": str(i)} for i in range(3)])
    request = {"resource_names": [f"projects/{project}"], "page_size": 1}
    token = api.list_log_entries(request=request).next_page_token

    with pytest.raises(exceptions.InvalidArgument, match="pageToken"):
        api.list_log_entries(request={**request, "filter": "severity>=ERROR", "page_token": token})
    with pytest.raises(exceptions.InvalidArgument, match="pageToken"):
        api.list_log_entries(request={**request, "page_token": "not-a-token"})


def test_entries_written_between_pages_do_not_shift_them(
    api: LoggingServiceV2Client, project: str
) -> None:
    write(api, project, [{"text_payload": str(i), "timestamp": at(10 + i)} for i in range(4)])
    request = {"resource_names": [f"projects/{project}"], "page_size": 2}
    first = api.list_log_entries(request=request)
    write(api, project, [{"text_payload": "earlier", "timestamp": at(0)}])

    second = api.list_log_entries(request={**request, "page_token": first.next_page_token})
    assert texts(list(first._response.entries)) == ["0", "1"]
    assert texts(list(second._response.entries)) == ["2", "3"]


def test_filters_select_entries(api: LoggingServiceV2Client, project: str) -> None:
    def entry(text: str, **fields: Any) -> dict[str, Any]:
        return {"text_payload": text, "timestamp": at(len(text)), **fields}

    write(
        api,
        project,
        [
            entry("e", severity="ERROR", labels={"task-id": "extract"}),
            entry("ww", severity="WARNING", resource={"type": "cloud_composer_environment"}),
            entry("iii", severity="INFO", log_name=f"projects/{project}/logs/airflow-worker"),
            entry("cccc", severity="CRITICAL", resource={"type": "gce_instance"}),
        ],
    )

    def select(filter_: str) -> list[str]:
        return texts(all_entries(api, project, filter_))

    assert select("severity>=ERROR") == ["e", "cccc"]
    assert select("severity<warning") == ["iii"]
    assert select('labels."task-id"="extract"') == ["e"]
    assert select('log_id("airflow-worker")') == ["iii"]
    assert select(f'logName="projects/{project}/logs/AIRFLOW-WORKER"') == ["iii"]
    assert select('resource.type=("gce_instance" OR "cloud_composer_environment")') == [
        "ww",
        "cccc",
    ]
    assert select(f'timestamp>="{at(2).isoformat()}" timestamp<"{at(4).isoformat()}"') == [
        "ww",
        "iii",
    ]
    assert select('NOT severity>=ERROR OR textPayload:"c"') == ["ww", "iii", "cccc"]


def test_a_bad_filter_is_refused_with_its_position(
    api: LoggingServiceV2Client, project: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument, match="position 10") as raised:
        all_entries(api, project, "severity>=")

    assert raised.value.message.startswith("filter: ")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"page_size": 1001}, "pageSize"),
        ({"page_size": -1}, "pageSize"),
        ({"order_by": "severity desc"}, "orderBy"),
        ({"filter": "a" * 20_001}, "filter: 20001 characters"),
        ({"resource_names": []}, "resourceNames"),
        ({"resource_names": ["projects/a/logs/b"]}, "resourceNames"),
    ],
)
def test_bad_list_requests_are_refused(
    api: LoggingServiceV2Client, project: str, request_: dict[str, Any], field: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument, match=field):
        list(api.list_log_entries(request={"resource_names": [f"projects/{project}"], **request_}))


def test_several_projects_are_listed_together(api: LoggingServiceV2Client, project: str) -> None:
    other = f"{project}-other"
    write(api, project, [{"text_payload": "mine", "timestamp": at(1)}])
    write(api, other, [{"text_payload": "theirs", "timestamp": at(2)}])

    request = {"resource_names": [f"projects/{project}", f"projects/{other}"]}
    assert texts(list(api.list_log_entries(request=request))) == ["mine", "theirs"]


def test_no_time_range_means_all_time(api: LoggingServiceV2Client, project: str) -> None:
    write(api, project, [{"text_payload": "old", "timestamp": at(0) - timedelta(days=300)}])

    assert texts(all_entries(api, project)) == ["old"]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_hand_written_client_lists_recent_entries_by_default(
    hand_client: Callable[[str], Client], transport: str
) -> None:
    """Its list_entries adds ``timestamp>="<a day ago>+0000"`` itself when the filter has none."""
    client = hand_client(transport)
    logger = client.logger("recent")
    logger.log_text("two days old", timestamp=datetime.now(timezone.utc) - timedelta(days=2))
    logger.log_text("fresh")

    assert payloads(logger.list_entries()) == ["fresh"]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_hand_written_client_pages_newest_first(
    hand_client: Callable[[str], Client], project: str, transport: str
) -> None:
    client = hand_client(transport)
    logger = client.logger("paged")
    with logger.batch() as batch:
        for i in range(7):
            batch.log_text(str(i), timestamp=at(i), severity="ERROR" if i % 2 else "INFO")

    entries = client.list_entries(
        filter_=f"log_id(paged) severity=ERROR {ALL_TIME}", order_by=DESCENDING, page_size=2
    )
    assert [e.payload for e in entries] == ["5", "3", "1"]


def test_logs_are_listed_by_parent(api: LoggingServiceV2Client, project: str) -> None:
    for log in ("b-log", "a-log", "cloudaudit.googleapis.com%2Factivity"):
        api.write_log_entries(
            request={
                "log_name": f"projects/{project}/logs/{log}",
                "resource": {"type": "global"},
                "entries": [{"text_payload": "x"}],
            }
        )

    pager = api.list_logs(request={"parent": f"projects/{project}", "page_size": 2})
    assert [len(page.log_names) for page in pager.pages] == [2, 1]
    assert list(api.list_logs(parent=f"projects/{project}")) == [
        f"projects/{project}/logs/a-log",
        f"projects/{project}/logs/b-log",
        f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
    ]
