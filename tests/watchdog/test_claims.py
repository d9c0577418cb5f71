"""Watchdogs racing over a fact whose time moves agree on one time, so Logging keeps one entry.

Against the emulator through the real client: each racer claims, settles, reads the claims
back, and writes its event through the reporter with the time agreed.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from observability.events import EventType
from observability.gcp import Endpoint, logging_client
from observability.watchdog.claims import CLAIMS_LOG, Claims
from observability.watchdog.facts import Environment, Fact, Finding
from observability.watchdog.report import Reporter
from tests.support.cloud_logging import read_events


def _environment(project: str) -> Environment:
    return Environment("obs-test", "http://airflow", project, "europe-west1")


def _import_error(file: str, seen: datetime) -> Fact:
    """An import error as the DAG processor re-stamps it: the same error, another time."""
    return Fact(
        EventType.DAG_IMPORT_ERROR,
        (file, "f1ng3rpr1nt", 0),
        seen,
        reason="ZeroDivisionError: division by zero",
        finding=Finding(file=file),
        fields={
            "exception": {
                "type": "ZeroDivisionError",
                "message": "division by zero",
                "fingerprint": "f1ng3rpr1nt",
            }
        },
        time_moves=True,
    )


def _race(
    emulator: Endpoint,
    project: str,
    facts_by_racer: list[list[Fact]],
    settle: float,
    *,
    claim: bool = True,
) -> list[dict[str, datetime]]:
    """Each racer in its own thread, released together, then stalled at random before it
    claims (a pass's reads take different times): the shape of two ``--once`` started at once.
    Without ``claim`` each writes its own time, as the watchdog did before claims."""
    environment = _environment(project)
    start = threading.Barrier(len(facts_by_racer))
    agreed: list[dict[str, datetime]] = [{} for _ in facts_by_racer]

    def racer(index: int, facts: list[Fact]) -> None:
        claims = Claims(environment, logging_client(project, emulator), project, settle)
        reporter = Reporter(environment, logging_client(project, emulator), project)
        try:
            start.wait()
            time.sleep(random.uniform(0, settle))
            agreed[index] = claims.agreed(facts) if claim else {}
            reporter.write(
                [
                    replace(
                        fact,
                        timestamp=agreed[index].get(fact.event_id(environment), fact.timestamp),
                    )
                    for fact in facts
                ],
                "3.3.2",
            )
            assert reporter.flush()
        finally:
            reporter.close()

    threads = [
        threading.Thread(target=racer, args=(index, facts))
        for index, facts in enumerate(facts_by_racer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return agreed


def test_racers_that_read_the_error_at_different_parses_write_it_once(
    emulator: Endpoint, project: str, emulator_env: dict[str, str]
) -> None:
    now = datetime.now(timezone.utc)
    files = [f"dags/broken_{n}.py" for n in range(8)]
    # Three watchdogs; each read every file at another parse (times seconds apart).
    racers = [
        [_import_error(file, now - timedelta(seconds=30 * racer)) for file in files]
        for racer in range(3)
    ]
    agreed = _race(emulator, project, racers, settle=0.3)
    assert agreed[0] == agreed[1] == agreed[2]
    assert len(agreed[0]) == len(files)
    events = [e for e in read_events(emulator, project) if e["event_type"] == "dag_import_error"]
    assert sorted(e["finding"]["file"] for e in events) == files
    assert len({e["event_id"] for e in events}) == len(files)
    # The agreed time is one a racer read from Airflow, never made up.
    proposed = {fact.timestamp for facts in racers for fact in facts}
    assert set(agreed[0].values()) <= proposed


def test_without_claims_the_same_racers_write_each_error_once_per_racer(
    emulator: Endpoint, project: str, emulator_env: dict[str, str]
) -> None:
    """The control: what the claims prevent really happens to these racers."""
    now = datetime.now(timezone.utc)
    racers = [[_import_error("dags/broken.py", now - timedelta(seconds=30 * r))] for r in range(3)]
    _race(emulator, project, racers, settle=0.3, claim=False)
    events = [e for e in read_events(emulator, project) if e["event_type"] == "dag_import_error"]
    assert len(events) == 3 and len({e["event_id"] for e in events}) == 1


def test_a_later_watchdog_takes_the_time_of_a_claim_left_by_one_that_died(
    emulator: Endpoint, project: str
) -> None:
    environment = _environment(project)
    now = datetime.now(timezone.utc)
    first = _import_error("dags/broken.py", now - timedelta(seconds=40))
    died = Claims(environment, logging_client(project, emulator), project, settle=0)
    assert died.agreed([first]) == {first.event_id(environment): first.timestamp}
    # It died before writing its event; the next watchdog read the error at a later parse.
    later = _import_error("dags/broken.py", now)
    after = Claims(environment, logging_client(project, emulator), project, settle=0)
    assert after.agreed([later]) == {later.event_id(environment): first.timestamp}
    assert after.calls == 2  # one write of the claims, one read


def test_many_facts_are_claimed_in_bounded_requests_and_garbage_claims_are_ignored(
    emulator: Endpoint, project: str
) -> None:
    environment = _environment(project)
    now = datetime.now(timezone.utc)
    facts = [_import_error(f"dags/f{n}.py", now) for n in range(250)]
    stranger = logging_client(project, emulator).logger(CLAIMS_LOG)
    junk: list[Any] = ["yesterday", 12, None, "2026-12-07T10:00:00", {"a": 1}]
    for value in junk:  # claims someone else wrote badly: no time, or one without a zone
        stranger.log_struct(
            {"claim": facts[0].event_id(environment), "proposed": value},
            timestamp=now - timedelta(minutes=5),
        )
    claims = Claims(environment, logging_client(project, emulator), project, settle=0)
    agreed = claims.agreed(facts)
    assert agreed == {fact.event_id(environment): now for fact in facts}
    assert claims.calls == 6  # 250 facts: three writes and three reads of at most 100


def test_no_fact_no_claim(emulator: Endpoint, project: str) -> None:
    claims = Claims(_environment(project), logging_client(project, emulator), project, settle=5)
    started = time.monotonic()
    assert claims.agreed([]) == {}
    assert claims.calls == 0 and time.monotonic() - started < 1
