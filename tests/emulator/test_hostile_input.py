"""Input meant to hurt: backtracking regexes, deep nesting, tampered page tokens, times at the
edges of the calendar. Each gets Google's 4xx (or a plain answer) promptly, through the real
clients on both transports, and leaves the project readable; none may hang or answer 500.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from google.api_core import exceptions
from google.cloud.logging import Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.logging_v2.types import LogMetric, WriteLogEntriesRequest
from google.cloud.monitoring_v3 import MetricServiceClient
from google.protobuf import json_format

from observability.gcp import Endpoint
from tests.emulator.helpers import ALL_TIME, all_entries, emulator_now

pytestmark = pytest.mark.integration

CATASTROPHIC = "^(a+)+$"  # 2^n paths on "aaa...ab" for a backtracking engine
PROMPT_S = 5.0  # far above what any of these takes, far below a hang


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = {"k": value}
    return {"k": value}  # ``depth`` levels of objects, counting the payload itself


def write_pb(api: LoggingServiceV2Client, project: str, **fields: Any) -> None:
    """One entry through gRPC, built as a protobuf (so anything a protobuf holds can be sent)."""
    request = WriteLogEntriesRequest.pb()()
    entry = request.entries.add(log_name=f"projects/{project}/logs/hostile")  # built in place:
    entry.resource.type = "global"  # copying a message too deep to decode would fail here
    payload = fields.pop("json_payload", None)
    if payload is not None:  # deeper than json_format's default allows, on purpose
        json_format.ParseDict(payload, entry.json_payload, max_recursion_depth=10_000)
    assign(entry, fields)
    api.write_log_entries(request=WriteLogEntriesRequest.wrap(request), timeout=PROMPT_S)


def assign(message: Any, fields: dict[str, Any]) -> None:
    """Set fields by attribute, so values out of the API's range (which json_format refuses
    to build) reach the server as a client could send them."""
    for name, value in fields.items():
        if isinstance(value, dict):
            assign(getattr(message, name), value)
        else:
            setattr(message, name, value)


def rest_list(http: httpx.Client, project: str, filter_: str = "", **extra: Any) -> httpx.Response:
    body = {"resourceNames": [f"projects/{project}"], "filter": filter_, **extra}
    return http.post("/v2/entries:list", json=body)


# -- item 2: RE2, not a backtracking engine ---------------------------------------------------


def test_a_backtracking_regex_answers_at_once_and_blocks_nothing(
    api: LoggingServiceV2Client,
    hand_client: Callable[[str], Client],
    emulator: Endpoint,
    project: str,
) -> None:
    hand_client("grpc").logger("hostile").log_struct({"message": "a" * 42 + "b"})
    filter_ = f'jsonPayload.message=~"{CATASTROPHIC}"'
    answers: dict[str, Any] = {}

    def regex_list() -> None:
        started = time.monotonic()
        request = {"resource_names": [f"projects/{project}"], "filter": filter_}
        answers["entries"] = list(api.list_log_entries(request=request, timeout=PROMPT_S))
        answers["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=regex_list)
    worker.start()
    started = time.monotonic()
    emulator_now(emulator)  # any other request meanwhile
    clock_seconds = time.monotonic() - started
    worker.join(PROMPT_S * 2)

    assert clock_seconds < PROMPT_S
    assert answers["entries"] == [] and answers["seconds"] < PROMPT_S
    entries = list(hand_client("http").list_entries(filter_=f"{ALL_TIME} {filter_}"))
    assert entries == []


def test_re2_syntax_on_the_wire(
    api: LoggingServiceV2Client, hand_client: Callable[[str], Client], project: str
) -> None:
    hand_client("grpc").logger("hostile").log_struct({"message": "λόγος"})

    # What RE2 accepts and Python's re does not, and RE2's own words for what it refuses.
    greek = 'jsonPayload.message=~"^\\\\p{Greek}+$"'
    assert len(all_entries(api, project, greek)) == 1
    assert len(list(hand_client("http").list_entries(filter_=f"{ALL_TIME} {greek}"))) == 1
    with pytest.raises(exceptions.InvalidArgument, match=r"invalid perl operator: \(\?="):
        all_entries(api, project, 'jsonPayload.message=~"(?=a)"')
    with pytest.raises(exceptions.BadRequest, match=r"invalid escape sequence: \\1"):
        list(hand_client("http").list_entries(filter_='jsonPayload.message=~"(a)\\\\1"'))


def test_a_log_based_metric_with_a_backtracking_regex_does_not_stall_writes(
    api: LoggingServiceV2Client, metrics: MetricsServiceV2Client, project: str
) -> None:
    metrics.create_log_metric(
        parent=f"projects/{project}",
        metric=LogMetric(
            name="regex_heavy",
            filter=f'jsonPayload.message=~"{CATASTROPHIC}" OR jsonPayload.message:"a"',
            label_extractors={"run": 'REGEXP_EXTRACT(jsonPayload.message, "^((?:a+)+)$")'},
            metric_descriptor={
                "metric_kind": "DELTA",
                "value_type": "INT64",
                "labels": [{"key": "run", "value_type": "STRING"}],
            },
        ),
    )
    started = time.monotonic()
    for length in (42, 60, 1000):
        write_pb(api, project, json_payload={"message": "a" * length + "!"})

    assert time.monotonic() - started < PROMPT_S
    assert len(all_entries(api, project)) == 3


# -- item 3: depth and size, checked at write ------------------------------------------------


def test_a_payload_nested_deeper_than_the_decoders_allow_is_refused_at_write(
    api: LoggingServiceV2Client, hand_client: Callable[[str], Client], project: str
) -> None:
    http_logger = hand_client("http").logger("hostile")
    http_logger.log_struct(nested(33))  # the deepest every reader can decode
    write_pb(api, project, json_payload=nested(33))

    with pytest.raises(
        exceptions.BadRequest, match=r"entries\[0\]. jsonPayload: nested too deeply"
    ):
        http_logger.log_struct(nested(34))
    started = time.monotonic()
    with pytest.raises(exceptions.InvalidArgument, match="Invalid request"):
        write_pb(api, project, json_payload=nested(34))  # not INTERNAL, retried for a minute
    assert time.monotonic() - started < PROMPT_S

    mine = 'log_id("hostile")'  # not the client's diagnostic entry
    assert len(all_entries(api, project, mine)) == 2  # the project still lists, both ways
    assert len(list(hand_client("http").list_entries(filter_=f"{ALL_TIME} {mine}"))) == 2


def test_a_deep_write_with_a_log_based_metric_defined_stores_nothing_and_answers_400(
    metrics: MetricsServiceV2Client, http: httpx.Client, api: LoggingServiceV2Client, project: str
) -> None:
    metrics.create_log_metric(
        parent=f"projects/{project}", metric=LogMetric(name="deep", filter='log_id("deep")')
    )
    entry = {"logName": f"projects/{project}/logs/deep", "resource": {"type": "global"}}
    response = http.post(
        "/v2/entries:write", json={"entries": [{**entry, "jsonPayload": nested(60)}]}
    )

    assert response.status_code == 400, response.text
    assert all_entries(api, project) == []


def test_json_nested_past_the_parser_is_a_400(http: httpx.Client) -> None:
    body = '{"entries": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = http.post("/v2/entries:write", content=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# -- item 12: the rest of what answered 500 ----------------------------------------------------


def tampered(token: str) -> Iterator[str]:
    """``token`` with each integer in it replaced by values no server issued."""
    parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index, part in enumerate(parts):
        if isinstance(part, int):
            for bad in (10**30, {"a": 1}, [1], "x", 1.5, None):
                forged = [*parts[:index], bad, *parts[index + 1 :]]
                yield base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()


def test_tampered_entries_page_tokens_are_invalid_argument(
    api: LoggingServiceV2Client, http: httpx.Client, project: str
) -> None:
    for n in range(3):
        write_pb(api, project, text_payload=f"entry {n}")
    first = api.list_log_entries(
        request={"resource_names": [f"projects/{project}"], "page_size": 1}
    )
    token = first.next_page_token
    assert token

    for forged in tampered(token):
        with pytest.raises(exceptions.InvalidArgument, match="pageToken"):
            api.list_log_entries(
                request={"resource_names": [f"projects/{project}"], "page_token": forged}
            )
        response = rest_list(http, project, pageToken=forged)
        assert response.status_code == 400, response.text


def test_tampered_dashboard_page_tokens_are_invalid_argument(
    http: httpx.Client, project: str
) -> None:
    path = f"/v1/projects/{project}/dashboards"
    for n in range(2):
        created = http.post(path, json={"displayName": f"d{n}", "gridLayout": {}})
        assert created.status_code == 200, created.text
    token = http.get(path, params={"pageSize": 1}).json()["nextPageToken"]

    for forged in tampered(token):
        response = http.get(path, params={"pageToken": forged})
        assert response.status_code == 400, response.text


def test_tampered_time_series_page_tokens_are_invalid_argument(
    monitoring: MetricServiceClient, project: str
) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    metric = "custom.googleapis.com/hostile/gauge"
    monitoring.create_time_series(
        request={
            "name": f"projects/{project}",
            "time_series": [
                {
                    "metric": {"type": metric, "labels": {"n": str(n)}},
                    "resource": {"type": "global", "labels": {"project_id": project}},
                    "points": [{"interval": {"end_time": now}, "value": {"double_value": n}}],
                }
                for n in range(2)
            ],
        }
    )
    request: dict[str, Any] = {
        "name": f"projects/{project}",
        "filter": f'metric.type="{metric}"',
        "interval": {"start_time": now - timedelta(minutes=5), "end_time": now},
        "page_size": 1,
    }
    token = monitoring.list_time_series(request=request).next_page_token
    assert token

    for forged in tampered(token):
        with pytest.raises(exceptions.InvalidArgument, match="page_token"):
            monitoring.list_time_series(request={**request, "page_token": forged})


@pytest.mark.parametrize(
    "filter_",
    [
        'timestamp>="9999-12-31T23:59:59-14:00"',
        'timestamp<="0001-01-01T00:00:00+14:00"',
        "severity>=100000000000000000000000",
        "severity<=-100000000000000000000000",
    ],
)
def test_filters_at_the_edges_of_the_calendar_and_of_int64(
    api: LoggingServiceV2Client, http: httpx.Client, project: str, filter_: str
) -> None:
    write_pb(api, project, text_payload="now")

    assert all_entries(api, project, filter_) == []
    response = rest_list(http, project, filter_)
    assert response.status_code == 200, response.text
    assert response.json().get("entries", []) == []


def test_entries_from_year_1_are_stored_and_listed_in_order(
    http: httpx.Client, api: LoggingServiceV2Client, project: str
) -> None:
    """Nanoseconds since 1970 leave 64 bits before 1677: such entries once failed to store."""
    entry = {"logName": f"projects/{project}/logs/old", "resource": {"type": "global"}}
    old = [{**entry, "textPayload": "year 1", "timestamp": "0001-01-01T00:00:00Z"}]
    assert http.post("/v2/entries:write", json={"entries": old}).status_code == 200
    for year in (1600, 2000):
        seconds = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())
        write_pb(api, project, text_payload=f"year {year}", timestamp={"seconds": seconds})

    listed = all_entries(api, project, order_by="timestamp asc")
    texts = [entry.text_payload for entry in listed if entry.text_payload.startswith("year")]
    assert texts == ["year 1", "year 1600", "year 2000"]
    recent = all_entries(api, project, 'timestamp>="1700-01-01T00:00:00Z" textPayload:"year"')
    assert [entry.text_payload for entry in recent] == ["year 2000"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("timestamp", {"seconds": -(10**15)}, "timestamp: seconds=-1000000000000000"),
        ("timestamp", {"seconds": 1, "nanos": -5}, "timestamp: seconds=1 nanos=-5"),
        ("http_request", {"latency": {"seconds": 10**15}}, "httpRequest.latency"),
    ],
)
def test_times_a_protobuf_holds_but_the_api_does_not_are_refused(
    api: LoggingServiceV2Client, project: str, field: str, value: dict[str, Any], reason: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument, match=reason):
        write_pb(api, project, text_payload="odd time", **{field: value})

    assert all_entries(api, project) == []  # and the project still lists
