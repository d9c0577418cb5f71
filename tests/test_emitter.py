"""The writer against a real emulator process: delivery, volume, outages, spool and replay."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from observability.emit.emitter import Emitter
from observability.emit.sink import DeliveryError, LoggingSink
from observability.emit.spool import Spool
from observability.gcp import Endpoint, logging_client
from observability.settings import Settings
from tests.support.processes import black_hole, closed_port

pytestmark = pytest.mark.integration


def _settings(endpoint: Endpoint, project: str, spool: Path, **extra: Any) -> Settings:
    return Settings(
        emulator=endpoint.grpc_target,
        emulator_http=(endpoint.http_url or "").removeprefix("http://") or None,
        project=project,
        spool_dir=spool,
        **extra,
    )


def _event(number: int) -> dict[str, Any]:
    return {
        "event_type": "task_succeeded",
        "dag_id": "volume",
        "task_id": f"task_{number % 50}",
        "run_id": "manual__1",
        "try_number": 1,
    }


def _stored(endpoint: Endpoint, project: str) -> list[Any]:
    client = logging_client(project, endpoint)
    return list(
        client.list_entries(
            filter_=f'logName="projects/{project}/logs/composer-observability"', page_size=1000
        )
    )


def _replay(spool: Spool, endpoint: Endpoint) -> int:
    sink = LoggingSink(endpoint)

    def send(batch: list[dict[str, Any]]) -> dict[int, str]:
        try:
            sink.write(batch, timeout=10)
        except DeliveryError as exc:
            if exc.rejected:
                return exc.rejected
            raise
        return {}

    return spool.replay(send).delivered


def test_ten_thousand_events_from_one_process_are_all_delivered(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    emitter = Emitter(_settings(emulator, project, tmp_path / "spool"))
    for number in range(10_000):
        emitter.emit(_event(number))
    assert emitter.flush(timeout=60)
    assert emitter.stats.delivered == 10_000
    assert emitter.stats.spooled == 0
    stored = _stored(emulator, project)
    assert len(stored) == 10_000
    assert len({entry.insert_id for entry in stored}) == 10_000


@pytest.mark.parametrize("outage", ["down", "hanging"])
def test_outage_spools_then_replay_delivers_exactly_once(
    outage: str, emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    with black_hole() as hanging:
        target = closed_port() if outage == "down" else hanging
        emitter = Emitter(
            _settings(Endpoint(grpc_target=target), project, spool_dir, send_timeout_s=1.0)
        )
        started = time.perf_counter()
        for number in range(300):
            emitter.emit(_event(number))
        enqueue_seconds = time.perf_counter() - started
        emitter.flush(timeout=2.0)
    assert enqueue_seconds < 1.0  # 300 callbacks never waited on the network
    spool = Spool(spool_dir)
    assert spool.pending_entries() == 300
    spooled = [json.loads(line) for path in spool.files() for line in path.read_text().splitlines()]
    assert _replay(spool, emulator) == 300
    assert len(_stored(emulator, project)) == 300
    assert spool.files() == []
    # The same entries once more (say, a crash after sending, before the files were deleted).
    spool.write(spooled)
    assert _replay(spool, emulator) == 300
    assert len(_stored(emulator, project)) == 300


def test_flush_is_bounded_when_logging_hangs(project: str, tmp_path: Path) -> None:
    with black_hole() as hanging:
        emitter = Emitter(
            _settings(
                Endpoint(grpc_target=hanging), project, tmp_path / "spool", send_timeout_s=30.0
            )
        )
        for number in range(10):
            emitter.emit(_event(number))
        time.sleep(0.5)  # the writer is now inside a call that will not return for 30 s
        started = time.perf_counter()
        delivered = emitter.flush(timeout=1.0)
        elapsed = time.perf_counter() - started
    assert not delivered
    assert elapsed < 1.5
    assert Spool(tmp_path / "spool").pending_entries() == 10


def test_a_full_queue_spools_instead_of_dropping(project: str, tmp_path: Path) -> None:
    with black_hole() as hanging:
        emitter = Emitter(
            _settings(
                Endpoint(grpc_target=hanging),
                project,
                tmp_path / "spool",
                queue_size=5,
                send_timeout_s=30.0,
            )
        )
        time.sleep(0.3)
        for number in range(50):
            emitter.emit(_event(number))
        emitter.flush(timeout=0.5)
    assert Spool(tmp_path / "spool").pending_entries() == 50


def _blocked_signals(thread_id: int) -> set[int] | None:
    """The signals a thread of this process blocks, from the kernel's own record (None if the
    thread has ended meanwhile)."""
    try:
        status = Path(f"/proc/self/task/{thread_id}/status").read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    line = next(line for line in status.splitlines() if line.startswith("SigBlk:"))
    mask = int(line.split()[1], 16)
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_our_threads_leave_airflows_signals_to_the_main_thread(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    """A task's execution_timeout is a SIGALRM to the process: if the kernel handed it to one of
    our threads, a task asleep in the main thread would see it only when its sleep ends."""
    import signal
    import threading

    emitter = Emitter(_settings(emulator, project, tmp_path / "spool"))
    emitter.emit(_event(1))
    assert emitter.flush(10.0)
    writer = next(t for t in threading.enumerate() if t.name == "composer-observability-writer")
    ours = [t for t in threading.enumerate() if t.name.startswith("composer-observability")]
    checked = 0
    for thread in ours:
        blocked = _blocked_signals(thread.native_id or 0)
        if blocked is None:  # an earlier test's thread that has just ended
            continue
        checked += thread is writer
        assert {signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD} <= blocked, thread
        assert signal.SIGSEGV not in blocked, "faults stay with the thread that causes them"
    assert checked == 1, "the running writer's mask was read"
    assert signal.SIGALRM not in (_blocked_signals(threading.main_thread().native_id or 0) or {0})
