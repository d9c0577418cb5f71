"""The spool's files on a real disk: damaged lines, a full disk, writers and replayers that die.

These exercise the spool folder itself; ``send`` is a list that records what a replay hands to
Cloud Logging (tests/test_spool_delivery.py replays to the emulator through the real client).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.emit.spool import QUARANTINE_DIR, STALE_AFTER_S, Spool


def _entry(number: int) -> dict[str, Any]:
    return {
        "logName": "projects/p/logs/composer-observability",
        "resource": {"type": "global", "labels": {"project_id": "p"}},
        "severity": "ERROR",
        "insertId": f"event-{number}",
        "timestamp": "2026-11-23T10:00:00Z",
        "labels": {"event_type": "task_failed"},
        "jsonPayload": {"event_type": "task_failed", "number": number},
    }


class Recorder:
    """Stands for Cloud Logging: keeps every entry a replay sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, batch: list[dict[str, Any]]) -> dict[int, str]:
        self.sent.extend(batch)
        return {}

    @property
    def ids(self) -> list[str]:
        return [entry["insertId"] for entry in self.sent]


def _quarantined(spool: Spool) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((spool.directory / QUARANTINE_DIR).glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


_garbage = st.one_of(
    st.binary(min_size=1, max_size=200).filter(lambda raw: b"\n" not in raw and raw.strip()),
    st.sampled_from([b"[1, 2]", b'"text"', b"null", b'{"insertId": "x"}', b'{"logName": 5']),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=st.lists(st.one_of(st.none(), _garbage), min_size=1, max_size=12))
def test_a_damaged_line_is_quarantined_and_the_rest_of_its_file_delivered(
    tmp_path_factory: pytest.TempPathFactory, layout: list[bytes | None]
) -> None:
    spool = Spool(tmp_path_factory.mktemp("spool"))
    spool.write([_entry(0)])  # the folder, and a file of its own before the damaged one
    lines = [
        json.dumps(_entry(index)).encode() if item is None else item
        for index, item in enumerate(layout, start=1)
    ]
    (spool.directory / "spool-20261123T100000000000-1-damaged.jsonl").write_bytes(
        b"\n".join(lines) + b"\n"
    )
    good = ["event-0"] + [f"event-{i}" for i, item in enumerate(layout, start=1) if item is None]
    bad = [item for item in layout if item is not None]

    recorder = Recorder()
    report = spool.replay(recorder)

    assert sorted(recorder.ids) == sorted(good)
    assert report.quarantined == len(bad)
    assert report.failed_files == []
    assert spool.files() == []
    quarantined = _quarantined(spool)
    assert len(quarantined) == len(bad)
    assert all(record["reason"].startswith(("not JSON", "not an entry")) for record in quarantined)
    again = Recorder()
    spool.replay(again)
    assert again.sent == []


def test_check_rejects_an_entry_the_client_cannot_encode(tmp_path: Path) -> None:
    from observability.emit.sink import entry_problem

    spool = Spool(tmp_path)
    broken = {**_entry(2), "timestamp": "the day after tomorrow"}
    spool.write([_entry(1), broken, _entry(3)])
    recorder = Recorder()
    report = spool.replay(recorder, check=entry_problem)
    assert recorder.ids == ["event-1", "event-3"]
    assert report.quarantined == 1
    [record] = _quarantined(spool)
    assert "timestamp" in record["text"] and record["line"] == 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (needs root, as the CI runs); skipped where mounting is refused."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_leaves_no_partial_file(
    small_disk: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    spool = Spool(small_disk / "spool")
    assert spool.write([_entry(1)]) is not None
    big = [{**_entry(n), "jsonPayload": {"text": "x" * 4000}} for n in range(100)]  # ~400 KB
    assert spool.write(big) is None
    err = capfd.readouterr().err
    assert "cannot spool 100 entries" in err and "No space left on device" in err
    assert '"event-99"' in err  # the entries themselves reach the task log
    assert (
        sorted(path.name for path in spool.directory.iterdir() if path.name.endswith(".tmp")) == []
    )
    assert spool.write([_entry(2)]) is not None  # the space the partial file took is back
    recorder = Recorder()
    spool.replay(recorder)
    assert recorder.ids == ["event-1", "event-2"]


def test_a_writer_killed_mid_write_leaves_a_file_the_next_replay_salvages(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    torn = tmp_path / ".spool-20261123T100000000000-4242-deadbeef.jsonl.tmp"
    complete = "".join(json.dumps(_entry(n)) + "\n" for n in range(3))
    torn.write_text(complete + json.dumps(_entry(3))[:40])
    recorder = Recorder()
    spool.replay(recorder)
    assert recorder.sent == []  # too young: its writer may still be writing
    old = time.time() - STALE_AFTER_S - 1
    os.utime(torn, (old, old))
    report = spool.replay(recorder)
    assert recorder.ids == ["event-0", "event-1", "event-2"]
    assert report.quarantined == 1
    assert list(tmp_path.glob(".*.tmp")) == []


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from observability.emit.spool import Spool
with Spool(Path(sys.argv[1])).replay_lock() as held:
    print(held, flush=True)
    time.sleep(60)
"""


def test_one_replayer_per_machine_and_a_dead_ones_claim_is_taken_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write([_entry(1), _entry(2)])
    [path] = spool.files()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        # The holder "claimed" the file as a replay does, then dies by kill -9.
        claim = path.with_name(f".{path.name}.replaying-{_host()}-{holder.pid}-{time.time():.0f}")
        path.rename(claim)
        recorder = Recorder()
        assert spool.replay(recorder).busy
        assert spool.pending_entries() == 2  # a claimed file still counts as waiting
    finally:
        holder.kill()
        holder.wait()
    report = spool.replay(recorder, wait_s=5)
    assert not report.busy
    assert recorder.ids == ["event-1", "event-2"]
    assert not claim.exists() and spool.files() == []


def _host() -> str:
    import socket

    return socket.gethostname().replace("-", "_")


def test_a_forked_child_does_not_keep_the_replay_lock(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with spool.replay_lock() as held:
        assert held
        child = os.fork()
        if child == 0:  # the child lives on (as Airflow's forked processes do)
            time.sleep(3)
            os._exit(0)
    try:
        with spool.replay_lock(wait_s=2) as held_again:  # the child closes its copy at once
            assert held_again
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


def test_a_replay_asked_to_stop_leaves_what_it_did_not_send(tmp_path: Path) -> None:
    """The process ends mid-replay: the replay stops between batches; nothing is sent twice
    by the next replay and nothing is left out."""
    import threading

    spool = Spool(tmp_path)
    spool.write([_entry(n) for n in range(5)])
    stop = threading.Event()

    class StopsAfterOneBatch(Recorder):
        def __call__(self, batch: list[dict[str, Any]]) -> dict[int, str]:
            stop.set()
            return super().__call__(batch)

    first = StopsAfterOneBatch()
    spool.replay(first, batch_size=2, stop=stop)
    assert first.ids == ["event-0", "event-1"]
    assert spool.pending_entries() == 3
    untouched = {path.name: path.read_bytes() for path in spool.files()}
    stop.clear()

    def ends_while_reading(entry: dict[str, Any]) -> None:
        stop.set()  # the file is claimed and read; no batch is sent yet

    assert spool.replay(Recorder(), check=ends_while_reading, stop=stop).delivered == 0
    assert {path.name: path.read_bytes() for path in spool.files()} == untouched
    rest = Recorder()
    spool.replay(rest)
    assert rest.ids == ["event-2", "event-3", "event-4"]
