"""Spooled events reach Cloud Logging (the emulator, through the real client) with nobody
running a command: a burst of short task processes against a late endpoint, a process that ends
before its writer is ready, and a replayer killed mid-replay."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from examples.waiting import wait_for
from observability.emit import handoff
from observability.emit.emitter import Emitter
from observability.emit.entry import EntryTarget, to_entry
from observability.emit.handoff import ENV_LIFETIME, start_replayer
from observability.emit.spool import EVENTS_SUFFIX, Spool
from observability.gcp import Endpoint, logging_client
from observability.settings import Settings
from tests.support.processes import black_hole, late_endpoint
from tests.test_emitter import _event, _stored

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
NOTICE = re.compile(
    r"composer-observability: (\d+) events spooled to (\S+); they will be replayed "
    r"(?:by replayer process (\d+)|by the next writer on this machine)"
)


def _environment(target: str, project: str, spool: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COMPOSER_OBS_EMULATOR": target,
        "COMPOSER_OBS_PROJECT": project,
        "COMPOSER_OBS_SPOOL_DIR": str(spool),
        "PYTHONPATH": str(ROOT),
    }


def _python(env: dict[str, str], module: str, *args: str) -> subprocess.Popen[str]:
    """``python -m module args``: a process of its own, as Airflow and operators run them."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**env, "COLUMNS": "200"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _task(env: dict[str, str], task_id: str, end: str, *work: str) -> subprocess.Popen[str]:
    """A short task process (tests/support/task_process.py) that fails."""
    work = work or ("--work-s", "0.3")
    return _python(env, "tests.support.task_process", "--task-id", task_id, "--end", end, *work)


