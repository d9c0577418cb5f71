"""The watchdog's cost: one pass against a real Airflow 3 API server on a real PostgreSQL.

In one run: a private PostgreSQL (``initdb`` in a temporary directory, loopback only), Airflow
3.3.2's schema (``airflow db migrate``), the emulator (Cloud Logging), and an ``airflow
api-server`` (its core app, one worker) on that database, ``[api] maximum_page_limit`` at its
default: 100 (raised to 1,000, Airflow 3.3.2's server crashed at 10,000 DAGs, see
bench/README.md; its batch lists are not capped by it).
``bench/seed_airflow.py`` (run by the Airflow venv's python) grows the database through
Airflow's own models to 100, 1,000 and 10,000 DAGs, each with one run of 5 task instances in
the last 5.5 hours (500, 5,000 and 50,000 in the watchdog's 6-hour window: 2% failed, 98% of
those already reported by callbacks, a few running and queued; 1 DAG in 500 overdue). For
each size:

* **first pass** (twice, each a new ``Watcher`` on a new Cloud Logging project holding the
  callbacks' events for the reported failures): everything in the lookback, the DAGs due by
  their next run (the overdue ones), the paused lists, the baselines of long-running tasks,
  and the reason of each unreported failure;
* **steady state** (2 passes after each first pass): what changed since the previous pass,
  plus what runs and waits;

and for each pass: its wall time, its Airflow API calls and Cloud Logging reads (the
watchdog's own counters), and the CPU seconds of the API server and of PostgreSQL during the
pass (``/proc``, every process of each), where the pass waited (on Airflow requests, on Cloud
Logging), its own CPU and the load average (the machine may be shared); one unmeasured pass
first warms the API server up. The bench's phases are timed. Medians are printed; the target
is a pass over 50,000 task instances under 10 s and under 100 API calls. It ends with one
line ``RESULT key=value ...``.

    .venv/bin/python bench/watchdog.py [--sizes 100,1000,10000] [--firsts 2] [--steady 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from process_cpu import cpu_seconds  # noqa: E402

from examples.airflow_runner import Airflow  # noqa: E402
from observability.child_process import child_process, wait_until_answering  # noqa: E402
from observability.emit.emitter import Emitter  # noqa: E402
from observability.emulator.process import emulator_process, free_port  # noqa: E402
from observability.events import EventType  # noqa: E402
from observability.fingerprint import fingerprint  # noqa: E402
from observability.gcp import Endpoint, logging_client  # noqa: E402
from observability.settings import load_settings  # noqa: E402
from observability.watchdog.config import AirflowAuth, WatchdogConfig  # noqa: E402
from observability.watchdog.facts import Environment  # noqa: E402
from observability.watchdog.runner import Watcher  # noqa: E402

PAGE_LIMIT = 100
ENVIRONMENT = "bench"
LOCATION = "europe-west1"
TARGET_S, TARGET_CALLS = 10.0, 100


# -- the processes -------------------------------------------------------------------------------


@dataclass
class Postgres:
    url: str
    pid: int


@contextmanager
def postgres(work: Path) -> Iterator[Postgres]:
    """A PostgreSQL of its own on 127.0.0.1 (as the ``postgres`` user when run as root)."""
    bin_dir = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    user = "postgres" if os.geteuid() == 0 else None
    root = work / "pg"
    root.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run(
            [str(bin_dir / args[0]), *args[1:]], check=True, user=user, capture_output=True
        )

    run("initdb", "-D", str(data), "-U", "airflow", "--auth=trust", "--no-sync")
    # A throwaway database: no durability, no WAL beyond the minimum, no checkpoint mid-seed.
    options = (
        f"-p {port} -h 127.0.0.1 -k {root} -c max_connections=200 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal "
        "-c max_wal_senders=0 -c max_wal_size=4GB -c shared_buffers=256MB"
    )
    run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield Postgres(f"postgresql+psycopg2://airflow@127.0.0.1:{port}/postgres", pid)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")


def airflow_env(home: Path, database: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
    }


@dataclass
class ApiServer:
    page_limit: int
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def api_server(venv: Path, home: Path, database: str) -> Iterator[ApiServer]:
    """One ``airflow api-server`` (one worker), as a small Composer environment runs it."""
    port = free_port()
    env = {
        **airflow_env(home, database),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": str(PAGE_LIMIT),
    }
    with child_process(
        [str(venv / "bin" / "airflow"), "api-server", "--apps", "core"],
        lambda _: None,
        env=env,
        log=home / "api-server.log",
    ) as process:
        server = ApiServer(PAGE_LIMIT, f"http://127.0.0.1:{port}", process)
        wait_until_answering(process, f"{server.url}/api/v2/version", "api-server", 240, 0.2)
        yield server


@contextmanager
def seeder(venv: Path, home: Path, database: str, sizes: list[int]) -> Iterator[Any]:
    """``seed_airflow.py``, one step per size; ``next_step(size)`` waits for a step's summary."""
    out = home / "seeded"
    out.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))},
        **airflow_env(home, database),
    }
    command = [str(venv / "bin" / "python"), str(ROOT / "bench" / "seed_airflow.py")]
    with (home / "seed.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--sizes", ",".join(map(str, sizes)), "--out", str(out)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    assert process.stdin is not None
    stdin = process.stdin

    def next_step(size: int) -> dict[str, Any]:
        stdin.write(b"\n")
        stdin.flush()
        path = out / f"{size}.json"
        while not path.exists():
            if process.poll() is not None:
                tail = (home / "seed.log").read_text()[-3000:]
                raise RuntimeError(f"seed_airflow.py exited {process.returncode}:\n{tail}")
            time.sleep(0.1)
        return dict(json.loads(path.read_text()))

    try:
        yield next_step
    finally:
        stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- what callbacks already said -----------------------------------------------------------------


def write_callback_events(project: str, seeded: list[dict[str, Any]]) -> int:
    """The events our callbacks wrote for the failures they saw: ``task_failed`` for the try
    and ``dag_run_failed`` for its run, through the callbacks' own writer."""
    emitter = Emitter(
        lambda: load_settings(project=project, location=LOCATION, environment_name=ENVIRONMENT)
    )
    count = 0
    for step in seeded:
        for failed in step["failed_tries"]:
            if not failed["reported"]:
                continue
            end = datetime.fromisoformat(failed["end_date"])
            common = {
                "timestamp": end,
                "project_id": project,
                "location": LOCATION,
                "environment_name": ENVIRONMENT,
                "dag_id": failed["dag_id"],
                "run_id": failed["run_id"],
                "detected_by": "listener",
            }
            message = "Bash command failed. The command returned a non-zero exit code 1."
            emitter.emit(
                {
                    **common,
                    "event_type": EventType.TASK_FAILED.value,
                    "task_id": failed["task_id"],
                    "map_index": failed["map_index"],
                    "try_number": failed["try_number"],
                    "state": "failed",
                    "exception": {
                        "type": "airflow.exceptions.AirflowException",
                        "message": message,
                        "fingerprint": fingerprint("AirflowException", message),
                    },
                }
            )
            emitter.emit(
                {
                    **common,
                    "event_type": EventType.DAG_RUN_FAILED.value,
                    "state": "failed",
                    "reason": "task_failure",
                    "failed_task_ids": [failed["task_id"]],
                }
            )
            count += 2
    if not emitter.flush(120):
        raise RuntimeError("the callbacks' events were not all delivered")
    emitter.close()
    return count


# -- passes --------------------------------------------------------------------------------------


@dataclass
class Pass:
    seconds: float
    airflow_calls: int
    logging_calls: int
    api_cpu_s: float
    db_cpu_s: float
    written: int
    overdue: int
    """The ``dag_run_late`` events (overdue next runs) the pass wrote."""
    airflow_wait_s: float
    """The pass's wall time spent with at least one Airflow request in flight."""
    logging_wait_s: float
    """The pass's wall time spent reading Cloud Logging (what was said)."""
    watchdog_cpu_s: float
    """The CPU the watchdog's own process used during the pass (parsing, deciding)."""
    load: float
    """The machine's 1-minute load average at the end of the pass (it is shared)."""


@dataclass
class Measured:
    first: list[Pass] = field(default_factory=list)
    steady: list[Pass] = field(default_factory=list)
    failure: str | None = None
    """Why the passes stopped (the API server died), if they did."""


class ServerDied(RuntimeError):
    pass


class Waits:
    """Where a watcher's pass waits: wall time with an Airflow request in flight (concurrent
    requests count once), and reading Cloud Logging."""

    def __init__(self, watcher: Watcher) -> None:
        self.airflow_s = self.logging_s = 0.0
        self._lock = threading.Lock()
        self._in_flight = 0
        self._since = 0.0
        request, said = watcher.api._request, watcher.reporter.said

        def timed_request(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            try:
                return request(*args, **kwargs)
            finally:
                self._leave()

        def timed_said(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return said(*args, **kwargs)
            finally:
                self.logging_s += time.monotonic() - started

        watcher.api._request = timed_request  # type: ignore[method-assign]
        watcher.reporter.said = timed_said  # type: ignore[method-assign]

    def _enter(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._since = time.monotonic()
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.airflow_s += time.monotonic() - self._since

    def take(self) -> tuple[float, float]:
        taken = self.airflow_s, self.logging_s
        self.airflow_s = self.logging_s = 0.0
        return taken


def measure_pass(watcher: Watcher, waits: Waits, server: ApiServer, database: Postgres) -> Pass:
    api_before, db_before = cpu_seconds(server.process.pid), cpu_seconds(database.pid)
    own_before = time.process_time()
    report = watcher.run_pass()
    own = time.process_time() - own_before
    airflow_wait, logging_wait = waits.take()
    if report.error:
        code = server.process.poll()
        if code is not None:
            name = signal.Signals(-code).name if code < 0 else f"exit code {code}"
            raise ServerDied(f"api-server died ({name}): {report.error}")
        raise RuntimeError(f"the pass failed: {report.error}")
    return Pass(
        seconds=report.seconds,
        airflow_calls=report.airflow_calls,
        logging_calls=report.logging_calls,
        api_cpu_s=cpu_seconds(server.process.pid) - api_before,
        db_cpu_s=cpu_seconds(database.pid) - db_before,
        written=sum(report.written.values()),
        overdue=report.written["dag_run_late"],
        airflow_wait_s=airflow_wait,
        logging_wait_s=logging_wait,
        watchdog_cpu_s=own,
        load=os.getloadavg()[0],
    )


def measure(
    endpoint: Endpoint,
    server: ApiServer,
    database: Postgres,
    seeded: list[dict[str, Any]],
    firsts: int,
    steady: int,
) -> Measured:
    measured = Measured()
    if server.process.poll() is not None:
        measured.failure = "api-server died earlier"
        return measured
    config = WatchdogConfig.model_validate(
        {"airflow": [{"name": ENVIRONMENT, "url": server.url, "location": LOCATION}]}
    )
    for _ in range(firsts):
        project = f"bench-{uuid.uuid4().hex[:10]}"
        write_callback_events(project, seeded)
        environment = Environment(ENVIRONMENT, server.url, project, LOCATION)
        reader = logging_client(project, endpoint)
        watcher = Watcher(environment, config, AirflowAuth(kind="none"), reader, project)
        waits = Waits(watcher)
        try:
            measured.first.append(measure_pass(watcher, waits, server, database))
            for _ in range(steady):
                measured.steady.append(measure_pass(watcher, waits, server, database))
        except ServerDied as exc:
            measured.failure = str(exc)
            return measured
        finally:
            watcher.close()
    return measured


def _median(passes: list[Pass], name: str) -> float:
    return float(statistics.median(getattr(one, name) for one in passes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="DAGs (5 task instances each)")
    parser.add_argument("--firsts", type=int, default=2, help="first passes per size")
    parser.add_argument("--steady", type=int, default=2, help="steady passes after each first")
    parser.add_argument(
        "--airflow-venv", type=Path, default=ROOT / ".venvs" / "airflow-3.3.2", help="Airflow 3"
    )
    args = parser.parse_args()
    # Stopped from outside (a timeout, Ctrl-C): still stop every process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(size) for size in args.sizes.split(",")]
    venv = args.airflow_venv.resolve()
    started = time.monotonic()
    phases = Phases()
    work = Path(tempfile.mkdtemp(prefix="bench-watchdog-"))
    os.chmod(work, 0o755)  # PostgreSQL's user must reach its directory
    results: dict[int, Measured] = {}
    seeded_counts: dict[int, dict[str, Any]] = {}
    try:
        with postgres(work) as database:
            phases.mark("setup", "PostgreSQL")
            home = work / "airflow"
            (home / "dags").mkdir(parents=True)
            url = database.url
            os.environ["COMPOSER_OBS_SPOOL_DIR"] = str(work / "spool")
            # The seeder imports Airflow while the schema is made; it waits for its first step.
            with seeder(venv, home, url, sizes) as next_step:
                Airflow(venv, home, home / "dags", airflow_env(home, url)).migrate()
                phases.mark("setup", "airflow db migrate")
                with (
                    emulator_process(work / "emulator") as endpoint,
                    api_server(venv, home, url) as server,
                ):
                    os.environ["COMPOSER_OBS_EMULATOR"] = str(endpoint.grpc_target)
                    phases.mark("setup", "the emulator and the API server")
                    seeded: list[dict[str, Any]] = []
                    for size in sizes:
                        seeded.append(next_step(size))
                        phases.mark("seeding", f"{size} DAGs")
                        tries = sum(step["task_instances"] for step in seeded)
                        states: dict[str, int] = {}
                        for step in seeded:
                            for state, count in step["states"].items():
                                states[state] = states.get(state, 0) + count
                        seeded_counts[size] = {
                            "task_instances": tries,
                            "states": states,
                            "overdue": sum(step.get("overdue", 0) for step in seeded),
                        }
                        print(f"{size} DAGs: {tries} task instances {states}", flush=True)
                        if size == sizes[0]:
                            # The API server's first requests pay its lazy imports: not a pass's.
                            warm_up = measure(endpoint, server, database, seeded, 1, 0)
                            phases.mark("passes", f"warm-up pass ({_seconds(warm_up)})")
                        results[size] = measure(
                            endpoint, server, database, seeded, args.firsts, args.steady
                        )
                        phases.mark("passes", f"{size} DAGs")
                        print(_row(size, results[size]), flush=True)
            database_cpu = cpu_seconds(database.pid)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # What the run cost the machine, whatever else shares it: this process, every child it
    # waited for (Airflow, the seeder, the emulator) and PostgreSQL (a daemon of pg_ctl's).
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + database_cpu
    _summary(sizes, results, seeded_counts, phases, time.monotonic() - started, cpu)


class Phases:
    """The bench's own time, by phase (it must run in under 5 minutes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, phase: str, step: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        print(f"[{phase}] {step}: {now - self._last:.1f} s", flush=True)
        self._last = now


def _seconds(measured: Measured) -> str:
    return measured.failure or f"{measured.first[0].seconds:.1f} s"


def _row(size: int, measured: Measured) -> str:
    if not measured.first or not measured.steady:
        return f"{size:>6} DAGs | {measured.failure}"
    cells = []
    for passes in (measured.first, measured.steady):
        cells.append(
            f"{_median(passes, 'seconds'):6.2f} s {_median(passes, 'airflow_calls'):5.0f} calls "
            f"{_median(passes, 'logging_calls'):2.0f} reads "
            f"api {_median(passes, 'api_cpu_s'):5.2f} s db {_median(passes, 'db_cpu_s'):5.2f} s "
            f"(waits: airflow {_median(passes, 'airflow_wait_s'):5.2f} s logging "
            f"{_median(passes, 'logging_wait_s'):4.2f} s; watchdog cpu "
            f"{_median(passes, 'watchdog_cpu_s'):4.2f} s)"
        )
    loads = [one.load for one in measured.first + measured.steady]
    return (
        f"{size:>6} DAGs | first: {cells[0]} | steady: {cells[1]} | "
        f"load {min(loads):.1f}-{max(loads):.1f}"
    )


def _summary(
    sizes: list[int],
    results: dict[int, Measured],
    seeded: dict[int, dict[str, Any]],
    phases: Phases,
    elapsed: float,
    cpu: float,
) -> None:
    print()
    print("medians; first pass: the lookback, the DAGs due, pauses, baselines and reasons;")
    print("steady: the next passes (what changed, what runs and waits)")
    for size in sizes:
        print(_row(size, results[size]))
    largest = sizes[-1]
    measured = results[largest]
    fields = [f"tis={seeded[largest]['task_instances']}"]
    if not measured.first or not measured.steady:
        print(f"target: not measured ({measured.failure})")
        fields.append("failed=api_server_died")
    else:
        for label, passes in (("first", measured.first), ("steady", measured.steady)):
            seconds, calls = _median(passes, "seconds"), _median(passes, "airflow_calls")
            met = seconds < TARGET_S and calls < TARGET_CALLS
            print(
                f"target at {seeded[largest]['task_instances']} task instances, {label} pass "
                f"(< {TARGET_S:.0f} s and < {TARGET_CALLS} calls): {'met' if met else 'not met'}"
            )
            fields += [
                f"{label}_s={seconds:.2f}",
                f"{label}_calls={calls:.0f}",
                f"{label}_api_cpu_s={_median(passes, 'api_cpu_s'):.2f}",
                f"{label}_met={'yes' if met else 'no'}",
            ]
    if measured.first:
        # Each first pass writes to a Cloud Logging of its own: every overdue DAG, anew.
        found = min(one.overdue for one in measured.first)
        print(f"overdue DAGs found by every first pass: {found} of {seeded[largest]['overdue']}")
        fields += [f"overdue_found={found}", f"overdue={seeded[largest]['overdue']}"]
    fields += [f"{phase}_s={seconds:.0f}" for phase, seconds in phases.seconds.items()]
    fields.append(f"elapsed_s={elapsed:.0f}")
    fields.append(f"cpu_s={cpu:.0f}")
    fields.append(f"load={os.getloadavg()[0]:.1f}")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
