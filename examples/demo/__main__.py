"""The offline demo (``make demo``): a DAG fails on real Airflow and the on-call gets paged.

In a temporary folder it starts the emulator (Cloud Logging and Monitoring), the router, and
local stand-ins for Slack, PagerDuty, an SMTP server and a flaky payments API; provisions the
default log metrics, alert policies, the router's webhook channel and the dashboards with
``composer-obs provision apply``; runs the example DAGs with ``airflow dags test``; then moves
the emulator's clock through the alert windows so that incidents open and close, and the
router pages, posts and mails. It prints the story and leaves ``demo-output/`` behind.
Every process it starts is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from examples.airflow_runner import EXAMPLE_DAGS, ROOT, Airflow, airflow_venvs
from examples.demo import story
from examples.demo.emulator_admin import EmulatorAdmin
from examples.demo.report import render_dashboards, write_output
from examples.demo.services import Services, demo_services

DAGS = ("obs_example_success", "obs_example_failure")
OUTPUT = Path(os.environ.get("COMPOSER_OBS_DEMO_OUTPUT") or ROOT / "demo-output")
console = Console(width=None if sys.stdout.isatty() else 140)

STEPS = (
    "start the emulator, the router and the stand-ins",
    "provision metrics, policies, channels and dashboards",
    "run the example DAGs on Airflow",
    "read back events and metric points",
    "move the clock until the incidents open and the router notifies",
    "move the clock until the incidents close and the pages resolve",
    "render the dashboards and write demo-output/",
)
OPEN_MINUTES = 5
"""Long enough for every default policy the example DAGs trip (the longest window is 5 min)."""
CLOSE_MINUTES = 35
"""Past the 30-minute auto-close of those policies, once their metrics have gone quiet."""
DELIVERY_TIMEOUT = 30.0
"""Real seconds to wait for the router to deliver an incident's notification."""


def _airflow_venv() -> Path:
    named = os.environ.get("AIRFLOW_VENV")
    if named:
        return Path(named).resolve()
    venvs = airflow_venvs()
    if not venvs:
        sys.exit("no Airflow environment: run `make demo` (it builds one in .venvs/)")
    return venvs[-1]


