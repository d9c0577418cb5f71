"""Pauses from an audit log that is odd, broken or growing, and DAGs whose runs are odd.

At the wire: ``fault`` serves the audit log from a list hypothesis draws (records with a
missing or odd ``dag_id``, ``event``, ``when``, ``extra`` or ``run_id``: other types, nested,
a megabyte, control characters; duplicates; records from the future), or a 403, a 500 or
garbage instead. Whatever it serves, the pass ends, the DAG Airflow paused is reported once,
and the DAGs the records name that are gone (404) or unpaused since cost nothing. The memory of
the records looked at holds one pass's records, not every record ever read.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.watchdog import detect
from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import WatchdogConfig
from tests.watchdog.airflow_wire import AirflowWire, Fault, WireClients

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
CONFIG = WatchdogConfig.model_validate(
    {"airflow": [{"name": "local", "url": "http://127.0.0.1:1"}], "dag_list_refresh": "10m"}
)
AUTO = "paused by Airflow after 3 consecutive failed runs"
HAND = '{"is_paused": true}'


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def _runs(dag_id: str, states: list[str]) -> list[dict[str, Any]]:
    """The DAG's runs, newest first, one an hour."""
    return [
        {
            "dag_id": dag_id,
            "dag_run_id": f"scheduled__{number}",
            "state": state,
            "start_date": _at(60 * number + 5),
            "end_date": _at(60 * number),
        }
        for number, state in enumerate(states)
    ]


def _served(wire: AirflowWire) -> AirflowWire:
    """``auto`` failed 3 times and Airflow is about to pause it; ``unpaused`` was paused and
    unpaused since; ``healthy`` runs; a DAG named ``gone`` no longer exists."""
    wire.major, wire.fault, wire.audit_refused = 3, None, False
    wire.dags.clear()
    wire.audit.clear()
    wire.add("auto", max_consecutive_failed_dag_runs=3)
    wire.add("unpaused", max_consecutive_failed_dag_runs=3)
    wire.add("healthy", max_consecutive_failed_dag_runs=3)
    wire.runs[:] = [
        *_runs("auto", ["failed"] * 3),
        *_runs("unpaused", ["failed"] * 3),
        *_runs("healthy", ["success"]),
    ]
    wire.reset()
    return wire


@pytest.fixture
def wire(shared_wire: AirflowWire) -> Iterator[AirflowWire]:
    yield _served(shared_wire)
    shared_wire.fault = None


def _pass(api: AirflowAPI, memory: detect.Memory) -> set[tuple[str, str | None]]:
    api.forget()
    facts = detect.paused_dags(api, CONFIG, memory, NOW - timedelta(minutes=5), NOW)
    return {(fact.dag_id or "", fact.reason) for fact in facts}


_ODD = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just("\x00\x1b[31m\r\n\u2028"),
    st.integers(1, 400).map(lambda depth: json.loads("[" * depth + "]" * depth)),
    st.just("x" * 2**20),
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "dag_id": st.one_of(
            st.sampled_from(["auto", "gone", "unpaused", "healthy", "x" * 2**20]), _ODD
        ),
        "event": st.one_of(st.sampled_from(["paused", "patch_dag", "cli_dag_pause"]), _ODD),
        "when": st.one_of(st.just(_at(1)), st.just(_at(-600)), _ODD),  # also the future
        "extra": st.one_of(st.sampled_from(['{"is_paused": true}', "is_paused"]), _ODD),
        "run_id": _ODD,
        "event_log_id": st.one_of(st.integers(0, 5), _ODD),
    },
)
_ANSWER = st.one_of(
    st.just("served"),
    st.sampled_from([Fault(status=403), Fault(status=500), Fault(body=b"<html>oops")]),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    odd=st.lists(_RECORD, max_size=8),
    answer=_ANSWER,
    page_size=st.integers(1, 4),
    growth=st.integers(0, 3),
)
def test_whatever_the_audit_log_serves_the_pause_is_reported_once(
    wire: AirflowWire,
    clients: WireClients,
    odd: list[dict[str, Any]],
    answer: Any,
    page_size: int,
    growth: int,
) -> None:
    api = clients()
    _served(wire)
    memory = detect.Memory()
    assert _pass(api, memory) == set()  # the first pass reads the lists: nothing paused yet

    wire.dags["auto"]["is_paused"] = True
    pause = {"event": "paused", "dag_id": "auto", "when": _at(1), "extra": "", "owner": "x"}
    records = [pause, *odd, pause]
    served = {"pages": 0}

    def audit(path: str, query: dict[str, Any]) -> Fault | None:
        if path != "/api/v2/eventLogs":
            return None
        if isinstance(answer, Fault):
            return answer
        offset = int(query["offset"][0])
        page = records[offset : offset + page_size]
        served["pages"] += 1
        for number in range(growth):  # the log grows while paged: newer records on top
            records.insert(0, {"event": "grid", "dag_id": "healthy", "when": _at(-number)})
        return Fault(body=json.dumps({"event_logs": page, "total_entries": len(records)}).encode())

    wire.fault = audit
    api.page_size = page_size
    try:
        assert _pass(api, memory) == {("auto", AUTO)}
        assert _pass(api, memory) == set()
    finally:
        api.page_size = 1000
    assert len(memory.pause_records) <= len(records)