def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``composer-obs args``: exit status, stdout, stderr."""
    process = _python(env, "observability", *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


class SpoolWatch:
    """Lists the spool folder every 10 ms and remembers which processes wrote files there (a
    file's name carries its writer's pid, claimed or not)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.writers = folder, set[int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            names = os.listdir(self.folder) if self.folder.is_dir() else []
            for name in names:
                match = re.match(r"\.?spool-\d+T\d+-(\d+)-", name)
                if match and not name.endswith(".tmp"):
                    self.writers.add(int(match.group(1)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_a_burst_of_failing_tasks_against_a_late_endpoint_loses_nothing_and_says_so(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    """30 task processes start at once and fail within a second, while the Logging endpoint
    takes no connection for 4 s; half end through atexit, half through logging.shutdown() and
    os._exit. No other process runs after them, and nobody runs a command: the replayer the
    spooling processes leave behind delivers every event, once, and then exits; every process
    that spooled said so in its output."""
    assert emulator.grpc_target is not None
    spool = tmp_path / "spool"
    watch = SpoolWatch(spool)
    with late_endpoint(emulator.grpc_target, ready_after_s=4.0) as target:
        env = {**_environment(target, project, spool), ENV_LIFETIME: "120"}
        burst = [_task(env, f"t{n:02}", "exit" if n % 2 else "os_exit") for n in range(30)]
        outputs = {process.pid: process.communicate(timeout=120) for process in burst}
        assert {process.returncode for process in burst} == {1}  # the task's own exit status
        wait_for(lambda: len(_stored(emulator, project)) >= 60, timeout=120, interval=0.5)
        said = {pid: NOTICE.findall(err) for pid, (_, err) in outputs.items()}
        replayers = {int(pid) for notices in said.values() for _, _, pid in notices if pid}
        wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in replayers), 60, 0.5)
        time.sleep(1.0)  # a duplicate would show up now
    watch.stop()

    stored = _stored(emulator, project)
    assert len(stored) == 60, "every task_started and task_failed of 30 tasks, once"
    assert len({entry.insert_id for entry in stored}) == 60
    assert Spool(spool).files() == []
    assert watch.writers, "with the endpoint late, the burst must have spooled"
    assert watch.writers <= {pid for pid, notices in said.items() if notices}, (
        "a process spooled without saying so"
    )
    for notices in said.values():
        assert len(notices) <= 1, notices
        assert all(folder == str(spool) and 1 <= int(count) <= 2 for count, folder, _ in notices)
    assert replayers, "the first process that spooled left a replayer"


def test_sigterm_during_the_final_flush_waits_for_the_flush(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    """Airflow 2.10 sends SIGTERM to a task process still running two heartbeats after its
    task failed, and the task's handler raises: before, that ended the final flush with
    nothing delivered or spooled. The signal now waits for the flush (here, 2 s against a
    hanging endpoint: everything spooled), then reaches the task's handler."""
    spool = tmp_path / "spool"
    with black_hole() as hanging:
        task = _task(_environment(hanging, project, spool), "t", "terminated")
        out, err = task.communicate(timeout=60)
    assert "task received SIGTERM" in out, out + err
    assert "final flush failed" not in err
    assert [int(count) for count, _, _ in NOTICE.findall(err)] == [2], err
    assert Spool(spool).pending_entries() == 2


def _spooled(project: str, folder: Path, events: int, per_file: int = 500) -> Spool:
    """A spool holding ``events`` entries of the project, in files of ``per_file``."""
    spool = Spool(folder)
    target = EntryTarget(project_id=project, log_name="composer-observability")
    for start in range(0, events, per_file):
        batch = range(start, min(events, start + per_file))
        spool.write([to_entry(_event(n), target, 250_000) for n in batch])
    return spool


def test_a_replayer_delivers_the_spool_exits_and_is_never_doubled(
    emulator: Endpoint, project: str, emulator_env: dict[str, str]
) -> None:
    spool = _spooled(project, Path(emulator_env["COMPOSER_OBS_SPOOL_DIR"]), 30, per_file=10)
    assert start_replayer(spool.directory, lifetime=0) is None  # switched off
    with handoff._replayer_lock(spool.directory) as held:
        assert held
        assert start_replayer(spool.directory, lifetime=60) is None  # one runs: it will look
    pid = start_replayer(spool.directory, lifetime=60)
    assert pid is not None
    started = time.monotonic()
    _, status = os.waitpid(pid, 0)  # our child here; an ending task process's, in Airflow
    assert os.waitstatus_to_exitcode(status) == 0
    assert time.monotonic() - started < 60, "an empty spool ends the replayer"
    assert len(_stored(emulator, project)) == 30
    assert spool.files() == []


def test_a_replayer_killed_mid_replay_loses_and_duplicates_nothing(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    assert emulator.grpc_target is not None
    events = 10_000
    spool = _spooled(project, tmp_path / "spool", events, per_file=5_000)  # killed mid-file
    env = _environment(emulator.grpc_target, project, spool.directory)

    client = logging_client(project, emulator)
    log = f'logName="projects/{project}/logs/composer-observability"'
    first = _python(env, "observability", "spool", "replay")
    wait_for(lambda: list(client.list_entries(filter_=log, max_results=1)), 60, 0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    midway = len(_stored(emulator, project))
    assert 0 < midway < events, "killed mid-replay"
    assert list(spool.directory.glob(".spool-*.replaying-*")), "the killed replay left a claim"

    status, out, err = _cli(env, "spool", "replay", "--output", "json")
    assert status == 0, out + err
    stored = _stored(emulator, project)
    assert len(stored) == events
    assert len({entry.insert_id for entry in stored}) == events
    assert spool.pending_entries() == 0
    assert list(spool.directory.iterdir()) == []


def test_a_process_ending_before_its_writer_is_ready_spools_within_the_bound(
    emulator: Endpoint, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's set-up (settings, schema, client) can take seconds on a busy worker: here
    the settings take 5 s to load. The flush still ends within its bound, saving the events as
    fields; the next writer, once it delivers, replays them with their ids."""
    assert emulator.grpc_target is not None
    spool_dir = tmp_path / "spool"
    monkeypatch.setenv("COMPOSER_OBS_SPOOL_DIR", str(spool_dir))
    settings = Settings(emulator=emulator.grpc_target, project=project, spool_dir=spool_dir)

    def slow_settings() -> Settings:
        time.sleep(5)
        return settings

    starved = Emitter(slow_settings)
    try:
        raise ValueError("password=hunter2 rejected")
    except ValueError as error:
        starved.emit({**_event(1), "event_type": "task_failed", "exception": error})
    starved.emit(_event(2))
    started = time.monotonic()
    delivered = starved.flush(timeout=2.0)
    elapsed = time.monotonic() - started
    assert not delivered
    assert elapsed < 2.2
    [saved] = Spool(spool_dir).files()
    assert saved.name.endswith(EVENTS_SUFFIX)
    assert "hunter2" not in saved.read_text()

    writer = Emitter(settings)
    writer.emit(_event(3))
    assert writer.flush(timeout=30)
    wait_for(lambda: len(_stored(emulator, project)) == 3, timeout=30)
    writer.replay.join(10)
    stored = {entry.payload["task_id"]: entry for entry in _stored(emulator, project)}
    failed = stored["task_1"]
    assert failed.insert_id == failed.payload["event_id"]
    assert failed.payload["exception"]["type"] == "ValueError"
    assert "hunter2" not in str(failed.payload)
    assert Spool(spool_dir).files() == []


def test_the_spool_depth_shows_in_events_list_and_spool_status(
    emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    assert emulator.grpc_target is not None
    spool = _spooled(project, tmp_path / "spool", 3)
    [written] = spool.files()
    duplicate = written.read_text().splitlines()[0]  # and a torn line after it
    torn = spool.directory / "spool-20261123T100000000000-1-torn.jsonl"
    torn.write_text(duplicate + "\n" + '{"logName": "proj\n')
    env = _environment(emulator.grpc_target, project, spool.directory)

    status, listed, err = _cli(env, "events", "list")
    assert status == 0, err
    assert f"5 more events wait in the spool at {spool.directory}" in listed
    assert "5 events in 2 files" in _cli(env, "spool", "status")[1]

    status, replayed, err = _cli(env, "spool", "replay")
    assert status == 0, replayed + err
    assert "delivered 4 events from 2 files" in replayed
    assert "1 unreadable line " in replayed
    after = _cli(env, "spool", "status")[1]
    assert "0 events in 0 files" in after and "1 unreadable line " in after
    listed = _cli(env, "events", "list")[1]
    assert "more events wait" not in listed
    assert listed.count("task_succeeded") == 3  # the duplicate line was stored once
