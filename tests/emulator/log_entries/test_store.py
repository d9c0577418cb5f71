"""The store and its SQL narrowing, without a server: narrowing must never lose a match,
and must spare the filter the rows it rules out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from google.cloud.logging_v2.types import WriteLogEntriesRequest

from observability.emulator.log_entries.query import compile_query
from observability.emulator.log_entries.service import LoggingService
from observability.emulator.log_entries.store import LoggingStore, StoredEntry
from observability.logfilter import compile_filter

BASE = 1_780_000_000  # 2026-05-28T20:26:40Z
SEVERITIES = ["DEFAULT", "INFO", "WARNING", "ERROR", "CRITICAL"]


def fill(store: LoggingStore, count: int, project: str = "p") -> None:
    request = WriteLogEntriesRequest.pb()()
    for n in range(count):
        entry = request.entries.add()
        log_id = "Worker" if n % 3 else "cloudaudit.googleapis.com%2Factivity"
        entry.log_name = f"projects/{project}/logs/{log_id}"
        entry.resource.type = "gce_instance" if n % 4 else "Global"
        entry.timestamp.seconds = BASE + n
        entry.timestamp.nanos = 500 if n % 2 else 0
        entry.severity = [0, 200, 400, 500, 600][n % 5]
        entry.insert_id = f"id-{n}"
        entry.json_payload.update({"n": n})
    prepared = store.prepare(request.entries)
    assert not prepared.errors
    store.insert(prepared)


def listed(store: LoggingStore, filter_: str, **kw: Any) -> list[int]:
    query = compile_query(filter_)
    entries, _ = store.list_entries(
        ["projects/p"], query.narrowing, query.matches, descending=False, page_size=1000, **kw
    )
    return [entry.as_dict()["jsonPayload"]["n"] for entry in entries]


@pytest.fixture
def store(tmp_path: Path) -> LoggingStore:
    store = LoggingStore(tmp_path / "logging.db")
    fill(store, 200)
    return store


@pytest.mark.parametrize(
    "filter_",
    [
        'timestamp>="2026-05-28T20:27:00Z"',
        'timestamp>"2026-05-28T20:27:00Z" timestamp<="2026-05-28T20:27:10.0000005Z"',
        'timestamp="2026-05-28T20:27:01.000000500Z"',
        'timestamp>="2026-05-28T22:27:00+02:00" timestamp<"2026-05-28T20:27:10.000000+0000"',
        "severity>=ERROR",
        "severity<WARNING",
        'severity="error"',
        "severity>=400",
        'logName="projects/p/logs/worker"',
        'logName="projects/p/logs/cloudaudit.googleapis.com%2Factivity"',
        'log_id("cloudaudit.googleapis.com/activity")',
        'log_id("WORKER")',
        'resource.type="global"',
        'resource.type=("global" OR "gce_instance") severity=CRITICAL',
        "severity>=ERROR OR jsonPayload.n<3",
        "NOT severity>=ERROR",
        'log_id("worker") (severity=ERROR OR timestamp<"2026-05-28T20:26:45Z")',
    ],
)
def test_narrowing_never_loses_a_match(store: LoggingStore, filter_: str) -> None:
    matcher = compile_filter(filter_)
    expected = [e["jsonPayload"]["n"] for e in _all_dicts(store) if matcher.matches(e)]

    assert listed(store, filter_) == expected
    assert expected  # each case selects something, so a lost match would show


def _all_dicts(store: LoggingStore) -> list[dict[str, Any]]:
    query = compile_query("")
    entries, _ = store.list_entries(
        ["projects/p"], query.narrowing, None, descending=False, page_size=1000
    )
    return [entry.as_dict() for entry in entries]


def test_the_filter_only_sees_rows_sql_could_not_rule_out(store: LoggingStore) -> None:
    query = compile_query('timestamp>="2026-05-28T20:29:50Z" severity=ERROR log_id("worker")')
    seen: list[dict[str, Any]] = []

    def counting(entry: dict[str, Any]) -> bool:
        seen.append(entry)
        assert query.matches is not None
        return query.matches(entry)

    entries, cursor = store.list_entries(
        ["projects/p"], query.narrowing, counting, descending=False, page_size=50
    )
    assert [e.as_dict()["jsonPayload"]["n"] for e in entries] == [193]
    assert len(seen) == 1
    assert cursor is None


def test_a_selective_filter_answers_in_bounded_steps(
    store: LoggingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LoggingStore, "SCAN_LIMIT", 30)
    query = compile_query("jsonPayload.n=190")
    found: list[StoredEntry] = []
    cursor = None
    calls = 0
    while True:
        calls += 1
        page, cursor = store.list_entries(
            ["projects/p"],
            query.narrowing,
            query.matches,
            descending=True,
            page_size=5,
            after=cursor,
        )
        found.extend(page)
        if cursor is None:
            break

    assert [e.as_dict()["jsonPayload"]["n"] for e in found] == [190]
    assert calls == 7  # 200 rows, 30 per call


def test_a_costly_filter_answers_within_the_time_budget_and_loses_nothing(
    store: LoggingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LoggingStore, "SCAN_SECONDS", 0.2)
    query = compile_query("jsonPayload.n>=0")
    assert query.matches is not None
    plain = query.matches

    def costly(entry: dict[str, Any]) -> bool:
        time.sleep(0.01)  # 200 rows: 2 s of filtering in all
        return plain(entry)

    found: list[int] = []
    cursor = None
    calls = []
    while True:
        started = time.monotonic()
        page, cursor = store.list_entries(
            ["projects/p"], query.narrowing, costly, descending=False, page_size=1000, after=cursor
        )
        calls.append(time.monotonic() - started)
        found.extend(e.as_dict()["jsonPayload"]["n"] for e in page)
        if cursor is None:
            break

    assert found == list(range(200))
    assert len(calls) >= 5 and max(calls) < 1.0  # several short answers, not one long one


def test_data_is_kept_in_one_file_across_store_instances(tmp_path: Path) -> None:
    first = LoggingStore(tmp_path / "logging.db")
    fill(first, 3)
    first.close()

    second = LoggingStore(tmp_path / "logging.db")
    assert len(listed(second, "")) == 3
    fill(second, 3)  # the same entries again: duplicates
    assert len(listed(second, "")) == 3


def test_a_failing_listener_does_not_fail_a_stored_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Counting into log-based metrics runs after the entries are stored: an error there
    must not answer the write with an error, or the client writes the batch again."""
    service = LoggingService(LoggingStore(tmp_path / "logging.db"))

    def broken(entries: Any) -> None:
        raise RuntimeError("metric counting failed")

    service.listeners.append(broken)
    request = WriteLogEntriesRequest.pb()()
    entry = request.entries.add(log_name="projects/p/logs/x", text_payload="kept")
    entry.resource.type = "global"

    service.write(request)

    assert [
        e.as_dict()["textPayload"]
        for e in service.store.list_entries(
            ["projects/p"], compile_query("").narrowing, None, descending=False, page_size=10
        )[0]
    ] == ["kept"]
    assert "a listener of written entries failed" in caplog.text
