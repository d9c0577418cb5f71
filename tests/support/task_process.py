"""A stand-in for one Airflow task process, run as ``python -m tests.support.task_process``.

It does what a short task does with our callbacks: ``import callbacks``, the start callback,
a little work, the failure callback, then the end of the process the way Airflow ends it:
``exit`` returns normally (atexit runs, as in Airflow 3's task runner and ``airflow dags
test``); ``os_exit`` calls ``logging.shutdown()`` and ``os._exit`` (Airflow 2's forked task
runner); ``terminated`` does the same, but SIGTERM comes half a second into the shutdown, and
the task's SIGTERM handler raises, as Airflow 2.10's ``LocalTaskJob`` and task do to a task
that is still running two heartbeats after it failed. The context carries the attributes
Airflow's task instance, task, DAG and DAG run have, so the callbacks do the same work they do
in Airflow.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import callbacks


def task_context(dag_id: str, task_id: str, run_id: str) -> dict[str, Any]:
    """A failure callback's context: what ``callbacks.context`` reads from Airflow's."""
    dag = SimpleNamespace(dag_id=dag_id, tags=["team:spool"], owner="data-eng")
    task = SimpleNamespace(task_id=task_id, owner="data-eng", retries=0, dag=dag)
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=-1,
        try_number=1,
        max_tries=0,
        state="running",
        start_date=datetime.now(timezone.utc),
        hostname="worker-1",
        task=task,
    )
    dag_run = SimpleNamespace(run_id=run_id, run_type="manual", dag_id=dag_id)
    return {"dag": dag, "task": task, "ti": ti, "task_instance": ti, "dag_run": dag_run}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dag-id", default="spool_burst")
    parser.add_argument("--task-id", required=True)
    parser.add_argument("--run-id", default="manual__burst")
    parser.add_argument("--work-s", type=float, default=0.3)
    parser.add_argument("--until", type=Path, help="work at most --work-s, ending once this exists")
    parser.add_argument("--end", choices=["exit", "os_exit", "terminated"], default="exit")
    args = parser.parse_args()

    context = task_context(args.dag_id, args.task_id, args.run_id)
    callbacks.on_execute(context)
    deadline = time.monotonic() + args.work_s
    while time.monotonic() < deadline and not (args.until and args.until.exists()):
        time.sleep(min(0.1, args.work_s))
    try:
        raise RuntimeError(f"{args.task_id} failed on purpose")
    except RuntimeError as error:
        context["exception"] = error
        context["ti"].state = "failed"
        callbacks.on_failure(context)
    print(f"task {args.task_id} done at {time.time()}", flush=True)
    if args.end == "terminated":
        signal.signal(signal.SIGTERM, _raise_terminated)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    if args.end in ("os_exit", "terminated"):
        try:
            logging.shutdown()
        except BaseException as exc:  # noqa: BLE001 - as Airflow's forked runner does
            print(f"shutdown ended by {exc!r}", flush=True)
        os._exit(1)
    raise SystemExit(1)


class TaskTerminated(Exception):
    """What Airflow 2.10's task raises on SIGTERM (``AirflowTaskTerminated``)."""


def _raise_terminated(signum: int, frame: object) -> None:
    print("task received SIGTERM", flush=True)
    raise TaskTerminated("Task received SIGTERM signal")


if __name__ == "__main__":
    main()