def _provision(services: Services, project: str) -> dict[str, Any]:
    """``composer-obs provision apply`` on the repository's definitions, as a user runs it."""
    assert services.endpoint.grpc_target is not None
    env = {
        **os.environ,
        "COMPOSER_OBS_EMULATOR": services.endpoint.grpc_target,
        "COMPOSER_OBS_ROUTER_WEBHOOK_URL": services.router.webhook_url,
        "COMPOSER_OBS_ROUTER_TOKEN": services.router.ingest_token,
        "COMPOSER_OBS_ENVIRONMENT_NAME": "demo",
        "COMPOSER_OBS_TEAM": "analytics",
    }
    command = [sys.executable, "-m", "observability.provision", "apply", "--project", project]
    result = subprocess.run(
        [*command, "--dir", str(ROOT), "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"provision apply failed:\n{result.stdout}\n{result.stderr}")
    return dict(json.loads(result.stdout))


def _run_dags(services: Services, project: str, home: Path, progress: Progress) -> list[str]:
    assert services.endpoint.grpc_target is not None
    airflow = Airflow(
        venv=_airflow_venv(),
        home=home / "airflow",
        dags_folder=EXAMPLE_DAGS,
        env={
            "COMPOSER_OBS_EMULATOR": services.endpoint.grpc_target,
            "GCP_PROJECT": project,
            "COMPOSER_LOCATION": "europe-west1",
            "COMPOSER_ENVIRONMENT": "demo",
            "COMPOSER_OBS_SPOOL_DIR": str(home / "spool"),
            "OBS_EXAMPLE_SERVICE_URL": services.payments.url,
        },
    )
    airflow.home.mkdir(parents=True)
    task = progress.add_task(f"Airflow {airflow.version}: airflow db migrate", total=None)
    airflow.migrate()
    lines = []
    for dag_id in DAGS:
        progress.update(task, description=f"Airflow {airflow.version}: airflow dags test {dag_id}")
        started = time.monotonic()
        result = airflow.dags_test(dag_id)
        if "could not be found" in result.stdout + result.stderr:
            raise RuntimeError(f"Airflow could not load {dag_id}:\n{result.stderr[-2000:]}")
        outcome = "succeeded" if result.returncode == 0 else "failed (as designed)"
        lines.append(
            f"Airflow {airflow.version} `dags test {dag_id}`: the run {outcome} "
            f"in {time.monotonic() - started:.0f} s"
        )
    progress.remove_task(task)
    spooled = sum(1 for _ in (home / "spool").glob("*.jsonl"))
    lines.append(f"events left undelivered in the spool: {spooled} files")
    return lines


def _delivered(services: Services, incident: dict[str, Any]) -> bool:
    """Has the router delivered a notification for the incident's latest state?"""
    history = services.router.incident(incident["incidentId"])
    wanted = "firing" if incident["state"] == "open" else "resolved"
    return history is not None and any(
        note["status"] == wanted and note["outcome"] == "delivered"
        for note in history["notifications"]
    )


def _move_clock(
    admin: EmulatorAdmin, services: Services, progress: Progress, minutes: int, label: str
) -> float:
    """Advance minute by minute, evaluating the policies each time. When an incident opens or
    closes, wait (in real time: the router's group_wait and retries run on the wall clock)
    until the router has delivered its notification, as if the minutes really passed.
    Returns the real seconds spent waiting for deliveries."""
    task = progress.add_task(label, total=minutes)
    states = {i["incidentId"]: i["state"] for i in admin.incidents()}
    waited = 0.0
    for _ in range(minutes):
        admin.advance(60)
        incidents = admin.incidents()
        changed = [i for i in incidents if states.get(i["incidentId"]) != i["state"]]
        states = {i["incidentId"]: i["state"] for i in incidents}
        started = time.monotonic()
        while changed and time.monotonic() - started < DELIVERY_TIMEOUT:
            changed = [i for i in changed if not _delivered(services, i)]
            time.sleep(0.2)
        waited += time.monotonic() - started
        open_count = sum(1 for state in states.values() if state == "open")
        progress.update(task, advance=1, description=f"{label} ({open_count} open)")
    progress.remove_task(task)
    return waited


def run_demo(home: Path) -> None:
    project = f"demo-{uuid.uuid4().hex[:6]}"
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        steps = progress.add_task("demo", total=len(STEPS))

        def step(number: int) -> None:
            description = f"step {number + 1}/{len(STEPS)}: {STEPS[number]}"
            progress.update(steps, completed=number, description=description)
            console.rule(f"[bold]{number + 1}. {STEPS[number]}")

        step(0)
        with demo_services(home) as services:
            story.services(console, services)
            admin = EmulatorAdmin(services.endpoint.http_url, project)
            try:
                step(1)
                story.provisioned(console, _provision(services, project), project)
                step(2)
                started_at = admin.now()
                for line in _run_dags(services, project, home, progress):
                    console.print(line)
                step(3)
                events = story.events(console, services.endpoint, project)
                story.metric_points(console, services.endpoint, project, started_at, admin.now())
                step(4)
                waited = _move_clock(
                    admin, services, progress, OPEN_MINUTES, "emulator clock +1 min"
                )
                story.incidents(console, admin.incidents(), "after the alert windows")
                console.print(f"the router's deliveries took {waited:.1f} s of real time")
                step(5)
                _move_clock(admin, services, progress, CLOSE_MINUTES, "emulator clock +1 min")
                incidents = admin.incidents()
                story.incidents(console, incidents, "after the auto-close")
                story.notifications(console, services)
                step(6)
                shutil.rmtree(OUTPUT, ignore_errors=True)
                dashboards = render_dashboards(OUTPUT, services.endpoint, project)
                story.dashboards(console, dashboards)
                report = write_output(OUTPUT, services, project, events, incidents, dashboards)
                progress.update(steps, completed=len(STEPS))
            finally:
                admin.close()
    story.finale(console, services, report)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="composer-obs-demo-") as scratch:
            run_demo(Path(scratch))
    except KeyboardInterrupt:
        console.print("interrupted: every process the demo started has been stopped")
        sys.exit(130)
    console.print(
        f"done in {time.monotonic() - started:.0f} s; every process the demo started "
        "has been stopped and its temporary folder removed"
    )


if __name__ == "__main__":
    main()