def test_a_dag_that_cannot_be_read_costs_itself_only_and_is_looked_at_again(
    wire: AirflowWire, clients: WireClients
) -> None:
    """``auto``'s record answers 500 and ``critical``'s runs do: the other pause is reported,
    and each of them the next pass, once Airflow answers."""
    api = clients()
    memory = detect.Memory()
    wire.add("critical", tags=[{"name": "critical"}])
    assert _pass(api, memory) == set()
    broken = {"/api/v2/dags/auto", "/api/v2/dags/critical/dagRuns"}
    wire.fault = lambda path, query: Fault(status=500) if path in broken else None
    api.retry_wait_s = 0.0
    for dag_id in ("auto", "critical", "unpaused"):
        wire.dags[dag_id]["is_paused"] = True
        wire.audit.append({"event": "paused", "dag_id": dag_id, "when": _at(1), "extra": ""})
    try:
        assert _pass(api, memory) == {("unpaused", AUTO)}
        wire.fault = None
        assert _pass(api, memory) == {("auto", AUTO), ("critical", "a critical DAG is paused")}
        assert _pass(api, memory) == set()
    finally:
        api.retry_wait_s = 0.5


def test_a_dag_unpaused_since_it_was_looked_at_is_looked_at_when_paused_again(
    wire: AirflowWire, clients: WireClients
) -> None:
    """Its record of the unpause says it is no longer paused: when Airflow pauses it again and
    the record of that is not read (the audit log refused), the paused lists find it."""
    api = clients()
    memory = detect.Memory()
    wire.dags["auto"]["is_paused"] = True
    assert _pass(api, memory) == {("auto", AUTO)}
    wire.dags["auto"]["is_paused"] = False
    wire.audit.append(
        {"event": "patch_dag", "dag_id": "auto", "when": _at(1), "extra": '{"is_paused": false}'}
    )
    assert _pass(api, memory) == set()
    wire.runs.insert(0, *_runs("auto", ["failed"]))
    wire.runs[0]["dag_run_id"], wire.runs[0]["start_date"] = "manual__again", _at(0.5)
    wire.dags["auto"]["is_paused"] = True
    wire.audit_refused = True
    assert _pass(api, memory) == {("auto", AUTO)}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32), repeats=st.lists(st.integers(0, 4), max_size=3))
def test_a_dags_runs_served_unsorted_twice_or_too_many_count_the_same(
    wire: AirflowWire, clients: WireClients, seed: int, repeats: list[int]
) -> None:
    """The newest run names the pause (its identity) and the failures are counted from it:
    the same fact however the runs come, so a pause is never reported twice; and a DAG with a
    billion runs is read no further than the runs asked for."""
    api = clients()
    _served(wire)
    runs = _runs("auto", ["failed", "failed", "failed", "success", "failed"])
    honest = detect.paused_dags(api, CONFIG, detect.Memory(), NOW, NOW)
    wire.dags["auto"]["is_paused"] = True
    served = runs + [runs[index] for index in repeats]
    random.Random(seed).shuffle(served)

    def odd_runs(path: str, query: dict[str, Any]) -> Fault | None:
        if path != "/api/v2/dags/auto/dagRuns":
            return None
        return Fault(body=json.dumps({"dag_runs": served, "total_entries": 10**9}).encode())

    wire.runs[:] = runs
    expected = detect.paused_dags(api, CONFIG, detect.Memory(), NOW, NOW)
    wire.fault = odd_runs
    assert detect.paused_dags(api, CONFIG, detect.Memory(), NOW, NOW) == expected
    assert honest == [] and [fact.run_id for fact in expected] == ["scheduled__0"]


