"""Seed an Airflow 3 metadata database for ``bench/watchdog.py``, through Airflow's own models.

Run with the Airflow venv's python (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, ``AIRFLOW_HOME``
and ``AIRFLOW__CORE__DAGS_FOLDER`` set). It grows the database in steps, to each size of
``--sizes`` in turn (DAGs ``0`` to ``size``); after each step it writes ``SIZE.json`` into
``--out``; it waits for a line on its standard input before each step, so the benchmark
measures every size against one database and pays Airflow's import once. A step:

* writes DAG files (100 DAGs of 5 tasks a file) into the DAG folder; has Airflow parse and
  store the very first file as the DAG processor does (``BundleDagBag`` + ``sync_bag_to_db``:
  ``dag``, ``dag_tag``, ``dag_version``, ``serialized_dag``, ``dag_code`` rows), once, and
  copies those rows for the DAGs of every other file (the same DAGs but for their ids and
  files; the serialized DAG and the source with their own hashes, Airflow's hash computed
  from the template's sorted text): Airflow's own path costs ~25 ms of CPU a DAG, minutes for
  10,000;
* inserts one scheduled run per DAG in the last 5.5 hours and its 5 task instances, in bulk
  through the ``DagRun`` and ``TaskInstance`` tables, in a mix a busy environment shows: 10%
  of runs failed (one failed try, its downstream tasks ``upstream_failed``: 2% of the tries),
  5% running, 2.5% with a try queued, the rest successful; 1 running try in 10 runs past the
  watchdog's anomaly floor (10 min), 1 queued try in 20 waits past its stuck limit (15 min);
  1 DAG in 20 is paused;
* writes each failed try's log file where the API server reads it (the task's records, then
  the supervisor's; the unreported ones end in a SIGKILL);
* moves each DAG's next run into the next hour, as the scheduler does after creating a run,
  but for 1 DAG in 500, whose next run was due 2 hours ago and never created (overdue).

``SIZE.json``: the counts by state and the failed tries and runs, each with whether a
callback reported it (98% did), for the benchmark to write the callbacks' events.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TASKS = ("extract", "validate", "transform", "load", "publish")
DAGS_PER_FILE = 100
REPORTED_SHARE = 0.98
PAUSED_EVERY = 20
OVERDUE_EVERY = 500
INSERT_BATCH = 5000

DAG_FILE = '''"""Benchmark DAGs {first} to {last}: 5 tasks in a chain, owned by a team."""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

for number in range({first}, {last}):
    with DAG(
        f"bench_{{number:05d}}",
        schedule=timedelta(hours=1),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        dagrun_timeout=timedelta(hours=2),
        default_args={{"owner": f"team{{number % 10}}", "retries": 0}},
        tags=[f"team:team{{number % 10}}"],
    ):
        previous = None
        for task_id in {tasks!r}:
            task = BashOperator(task_id=task_id, bash_command="sleep 30")
            if previous is not None:
                previous >> task
            previous = task
'''


def _dag_id(number: int) -> str:
    return f"bench_{number:05d}"


def _write_dags(folder: Path, first: int, last: int) -> list[Path]:
    """DAG files of 100 DAGs each, for DAGs ``first`` to ``last`` (multiples of 100)."""
    files = []
    for start in range(first, last, DAGS_PER_FILE):
        path = folder / f"bench_dags_{start:05d}.py"
        path.write_text(DAG_FILE.format(first=start, last=start + DAGS_PER_FILE, tasks=TASKS))
        files.append(path)
    return files


def _parse_and_store(folder: Path, path: Path) -> None:
    """What the DAG processor does with a file: parse it, serialize and store its DAGs."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    bag = BundleDagBag(path, bundle_path=folder, bundle_name="dags-folder")
    if bag.import_errors or len(bag.dags) != DAGS_PER_FILE:
        raise SystemExit(f"{path}: {len(bag.dags)} DAGs, {bag.import_errors}")
    timetable = type(next(iter(bag.dags.values())).timetable).__name__
    if timetable != "DeltaTriggerTimetable":  # what _seed_runs's next runs assume
        raise SystemExit(f"{path}: a {timetable}, not Airflow 3's DeltaTriggerTimetable")
    with create_session() as session:
        sync_bag_to_db(bag, "dags-folder", None, session=session)


