"""The ingest journal and its applier: what was acknowledged is applied once, torn records never,
segments are deleted only when finished and applied."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from observability.router import applier as applier_module
from observability.router import journal as journal_module
from observability.router.alert_store import write_routed
from observability.router.applier import (
    JournalApplier,
    ProgressConflict,
    applied_offsets,
    wait_applied,
)
from observability.router.clock import ManualClock
from observability.router.config import parse_config
from observability.router.journal import (
    ALERTMANAGER,
    CLOUD_MONITORING,
    JournalRecord,
    JournalWriter,
    finished,
    read_segment,
    segments,
)
from observability.router.metrics import RouterMetrics
from observability.router.store import (
    Store,
    alerts,
    group_alerts,
    incident_events,
    rejected_requests,
)
from tests.router.harness import incident

CONFIG = """
route:
  receiver: default
  group_by: [alertname, dag_id]
receivers:
  - name: default
"""


def webhook(
    incident_id: str, state: str = "open", received_at: float = 1_700_000_000.0, **labels: str
) -> JournalRecord:
    # Every parameter before the labels given by position: none of them can take a label.
    body = json.dumps(incident(incident_id, state, "Airflow task failed", "ERROR", None, **labels))
    return JournalRecord(CLOUD_MONITORING, received_at, body.encode())


def append_all(writer: JournalWriter, records: list[JournalRecord]) -> None:
    async def run() -> None:
        await asyncio.gather(*(writer.append(record) for record in records))

    asyncio.run(run())


class Journaled:
    """A store, a journal directory, this process's writer and an applier, as the runtime
    wires them (on a manual clock)."""

    def __init__(self, directory: Path, segment_bytes: int = 1 << 20) -> None:
        self.directory = directory / "router.db-ingest"
        self.store = Store(f"sqlite:///{directory / 'router.db'}", "NORMAL")
        self.store.create_schema()
        self.config = parse_config(CONFIG, "test.yaml", directory)
        self.metrics = RouterMetrics()
        self.commits = 0
        self.clock_now = 1_700_000_000.0
        self.writer = JournalWriter(self.directory, segment_bytes=segment_bytes)
        self.writer.start()

    def applier(self) -> JournalApplier:
        def committed(_: bool) -> None:
            self.commits += 1

        applier = JournalApplier(
            self.directory,
            self.store,
            ManualClock(),
            lambda: self.config,
            self.metrics,
            committed,
        )
        applier.resume()
        return applier

    def apply_all(self, applier: JournalApplier) -> int:
        total = 0
        while applied := applier.apply_once():
            total += applied
        return total

    def run_applier_until_stored(self, expected: int) -> None:
        """The applier's own thread, as a router runs it, until ``expected`` alerts are
        stored (or 20 s passed); then stopped, which must succeed."""
        applier = self.applier()
        applier.start()
        try:
            deadline = time.monotonic() + 20
            while self.count(alerts) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            assert applier.close()

    def count(self, table) -> int:  # type: ignore[no-untyped-def]
        with self.store.read() as connection:
            return len(connection.execute(select(table)).all())

    def close(self) -> None:
        self.writer.close()
        self.store.dispose()


@pytest.fixture
def journaled(tmp_path: Path) -> Iterator[Journaled]:
    setup = Journaled(tmp_path)
    yield setup
    setup.close()


def test_records_read_back_as_appended_with_unicode_and_both_sources(
    journaled: Journaled,
) -> None:
    records = [
        webhook("a-1", dag_id="ünïcode_dag"),
        JournalRecord(ALERTMANAGER, 1_700_000_001.5, b'[{"labels":{"alertname":"x"}}]'),
        webhook("a-2"),
    ]
    for record in records:  # one at a time: the order of the file is the order of appends
        append_all(journaled.writer, [record])
    [segment] = segments(journaled.directory)
    read = read_segment(segment, 0)
    assert [record for _, record in read.records] == records
    assert not read.torn
    assert read.end == read.records[-1][0]
    assert read_segment(segment, read.records[0][0]).records == read.records[1:]


def test_applied_once_even_when_a_new_applier_starts_over(journaled: Journaled) -> None:
    append_all(journaled.writer, [webhook(f"once-{n}", dag_id=f"dag_{n % 3}") for n in range(50)])
    assert journaled.apply_all(journaled.applier()) == 50
    # A restarted process: the progress recorded with the data says everything is applied.
    again = journaled.applier()
    assert journaled.apply_all(again) == 0
    assert journaled.count(alerts) == 50
    assert journaled.count(incident_events) == 50
    assert journaled.count(group_alerts) == 50
    received = journaled.metrics.alerts_received.labels(CLOUD_MONITORING, "stored")
    assert received._value.get() == 50


def test_duplicates_across_batches_are_counted_not_stored(journaled: Journaled) -> None:
    applier = journaled.applier()
    append_all(journaled.writer, [webhook("dup-1"), webhook("dup-1")])
    journaled.apply_all(applier)
    append_all(journaled.writer, [webhook("dup-1"), webhook("dup-1", state="closed")])
    journaled.apply_all(applier)
    with journaled.store.read() as connection:
        events = connection.execute(
            select(incident_events.c.state, incident_events.c.outcome).order_by(
                incident_events.c.id
            )
        ).all()
    assert [tuple(row) for row in events] == [("open", "stored"), ("closed", "stored")]
    duplicates = journaled.metrics.alerts_received.labels(CLOUD_MONITORING, "duplicate")
    assert duplicates._value.get() == 2


def test_a_torn_last_record_is_never_applied_and_its_segment_is_finished(
    journaled: Journaled,
) -> None:
    append_all(journaled.writer, [webhook("torn-1"), webhook("torn-2")])
    [segment] = segments(journaled.directory)
    end = read_segment(segment, 0).end
    journaled.writer.close()  # the writer is gone, as after kill -9
    # What a crash in the middle of a write leaves: a frame header and half its payload.
    frame = webhook("torn-3").frame()
    with open(segment, "r+b") as file:
        file.seek(end)
        file.write(frame[: len(frame) // 2])
    read = read_segment(segment, 0)
    assert len(read.records) == 2 and read.torn
    applier = journaled.applier()
    assert journaled.apply_all(applier) == 2
    applier._finish_segments()
    assert segments(journaled.directory) == []
    assert applied_offsets(journaled.store) == {}
    with journaled.store.read() as connection:
        ids = {row.incident_id for row in connection.execute(select(alerts.c.incident_id))}
    assert ids == {"torn-1", "torn-2"}


def test_a_corrupted_record_stops_reading_there(journaled: Journaled) -> None:
    append_all(journaled.writer, [webhook("crc-1")])
    append_all(journaled.writer, [webhook("crc-2")])
    [segment] = segments(journaled.directory)
    first_end = read_segment(segment, 0).records[0][0]
    with open(segment, "r+b") as file:  # flip one byte of the second record's payload
        file.seek(first_end + 20)
        byte = file.read(1)
        file.seek(first_end + 20)
        file.write(bytes([byte[0] ^ 0xFF]))
    read = read_segment(segment, 0)
    ids = [json.loads(record.body)["incident"]["incident_id"] for _, record in read.records]
    assert ids == ["crc-1"]
    assert read.torn


def test_a_segment_is_kept_while_its_writer_lives_and_deleted_once_finished(
    journaled: Journaled,
) -> None:
    append_all(journaled.writer, [webhook("live-1")])
    applier = journaled.applier()
    journaled.apply_all(applier)
    [segment] = segments(journaled.directory)
    with finished(segment) as done:
        assert not done
    applier._finish_segments()
    assert segments(journaled.directory) == [segment], "its writer still appends to it"
    journaled.writer.close()
    applier._finish_segments()
    assert segments(journaled.directory) == []


def test_full_segments_rotate_and_every_record_is_applied(tmp_path: Path) -> None:
    setup = Journaled(tmp_path, segment_bytes=4096)
    try:
        records = [webhook(f"rot-{n}", dag_id=f"dag_{n}") for n in range(40)]
        for record in records:
            append_all(setup.writer, [record])
        assert len(segments(setup.directory)) > 3
        applier = setup.applier()
        assert setup.apply_all(applier) == 40
        applier._finish_segments()
        assert len(segments(setup.directory)) <= 2  # the current one and its spare
        setup.writer.close()
        applier._finish_segments()
        assert segments(setup.directory) == []
        assert setup.count(alerts) == 40
    finally:
        setup.close()


def test_an_invalid_record_is_kept_aside_and_the_rest_applied(journaled: Journaled) -> None:
    bad = JournalRecord(CLOUD_MONITORING, 1_700_000_000.0, b'{"incident": {"state": "open"}}')
    append_all(journaled.writer, [webhook("ok-1"), bad, webhook("ok-2")])
    assert journaled.apply_all(journaled.applier()) == 3
    assert journaled.count(alerts) == 2
    assert journaled.metrics.requests_invalid.labels("journal")._value.get() == 1
    with journaled.store.read() as connection:
        [kept] = connection.execute(select(rejected_requests)).all()
    assert kept.body == bad.body.decode() and "incident_id" in kept.error


def alertmanager(name: str, received_at: float, resolved: bool) -> JournalRecord:
    """An Alertmanager post received at ``received_at`` (resolved: it ended a second before)."""
    alert: dict[str, object] = {"labels": {"alertname": name}}
    if resolved:
        alert["endsAt"] = "2023-11-14T22:13:19Z"  # 1_699_999_999
    return JournalRecord(ALERTMANAGER, received_at, json.dumps([alert]).encode())


def firing(journaled: Journaled, name: str) -> bool:
    with journaled.store.read() as connection:
        row = connection.execute(
            select(alerts.c.ends_at).where(alerts.c.labels["alertname"].as_string() == name)
        ).one()
    return row.ends_at > journaled.clock_now


def test_a_resolve_received_after_its_firing_wins_across_processes(tmp_path: Path) -> None:
    """Prometheus posts the firing alert to one worker and, once answered, the resolve to
    another: however the batches fall, the resolve is applied last."""
    setup = Journaled(tmp_path)
    other = JournalWriter(setup.directory)  # a second router process on the same database
    other.start()
    try:
        start = 1_699_999_900.0  # applied "now", 1_700_000_000: a firing alert would last
        # until start + 5 + resolve_timeout (300 s), well after now.
        # A backlog in the first process, the firing alert at its end ...
        for n in range(5):
            append_all(setup.writer, [webhook(f"fill-{n}", received_at=start + n)])
        append_all(setup.writer, [alertmanager("Disk full", start + 5, resolved=False)])
        # ... and the resolve, received after it was answered, in the other process's segment.
        append_all(other, [alertmanager("Disk full", start + 6, resolved=True)])
        applier = setup.applier()
        while applier.apply_once(limit=2):  # small batches: the backlog spans several
            pass
        assert not firing(setup, "Disk full")
    finally:
        other.close()
        setup.close()


def test_records_received_after_a_batch_began_wait_for_the_next(journaled: Journaled) -> None:
    later = alertmanager("Later", 1_700_000_500.0, resolved=False)
    append_all(journaled.writer, [webhook("now-1"), later])
    applier = journaled.applier()  # its clock reads 1_700_000_000: "later" is in the future
    assert applier.apply_once() == 1
    assert journaled.count(alerts) == 1


def test_a_second_applier_fails_instead_of_applying_again(journaled: Journaled) -> None:
    append_all(journaled.writer, [webhook(f"twice-{n}") for n in range(3)])
    first, second = journaled.applier(), journaled.applier()  # both resume from nothing
    assert first.apply_once() == 3
    with pytest.raises(ProgressConflict):
        second.apply_once()
    second.resume()
    assert second.apply_once() == 0
    assert journaled.count(incident_events) == 3


def test_a_record_that_keeps_failing_is_kept_aside_and_the_rest_applied(
    journaled: Journaled, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_on_poison(connection, store, batch, now, config):  # type: ignore[no-untyped-def]
        batch = list(batch)
        if any(s.incident and s.incident.incident_id == "poison" for s in batch):
            raise RuntimeError("this record breaks the transaction")
        return write_routed(connection, store, batch, now, config)

    monkeypatch.setattr(applier_module, "write_routed", failing_on_poison)
    monkeypatch.setattr(applier_module, "POLL_INTERVAL", 0.005)
    append_all(journaled.writer, [webhook("before"), webhook("poison"), webhook("after")])
    journaled.run_applier_until_stored(2)
    with journaled.store.read() as connection:
        ids = {row.incident_id for row in connection.execute(select(alerts.c.incident_id))}
        [kept] = connection.execute(select(rejected_requests)).all()
    assert ids == {"before", "after"}
    assert "poison" in kept.body and "breaks the transaction" in kept.error


def test_finished_segments_are_deleted_while_requests_keep_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applier_module, "FINISH_INTERVAL", 0.05)
    setup = Journaled(tmp_path, segment_bytes=4096)
    applier = setup.applier()
    applier.start()
    try:
        most = 0
        for n in range(80):  # a steady trickle: the applier never finds the journal idle
            append_all(setup.writer, [webhook(f"steady-{n}")])
            most = max(most, len(segments(setup.directory)))
            time.sleep(0.02)
        # Four or five records fill a segment: without deleting on the way, 16 or more pile
        # up; with it, the current one, its spare and those finished since the last look.
        assert most <= 6, most
    finally:
        applier.close()
        setup.close()


def test_a_failed_segment_rotation_answers_with_the_error_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JournalWriter(tmp_path / "journal", segment_bytes=4096)
    writer.start()
    try:
        append_all(writer, [webhook("fits")])

        def disk_full(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(journal_module, "_Segment", disk_full)
        too_big = JournalRecord(CLOUD_MONITORING, 1_700_000_000.0, b"x" * 8192)
        for _ in range(2):  # both fail, neither hangs
            with pytest.raises(OSError, match="No space"):
                append_all(writer, [too_big])
        monkeypatch.undo()
        append_all(writer, [webhook("after")])  # the disk has room again
    finally:
        writer.close()


def test_reads_wait_until_what_was_acknowledged_is_applied(journaled: Journaled) -> None:
    append_all(journaled.writer, [webhook("wait-1")])
    assert not wait_applied(journaled.directory, journaled.store, timeout=0.1)
    applier = journaled.applier()
    applier.start()
    try:
        append_all(journaled.writer, [webhook("wait-2")])
        assert wait_applied(journaled.directory, journaled.store, timeout=10)
        assert journaled.count(alerts) == 2
    finally:
        applier.close()


def test_a_failed_write_answers_the_request_with_the_error(tmp_path: Path) -> None:
    directory = tmp_path / "gone"
    writer = JournalWriter(directory)
    writer.start()
    try:
        os.rmdir(directory)  # no segment can be created: every append must fail, not hang
        with pytest.raises(OSError):
            append_all(writer, [webhook("lost-1")])
    finally:
        writer.close()


def test_a_database_failure_never_puts_a_healthy_record_aside(
    journaled: Journaled, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = iter(range(6))  # six failed attempts: more than it takes to isolate a record

    def disk_full_for_a_while(connection, store, batch, now, config):  # type: ignore[no-untyped-def]
        if next(failures, None) is not None:
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))
        return write_routed(connection, store, batch, now, config)

    monkeypatch.setattr(applier_module, "write_routed", disk_full_for_a_while)
    monkeypatch.setattr(applier_module, "POLL_INTERVAL", 0.005)
    append_all(journaled.writer, [webhook("healthy-1"), webhook("healthy-2")])
    journaled.run_applier_until_stored(2)
    assert journaled.count(alerts) == 2
    assert journaled.count(rejected_requests) == 0


def test_a_segment_keeps_its_order_when_the_clock_steps_back(journaled: Journaled) -> None:
    start = 1_699_999_850.0  # applied at 1_700_000_000: firing, it would last 250 s more
    append_all(journaled.writer, [alertmanager("Clock", start + 100, resolved=False)])
    # NTP stepped the clock back 10 s between the firing and its resolve.
    append_all(journaled.writer, [alertmanager("Clock", start + 90, resolved=True)])
    journaled.apply_all(journaled.applier())
    assert not firing(journaled, "Clock")


def test_a_corrupt_length_reads_as_torn_without_reading_it(journaled: Journaled) -> None:
    append_all(journaled.writer, [webhook("len-1")])
    [segment] = segments(journaled.directory)
    end = read_segment(segment, 0).end
    with open(segment, "r+b") as file:
        file.seek(end)
        file.write((0x7FFFFFF0).to_bytes(4, "big") + (12345).to_bytes(4, "big"))
    read = read_segment(segment, 0)
    assert len(read.records) == 1 and read.torn


def test_a_request_queued_while_the_writer_closes_is_written_not_left_waiting(
    tmp_path: Path,
) -> None:
    """close() from another thread (uvicorn's shutdown) lands between a request's check that
    the journal is open and its queueing: the request must still be written, or refused, and
    never wait behind the stop sign forever."""
    writer = JournalWriter(tmp_path / "ingest")
    writer.start()
    real_queue = writer._queue
    closer: list[threading.Thread] = []

    class CloseMidway:
        """The writer's queue, where the first request's put lets close() run first."""

        def put(self, item: object) -> None:
            if item is not None and not closer:
                closer.append(threading.Thread(target=writer.close))
                closer[0].start()
                closer[0].join(0.5)  # close() gets every chance to queue its stop sign first
            real_queue.put(item)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return getattr(real_queue, name)

    writer._queue = CloseMidway()  # type: ignore[assignment]

    async def run() -> None:
        await asyncio.wait_for(writer.append(webhook("midway")), 10)

    asyncio.run(run())
    closer[0].join(30)
    assert not closer[0].is_alive()
    written = [read_segment(path, 0).records for path in segments(tmp_path / "ingest")]
    assert sum(map(len, written)) == 1
    with pytest.raises(OSError, match="closed"):
        append_all(writer, [webhook("after-close")])