def test_the_memory_of_pause_records_holds_one_pass_over_10000_passes() -> None:
    """Distinct records every pass (a busy audit log): what is remembered stays one pass's."""
    memory = detect.Memory()
    largest = 0
    for number in range(10_000):
        records = [
            {"event": "paused", "dag_id": f"dag_{number}_{index}", "when": _at(0)}
            for index in range(3)
        ]
        assert memory.new_pauses(records) == {record["dag_id"] for record in records}
        largest = max(largest, len(memory.pause_records))
    assert largest == 3


def test_a_dags_runs_capped_below_its_failure_limit_are_read_on(
    wire: AirflowWire, clients: WireClients
) -> None:
    """Airflow serves at most ``maximum_page_limit`` runs a request: a DAG paused after more
    failed runs than that is still counted as paused by Airflow."""
    api = clients()
    _served(wire)
    wire.maximum_page_limit = 2
    wire.dags["auto"].update(max_consecutive_failed_dag_runs=5, is_paused=True)
    wire.runs[:] = _runs("auto", ["failed"] * 5 + ["success"])
    try:
        facts = detect.paused_dags(api, CONFIG, detect.Memory(), NOW, NOW)
    finally:
        wire.maximum_page_limit = 100
    assert [(fact.run_id, fact.reason) for fact in facts] == [
        ("scheduled__0", "paused by Airflow after 5 consecutive failed runs")
    ]


def test_a_page_of_records_that_are_not_objects_does_not_end_the_audit_read(
    wire: AirflowWire, clients: WireClients
) -> None:
    """Items that are not records hold their place in the offset: the read goes on to the
    next page, where the pause is (it took a page of them for the end of the log)."""
    api = clients()
    _served(wire)
    memory = detect.Memory()
    assert _pass(api, memory) == set()
    wire.dags["auto"]["is_paused"] = True
    pages = {
        "0": [7, "not a record"],
        "2": [{"event": "paused", "dag_id": "auto", "when": _at(1), "extra": ""}],
    }
    wire.fault = lambda path, query: (
        Fault(
            body=json.dumps({"event_logs": pages[query["offset"][0]], "total_entries": 3}).encode()
        )
        if path == "/api/v2/eventLogs"
        else None
    )
    api.page_size = 2
    try:
        assert _pass(api, memory) == {("auto", AUTO)}
    finally:
        api.page_size = 1000


def test_baselines_and_run_timeouts_of_dags_gone_are_dropped_after_their_hour() -> None:
    """Kept an hour for what is asked again; a DAG or task never asked again (renamed,
    deleted, generated ids) leaves the memory an hour or two after, not never."""
    memory = detect.Memory()
    old = time.monotonic() - 2 * 3600 - 1
    for number in range(1000):
        memory.baselines[f"dag_{number}", "task"] = (old, 1.0)
        memory.run_timeouts[f"dag_{number}"] = (old, None)
    memory.baselines["dag_fresh", "task"] = (time.monotonic() - 3599, 3.0)  # still read
    memory.pruned_at = old
    memory.keep(memory.baselines, ("dag_new", "task"), 2.0)
    assert {key: value for key, (_, value) in memory.baselines.items()} == {
        ("dag_new", "task"): 2.0,
        ("dag_fresh", "task"): 3.0,
    }
    assert memory.run_timeouts == {}


def test_a_storm_of_pauses_reads_the_paused_lists_not_each_dag(
    wire: AirflowWire, clients: WireClients
) -> None:
    """250 DAGs paused by hand before maintenance (fewer records than cut the audit read
    short), and ``auto`` by Airflow: the paused lists (a few requests) say which matter, not
    250 requests one DAG each."""
    api = clients()
    _served(wire)
    memory = detect.Memory()
    assert _pass(api, memory) == set()
    wire.dags["auto"]["is_paused"] = True
    wire.audit.append({"event": "paused", "dag_id": "auto", "when": _at(1), "extra": ""})
    for number in range(250):
        wire.add(f"quiet_{number}", is_paused=True)
        wire.audit.append(
            {"event": "patch_dag", "dag_id": f"quiet_{number}", "when": _at(1), "extra": HAND}
        )
    wire.reset()
    assert _pass(api, memory) == {("auto", AUTO)}
    assert len(wire.requests) < 10, wire.paths()