def _copy_parsed(template: Path, files: list[Path]) -> None:
    """The rows Airflow stored for the DAGs of ``template``, copied for those of ``files``.

    DAG ``n`` of a file is DAG ``n % 100`` of the template with another id and file (the
    team, from ``n % 10``, is the same); every id, hash and file reference is its own."""
    from airflow.models import DagModel, DagTag
    from airflow.models.dag_version import DagVersion
    from airflow.models.dagcode import DagCode
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select
    from uuid6 import uuid7

    first = int(template.stem.rsplit("_", 1)[1])
    templates = [_dag_id(first + offset) for offset in range(DAGS_PER_FILE)]
    models = (DagModel, DagTag, DagVersion, SerializedDagModel, DagCode)
    with create_session() as session:
        stored = {
            model: [
                dict(row._mapping)
                for row in session.execute(
                    select(model.__table__).where(model.__table__.c.dag_id.in_(templates))
                )
            ]
            for model in models
        }
    hash_texts = {row["dag_id"]: _hash_text(row["data"]) for row in stored[SerializedDagModel]}
    # A JSON value is renamed as text: dumped once here, not once a copy.
    dumped = {
        (model, index, key): json.dumps(value)
        for model in models
        for index, row in enumerate(stored[model])
        for key, value in row.items()
        if isinstance(value, dict)
    }
    rows: dict[Any, list[dict[str, Any]]] = {model: [] for model in models}
    for path in files:
        start = int(path.stem.rsplit("_", 1)[1])
        source = path.read_text()
        source_hash = DagCode.dag_source_hash(source)

        def renamed(text: str, old: str, new: str, path: Path = path) -> str:
            return text.replace(old, new).replace(template.name, path.name)

        copies: dict[Any, list[dict[str, Any]]] = {model: [] for model in models}
        hashed: dict[str, str] = {}
        for model in models:
            for index, row in enumerate(stored[model]):
                offset = int(row["dag_id"].rsplit("_", 1)[1]) - first
                old, new = row["dag_id"], _dag_id(start + offset)
                copy = {
                    key: json.loads(renamed(dumped[model, index, key], old, new))
                    if isinstance(value, dict)
                    else renamed(value, old, new)
                    if isinstance(value, str)
                    else value
                    for key, value in row.items()
                }
                if model is DagVersion:
                    copy["id"] = uuid7()
                if model is SerializedDagModel:
                    text = renamed(hash_texts[old], old, new)
                    hashed[new] = hashlib.md5(text.encode("utf-8")).hexdigest()
                copies[model].append(copy)
        versions = {row["dag_id"]: row["id"] for row in copies[DagVersion]}
        for row in copies[SerializedDagModel]:
            row.update(
                id=uuid7(),
                dag_version_id=versions[row["dag_id"]],
                dag_hash=hashed[row["dag_id"]],
            )
        for row in copies[DagCode]:
            row.update(
                id=uuid7(),
                dag_version_id=versions[row["dag_id"]],
                source_code=source,
                source_code_hash=source_hash,
            )
        for model in models:
            rows[model].extend(copies[model])
    with create_session() as session:  # one transaction, a few large statements a table
        for model in models:
            for start in range(0, len(rows[model]), INSERT_BATCH):
                session.execute(insert(model.__table__), rows[model][start : start + INSERT_BATCH])


def _hash_text(data: dict[str, Any]) -> str:
    """What ``SerializedDagModel.hash`` digests, once per template: a copy differs from its
    template by its DAG id and file name only, which sort the same."""
    from airflow.models.serialized_dag import SerializedDagModel

    ordered = SerializedDagModel._sort_serialized_dag_dict(data)
    kept = {**ordered, "dag": {k: v for k, v in ordered["dag"].items() if k != "fileloc"}}
    return json.dumps(kept, sort_keys=True)


