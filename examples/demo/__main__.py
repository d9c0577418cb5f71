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

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from examples.airflow_runner import EXAMPLE_DAGS, ROOT, Airflow, airflow_venvs
from examples.demo import story
from examples.demo.emulator_admin import EmulatorAdmin
from examples.demo.notifications import collect
from examples.demo.report import render_dashboards, write_output
from examples.demo.services import Services, demo_services
from observability.dashboard_render.errors import RenderError

DAGS = {"obs_example_success": True, "obs_example_failure": False}
"""Each example DAG and whether its run should succeed."""
FAILING_DAG = "obs_example_failure"
FAILING_TASK, FAILING_ERROR = "transform", "ValueError"
"""What the page for the failing DAG must name: the router reads it back from Cloud Logging."""
THIRD_PARTY_POLICY = "Third-party error ratio"
OUTPUT = Path(os.environ.get("COMPOSER_OBS_DEMO_OUTPUT") or ROOT / "demo-output").resolve()
MARKER = "report.html"
"""A folder holding this file is a demo's output, which the next run may replace."""
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
LOCATION, ENVIRONMENT = "europe-west1", "demo"
"""The Composer environment the example DAGs report as theirs."""
AIRFLOW_URI = "http://localhost:8080"
"""The local Airflow's UI (its default base URL), as Composer's ``config.airflowUri``."""
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
        "COMPOSER_OBS_ENVIRONMENT_NAME": ENVIRONMENT,
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


def _run_dags(
    services: Services, project: str, home: Path, progress: Progress, problems: list[str]
) -> list[str]:
    assert services.endpoint.grpc_target is not None
    airflow = Airflow(
        venv=_airflow_venv(),
        home=home / "airflow",
        dags_folder=EXAMPLE_DAGS,
        env={
            "COMPOSER_OBS_EMULATOR": services.endpoint.grpc_target,
            "GCP_PROJECT": project,
            "COMPOSER_LOCATION": LOCATION,
            "COMPOSER_ENVIRONMENT": ENVIRONMENT,
            "COMPOSER_OBS_SPOOL_DIR": str(home / "spool"),
            "OBS_EXAMPLE_SERVICE_URL": services.payments.url,
        },
    )
    airflow.home.mkdir(parents=True)
    task = progress.add_task(f"Airflow {airflow.version}: airflow db migrate", total=None)
    airflow.migrate()
    lines = []
    for dag_id, should_succeed in DAGS.items():
        progress.update(task, description=f"Airflow {airflow.version}: airflow dags test {dag_id}")
        started = time.monotonic()
        result = airflow.dags_test(dag_id)
        if "could not be found" in result.stdout + result.stderr:
            raise RuntimeError(f"Airflow could not load {dag_id}:\n{result.stderr[-2000:]}")
        succeeded = result.returncode == 0
        outcome = "succeeded" if succeeded else "failed"
        if succeeded != should_succeed:
            outcome += f", which it should not have (log: {airflow.home})"
            problems.append(f"the run of {dag_id} {outcome}")
        elif not succeeded:
            outcome += " (as designed)"
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
    admin: EmulatorAdmin,
    services: Services,
    progress: Progress,
    minutes: int,
    problems: list[str],
) -> float:
    """Advance minute by minute, evaluating the policies each time. When an incident opens or
    closes, wait (in real time: the router's group_wait and retries run on the wall clock)
    until the router has delivered its notification, as if the minutes really passed; one
    that does not arrive in time is a problem. Returns the real seconds spent waiting."""
    label = "emulator clock +1 min"
    task = progress.add_task(label, total=minutes)
    states = {i["incidentId"]: i["state"] for i in admin.incidents()}
    waited = 0.0
    for _ in range(minutes):
        admin.advance(60)
        incidents = admin.incidents()
        changed = [i for i in incidents if states.get(i["incidentId"]) != i["state"]]
        states = {i["incidentId"]: i["state"] for i in incidents}
        started = time.monotonic()
        while True:
            changed = [i for i in changed if not _delivered(services, i)]
            if not changed or time.monotonic() - started > DELIVERY_TIMEOUT:
                break
            time.sleep(0.2)
        waited += time.monotonic() - started
        problems += [
            f"no notification delivered within {DELIVERY_TIMEOUT:.0f} s for incident "
            f"{i['incidentId']} ({i['policyDisplayName']}, {i['state']}; router log: "
            f"{services.router.log_path})"
            for i in changed
        ]
        open_count = sum(1 for state in states.values() if state == "open")
        progress.update(task, advance=1, description=f"{label} ({open_count} open)")
    progress.remove_task(task)
    return waited


def _check_pages(services: Services, problems: list[str]) -> None:
    """The promise of the demo: the failing DAG's page was triggered, then resolved."""
    pages = services.pagerduty.bodies()
    keys = {
        page["dedup_key"]
        for page in pages
        if page["event_action"] == "trigger" and FAILING_DAG in str(page.get("payload"))
    }
    for key in keys:
        actions = [page["event_action"] for page in pages if page["dedup_key"] == key]
        if actions != ["trigger", "resolve"]:
            problems.append(f"PagerDuty got {actions} for the page of {FAILING_DAG}")
    if not keys:
        problems.append(f"PagerDuty got no page for {FAILING_DAG}")


