"""The offline demo (``make demo``): real Airflow DAGs, events in a local Cloud Logging.

It starts the emulator and a stand-in payments API in a temporary folder, runs the example
DAGs with ``airflow dags test`` in the Airflow virtual environment that ``make`` built, then
reads the events back through ``google.cloud.logging.Client.list_entries`` and prints them.
Every process it starts is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from examples.airflow_runner import EXAMPLE_DAGS, Airflow, airflow_venvs
from examples.payments_service import PaymentsService
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint, logging_client

DAGS = ("obs_example_success", "obs_example_failure")
console = Console(width=None if sys.stdout.isatty() else 150)


def _airflow_venv() -> Path:
    named = os.environ.get("AIRFLOW_VENV")
    if named:
        return Path(named).resolve()
    venvs = airflow_venvs()
    if not venvs:
        sys.exit("no Airflow environment: run `make demo` (it builds one in .venvs/)")
    return venvs[-1]


def _detail(payload: dict[str, Any]) -> str:
    if "exception" in payload:
        exception = payload["exception"]
        return f"{exception['type']}: {exception['message'][:70]}"
    if "third_party" in payload:
        call = payload["third_party"]
        status = f" {int(call['status_code'])}" if call.get("status_code") else ""
        return (
            f"{call['service']}.{call['operation']} -> {call['outcome']}{status} "
            f"in {call['latency_ms']:.0f} ms"
        )
    if payload.get("failed_task_ids"):
        return f"failed tasks: {', '.join(payload['failed_task_ids'])} ({payload.get('reason')})"
    if payload.get("next_try_at"):
        return f"next try at {payload['next_try_at'][11:19]}"
    return str(payload.get("reason") or "")


def _story(endpoint: Endpoint, project: str) -> None:
    client = logging_client(project, endpoint)
    entries = list(
        client.list_entries(
            filter_=f'logName="projects/{project}/logs/composer-observability"',
            order_by="timestamp asc",
            page_size=1000,
        )
    )
    table = Table(title="Events read back through google.cloud.logging (list_entries)")
    for column in ("time", "severity", "event", "dag", "task", "try", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"ERROR": "red", "WARNING": "yellow", "NOTICE": "cyan"}
    for entry in entries:
        payload = entry.payload
        colour = colours.get(entry.severity or "", "")
        table.add_row(
            entry.timestamp.strftime("%H:%M:%S.%f")[:-3] if entry.timestamp else "",
            f"[{colour}]{entry.severity}[/]" if colour else str(entry.severity),
            str(payload["event_type"]),
            str(payload.get("dag_id", "")),
            str(payload.get("task_id", "")),
            str(int(payload["try_number"])) if payload.get("try_number") else "",
            _detail(payload),
        )
    console.print(table)
    counts = Counter(entry.payload["event_type"] for entry in entries)
    leaked = [e.insert_id for e in entries if "s3cr3t" in str(e.payload)]
    console.print(
        Panel.fit(
            f"{len(entries)} events in log composer-observability of project {project}\n"
            + ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
            + f"\nsecrets found in events: {len(leaked)} (the failing task's error held one)",
            title="summary",
        )
    )


def main() -> None:
    venv = _airflow_venv()
    project = f"demo-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="composer-obs-demo-") as scratch:
        home = Path(scratch)
        with (
            console.status("starting the emulator and the payments API stand-in"),
            emulator_process(home / "emulator") as endpoint,
            PaymentsService() as payments,
        ):
            assert endpoint.grpc_target is not None
            console.print(f"emulator: gRPC {endpoint.grpc_target}, HTTP {endpoint.http_url}")
            console.print(f"payments API stand-in: {payments.url}")
            airflow = Airflow(
                venv=venv,
                home=home / "airflow",
                dags_folder=EXAMPLE_DAGS,
                env={
                    "COMPOSER_OBS_EMULATOR": endpoint.grpc_target,
                    "GCP_PROJECT": project,
                    "COMPOSER_LOCATION": "europe-west1",
                    "COMPOSER_ENVIRONMENT": "demo",
                    "COMPOSER_OBS_SPOOL_DIR": str(home / "spool"),
                    "OBS_EXAMPLE_SERVICE_URL": payments.url,
                },
            )
            airflow.home.mkdir(parents=True)
            with console.status(f"Airflow {airflow.version}: airflow db migrate"):
                airflow.migrate()
            for dag_id in DAGS:
                started = time.monotonic()
                with console.status(f"Airflow {airflow.version}: airflow dags test {dag_id}"):
                    result = airflow.dags_test(dag_id)
                outcome = "succeeded" if result.returncode == 0 else "failed (as designed)"
                if "could not be found" in result.stdout + result.stderr:
                    console.print(result.stdout[-2000:], result.stderr[-2000:])
                    sys.exit(f"Airflow could not load {dag_id}")
                console.print(
                    f"dags test {dag_id}: run {outcome} in {time.monotonic() - started:.0f} s"
                )
            _story(endpoint, project)
            spooled = list((home / "spool").glob("*.jsonl"))
            console.print(f"events left undelivered in the spool: {len(spooled)} files")
    console.print("stopped the emulator and the payments API; temporary files removed")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        console.print("interrupted: everything the demo started has been stopped")
        sys.exit(130)