def _kind(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.10:
        return "failed"
    if draw < 0.15:
        return "running"
    if draw < 0.175:
        return "queued"
    return "success"


def _seed_runs(first: int, last: int, now: datetime, seed: int) -> dict[str, Any]:
    from airflow.models import DagModel, DagRun, TaskInstance
    from airflow.models.dag_version import DagVersion
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select, update

    rng = random.Random(seed * 1_000_003 + first)
    dag_ids = [_dag_id(number) for number in range(first, last)]
    with create_session() as session:
        versions = dict(
            session.execute(
                select(DagVersion.dag_id, DagVersion.id).where(DagVersion.dag_id.in_(dag_ids))
            ).all()
        )
    runs: list[dict[str, Any]] = []
    tries: list[dict[str, Any]] = []
    failed_tries: list[dict[str, Any]] = []
    failed_runs: list[dict[str, Any]] = []
    for dag_id in dag_ids:
        kind = _kind(rng)
        logical = (now - timedelta(minutes=rng.uniform(20, 330))).replace(
            minute=0, second=0, microsecond=0
        )
        started = logical + timedelta(hours=1, seconds=rng.uniform(1, 30))
        run_id = f"scheduled__{logical.isoformat()}"
        reported = rng.random() < REPORTED_SHARE
        at = started
        end: datetime | None = None
        failing = rng.randrange(len(TASKS)) if kind == "failed" else -1
        waiting = rng.randrange(len(TASKS)) if kind in ("running", "queued") else -1
        if kind in ("running", "queued"):
            # Its current try began a few minutes ago (1 in 10 past the 10-minute anomaly
            # floor, 1 in 20 queued past the 15-minute stuck limit): earlier tries fit before.
            if kind == "running":
                minutes = rng.uniform(12, 40) if rng.random() < 0.1 else rng.uniform(1, 8)
            else:
                minutes = rng.uniform(16, 30) if rng.random() < 0.05 else rng.uniform(0.5, 5)
            at = now - timedelta(minutes=minutes) - timedelta(seconds=60 * (waiting + 1))
            started = at
        for index, task_id in enumerate(TASKS):
            row: dict[str, Any] = {
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": task_id,
                "map_index": -1,
                "try_number": 1,
                "max_tries": 0,
                "pool": "default_pool",
                "pool_slots": 1,
                "queue": "default",
                "priority_weight": len(TASKS) - index,
                "operator": "BashOperator",
                "custom_operator_name": "BashOperator",
                "hostname": "127.0.0.1",
                "unixname": "airflow",
                "executor": "LocalExecutor",
                "dag_version_id": versions[dag_id],
                "state": None,
                "start_date": None,
                "end_date": None,
                "duration": None,
                "scheduled_dttm": None,
                "queued_dttm": None,
                "updated_at": at,
            }
            if kind == "failed" and index > failing:
                row.update(state="upstream_failed", end_date=end, updated_at=end)
            elif kind in ("running", "queued") and index > waiting:
                row.update(try_number=0, updated_at=started)
            elif kind == "running" and index == waiting:
                at = now - timedelta(minutes=minutes)
                row.update(
                    state="running",
                    scheduled_dttm=at - timedelta(seconds=2),
                    queued_dttm=at - timedelta(seconds=1),
                    start_date=at,
                    updated_at=now - timedelta(seconds=rng.uniform(0, 5)),
                )
            elif kind == "queued" and index == waiting:
                at = now - timedelta(minutes=minutes)
                row.update(
                    state="queued",
                    scheduled_dttm=at - timedelta(seconds=1),
                    queued_dttm=at,
                    updated_at=at,
                )
            else:
                duration = rng.uniform(20, 50)
                end = at + timedelta(seconds=duration)
                state = "failed" if index == failing else "success"
                row.update(
                    state=state,
                    scheduled_dttm=at - timedelta(seconds=2),
                    queued_dttm=at - timedelta(seconds=1),
                    start_date=at,
                    end_date=end,
                    duration=duration,
                    updated_at=end,
                )
                if state == "failed":
                    failed_tries.append(
                        {
                            "dag_id": dag_id,
                            "run_id": run_id,
                            "task_id": task_id,
                            "map_index": -1,
                            "try_number": 1,
                            "end_date": end.isoformat(),
                            "reported": reported,
                        }
                    )
                at = end + timedelta(seconds=rng.uniform(1, 5))
            tries.append(row)
        run_state = {"failed": "failed", "success": "success"}.get(kind, "running")
        run_end = end if run_state != "running" else None
        runs.append(
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "run_type": "scheduled",
                "state": run_state,
                "logical_date": logical,
                "run_after": logical + timedelta(hours=1),
                "data_interval_start": logical,
                "data_interval_end": logical + timedelta(hours=1),
                "queued_at": started - timedelta(seconds=1),
                "start_date": started,
                "end_date": run_end,
                "updated_at": run_end or now,
                "created_at": started - timedelta(seconds=1),
                "clear_number": 0,
                "conf": {},
                "triggered_by": "TIMETABLE",
                "created_dag_version_id": versions[dag_id],
                "bundle_version": None,
            }
        )
        if run_state == "failed":
            failed_runs.append(
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "end_date": run_end.isoformat() if run_end else None,
                    "reported": reported,
                }
            )
    with create_session() as session:
        for start in range(0, len(runs), INSERT_BATCH):
            session.execute(insert(DagRun.__table__), runs[start : start + INSERT_BATCH])
        for start in range(0, len(tries), INSERT_BATCH):
            session.execute(insert(TaskInstance.__table__), tries[start : start + INSERT_BATCH])
        # The scheduler moves the DAG's next run forward when it creates one; 1 DAG in 20 was
        # paused by its team since (Airflow starts DAGs paused: the others were unpaused).
        # Airflow 3 makes ``schedule=timedelta(hours=1)`` a DeltaTriggerTimetable ([scheduler]
        # create_delta_data_intervals = False): the next run's logical date is when it runs.
        next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        session.execute(
            update(DagModel)
            .where(DagModel.dag_id.in_(dag_ids))
            .values(
                is_paused=DagModel.dag_id.in_(dag_ids[PAUSED_EVERY - 1 :: PAUSED_EVERY]),
                next_dagrun=next_hour,
                next_dagrun_data_interval_start=next_hour,
                next_dagrun_data_interval_end=next_hour,
                next_dagrun_create_after=next_hour,
            )
        )
        overdue = dag_ids[::OVERDUE_EVERY]
        two_hours_ago = now.replace(microsecond=0) - timedelta(hours=2)
        session.execute(
            update(DagModel)
            .where(DagModel.dag_id.in_(overdue))
            .values(
                is_paused=False,
                next_dagrun=two_hours_ago,
                next_dagrun_data_interval_start=two_hours_ago,
                next_dagrun_data_interval_end=two_hours_ago,
                next_dagrun_create_after=two_hours_ago,
            )
        )
    states: dict[str, int] = {}
    for row in tries:
        state = str(row["state"] or "none")
        states[state] = states.get(state, 0) + 1
    return {
        "dags": len(dag_ids),
        "task_instances": len(tries),
        "states": states,
        "failed_tries": failed_tries,
        "failed_runs": failed_runs,
        "overdue": len(overdue),
    }