def _check_causes(services: Services, problems: list[str]) -> None:
    """The promise of enrichment: the first page says what broke and where to look. The
    failing DAG's PagerDuty trigger and Slack message name the failed task and its error,
    with the password masked, and link the Airflow log and Logs Explorer; the third-party
    incident's name the 503 and the timeout, with the host called."""
    host = services.payments.url.removeprefix("http://").rstrip("/")
    wanted = {
        FAILING_DAG: (
            f"{FAILING_TASK} failed",
            f"{FAILING_ERROR}: could not load batch",
            "etl:***@",
            f"[Task log] {AIRFLOW_URI}/",
            "[Logs Explorer] https://console.cloud.google.com/logs/query;query=",
        ),
        THIRD_PARTY_POLICY: (f"error 503 HTTPError to {host}", f"timeout TimeoutError to {host}"),
    }
    firing = [
        note
        for note in collect(services)
        if note.title.startswith("trigger (") or note.text.startswith("[FIRING")
    ]
    for about, parts in wanted.items():
        for service in ("pagerduty", "slack"):
            found = [n for n in firing if n.service == service and about in json.dumps(n.raw)]
            if not found:
                problems.append(f"{service} got no firing message about {about}")
                continue
            missing = [part for part in parts if part not in found[0].text]
            if missing:
                problems.append(f"the {service} message about {about} lacks {missing}")
            if story.SECRET in json.dumps(found[0].raw):
                problems.append(f"the {service} message about {about} holds the password")


def run_demo(home: Path, output: Path) -> list[str]:
    """Run every step; returns the problems found (none when the story held)."""
    project = f"demo-{uuid.uuid4().hex[:6]}"
    problems: list[str] = []
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
            assert services.endpoint.http_url is not None
            admin = EmulatorAdmin(services.endpoint.http_url, project)
            try:
                admin.declare_environment(LOCATION, ENVIRONMENT, AIRFLOW_URI)
                step(1)
                story.provisioned(console, _provision(services, project), project)
                step(2)
                started_at = admin.now()
                for line in _run_dags(services, project, home, progress, problems):
                    console.print(line)
                step(3)
                events = story.events(console, services.endpoint, project, FAILING_DAG, problems)
                story.metric_points(console, services.endpoint, project, started_at, admin.now())
                step(4)
                waited = _move_clock(admin, services, progress, OPEN_MINUTES, problems)
                story.incidents(console, admin.incidents(), "after the alert windows")
                console.print(f"the router's deliveries took {waited:.1f} s of real time")
                step(5)
                _move_clock(admin, services, progress, CLOSE_MINUTES, problems)
                incidents = admin.incidents()
                story.incidents(console, incidents, "after the auto-close")
                story.notifications(console, services)
                _check_pages(services, problems)
                _check_causes(services, problems)
                step(6)
                dashboards = render_dashboards(output, services.endpoint, project)
                story.dashboards(console, dashboards, output, OUTPUT)
                write_output(output, services, project, events, incidents, dashboards)
                progress.update(steps, completed=len(STEPS))
            finally:
                admin.close()
        story.finale(console, services, OUTPUT / MARKER, problems)
    return problems


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _fresh_output() -> Path:
    """A new folder beside ``OUTPUT``; it replaces ``OUTPUT`` only once complete."""
    if OUTPUT.exists() and not (OUTPUT / MARKER).exists() and any(OUTPUT.iterdir()):
        sys.exit(f"{OUTPUT} exists and is not a demo's output (no {MARKER}): not replacing it")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{OUTPUT.name}-", dir=OUTPUT.parent))


def _publish(new: Path) -> None:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    new.rename(OUTPUT)


def _keep_logs(home: Path, new: Path) -> Path:
    """After a failure: the services' logs, where the reader can find them."""
    logs = new / "logs"
    logs.mkdir(exist_ok=True)
    for log in home.rglob("*.log"):
        shutil.copy(log, logs / f"{log.parent.name}-{log.name}")
    return logs


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    new = _fresh_output()
    try:
        with tempfile.TemporaryDirectory(prefix="composer-obs-demo-") as scratch:
            try:
                problems = run_demo(Path(scratch), new)
            except (RuntimeError, TimeoutError, OSError, RenderError, httpx.HTTPError) as error:
                logs = _keep_logs(Path(scratch), new)
                _publish(new)
                console.print(f"[red]the demo failed:[/] {error}")
                sys.exit(f"the services' logs are in {OUTPUT / logs.name}")
        _publish(new)
    except KeyboardInterrupt:
        shutil.rmtree(new, ignore_errors=True)
        console.print("interrupted: every process the demo started has been stopped")
        sys.exit(130)
    console.print(
        f"done in {time.monotonic() - started:.0f} s; every process the demo started "
        "has been stopped and its temporary folder removed"
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