def _write_log(folder: Path, failed: dict[str, Any]) -> None:
    """A failed try's log, as Airflow 3's task runner and supervisor write it (JSON lines)."""
    path = (
        folder
        / f"dag_id={failed['dag_id']}"
        / f"run_id={failed['run_id']}"
        / f"task_id={failed['task_id']}"
        / "attempt=1.log"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    end = failed["end_date"]
    records = [
        {"timestamp": end, "level": "info", "event": "Tmp dir root location: /tmp"},
        {"timestamp": end, "level": "info", "event": "Running command: ['bash', '-c', 'sleep 30']"},
    ]
    if failed["reported"]:
        records.append(
            {
                "timestamp": end,
                "level": "error",
                "event": "Task failed with exception",
                "error_detail": [
                    {
                        "exc_type": "AirflowException",
                        "exc_value": "Bash command failed",
                        "frames": [],
                    }
                ],
            }
        )
    else:
        records.append(
            {
                "timestamp": end,
                "level": "warning",
                "event": "Process exited abnormally",
                "exit_code": -9,
                "signal": "SIGKILL",
                "logger": "supervisor",
            }
        )
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="DAGs after each step.")
    parser.add_argument("--out", type=Path, required=True, help="Where SIZE.json files go.")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    from airflow.configuration import conf

    # Airflow's heavy imports before the first step: while the benchmark makes the schema.
    for module in ("airflow.models", "airflow.dag_processing.dagbag"):
        importlib.import_module(module)
    dags_folder = Path(conf.get("core", "dags_folder"))
    log_folder = Path(conf.get("logging", "base_log_folder"))
    sizes = [int(size) for size in args.sizes.split(",")]
    first = 0
    template: Path | None = None
    for size in sizes:
        if size % DAGS_PER_FILE or size <= first:
            raise SystemExit("--sizes: increasing multiples of 100")
        if not sys.stdin.readline():
            return  # the benchmark is gone
        now = datetime.now(timezone.utc)
        files = _write_dags(dags_folder, first, size)
        if template is None:
            template, files = files[0], files[1:]
            _parse_and_store(dags_folder, template)
        _copy_parsed(template, files)
        summary = _seed_runs(first, size, now, args.seed)
        for failed in summary["failed_tries"]:
            _write_log(log_folder, failed)
        written = args.out / f"{size}.partial"
        written.write_text(json.dumps(summary))
        written.rename(args.out / f"{size}.json")
        first = size


if __name__ == "__main__":
    main()
