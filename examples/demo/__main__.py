"""The offline demo (``make demo``): a DAG fails on real Airflow and the on-call gets paged.

In a temporary folder it starts the emulator (Cloud Logging and Monitoring), the router, and
local stand-ins for Slack, PagerDuty, an SMTP server and a flaky payments API; meanwhile a
small real Airflow 3 (API server, scheduler, DAG processor; ``demo-output/airflow``) migrates
its database and starts. It provisions the default log metrics, alert policies, the router's
webhook channel and the dashboards with ``composer-obs provision apply``; triggers the example
DAGs through Airflow's REST API (one fails, one's task is SIGKILLed as by the OOM killer) and
deploys a DAG file that no longer imports; runs the watchdog once
(``composer-obs watchdog run --once``) for what no callback can report; then moves the
emulator's clock through the alert windows so that incidents open and close, and the router
pages, posts and mails. It prints the story and leaves ``demo-output/`` behind. Every process
it starts is stopped at the end, also on Ctrl-C.
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
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from examples.airflow_runner import ROOT, airflow_venvs
from examples.demo import story
from examples.demo.airflow_environment import BROKEN_DEPLOY, DemoAirflow, demo_airflow
from examples.demo.emulator_admin import EmulatorAdmin
from examples.demo.notifications import collect
from examples.demo.report import render_dashboards, write_output
from examples.demo.services import Services, demo_services
from examples.demo.watchdog_pass import WatchdogPass, run_once, write_config
from examples.waiting import wait_for
from observability.dashboard_render.errors import RenderError
from observability.gcp import Endpoint, logging_client

DAGS = {
    "obs_example_success": "success",
    "obs_example_failure": "failed",
    "obs_example_oom": "failed",
}
"""The DAGs the demo triggers, and the state each run must end in."""
FAILING_DAG = "obs_example_failure"
FAILING_TASK, FAILING_ERROR = "transform", "ValueError"
"""What the page for the failing DAG must name: the router reads it back from Cloud Logging."""
KILLED_DAG, KILLED_TASK, KILLED_REASON = (
    "obs_example_oom",
    "build_customer_index",
    "killed (likely out of memory)",
)
"""What the page for the SIGKILLed task must name: the watchdog's reason, which no callback saw."""
BROKEN_FILE, BROKEN_DAG, BROKEN_ERROR = (
    "obs_example_daily_report.py",
    "obs_example_daily_report",
    "ModuleNotFoundError: No module named 'reporting'",
)
"""The DAG file the demo's deploy breaks, and the error its page must show."""
CALLBACK_EVENTS = {
    (FAILING_DAG, "task_failed"),
    (FAILING_DAG, "dag_run_failed"),
    ("obs_example_success", "dag_run_succeeded"),
}
"""What the callbacks must have written before the watchdog's pass: it leaves those alone."""
THIRD_PARTY_POLICY = "Third-party error ratio"
OUTPUT = Path(os.environ.get("COMPOSER_OBS_DEMO_OUTPUT") or ROOT / "demo-output").resolve()
MARKER = "report.html"
"""A folder holding this file is a demo's output, which the next run may replace."""
console = Console(width=None if sys.stdout.isatty() else 140)

STEPS = (
    "start the emulator, the router and the stand-ins; Airflow migrates meanwhile",
    "start Airflow; provision metrics, policies, channels and dashboards",
    "trigger the DAGs through Airflow's REST API; deploy a broken DAG file",
    "run the watchdog once, for what no callback can report",
    "read back events and metric points",
    "move the clock until the incidents open and the router notifies",
    "move the clock until the incidents close and the pages resolve",
    "render the dashboards and write demo-output/",
)
OPEN_MINUTES = 5
"""Long enough for every default policy the example DAGs trip to open its incident."""
CLOSE_MINUTES = 45
"""Past the 30-minute auto-close of those policies, once their metrics have gone quiet (a
failure stays 10 minutes in the window of the DAG-failure and watchdog policies)."""
LOCATION, ENVIRONMENT = "europe-west1", "demo"
"""The Composer environment the example DAGs report as theirs."""
DELIVERY_TIMEOUT = 30.0
"""Real seconds to wait for the router to deliver an incident's notification."""
READY_TIMEOUT, RUNS_TIMEOUT, EVENTS_TIMEOUT, WATCHDOG_TIMEOUT = 180.0, 240.0, 120.0, 120.0
PASS_INTERVAL = 5.0
"""Between two watchdog passes in the demo (a deployment's ``interval``, a minute by default)."""
"""Real seconds: Airflow healthy with the DAGs parsed; the runs ended and the import error
recorded; the callbacks' events in Cloud Logging; one pass of the watchdog."""


def _airflow_venv() -> Path:
    named = os.environ.get("AIRFLOW_VENV")
    if named:
        return Path(named).resolve()
    venvs = airflow_venvs()
    if not venvs:
        sys.exit("no Airflow environment: run `make demo` (it builds one in .venvs/)")
    return venvs[-1]


def _start_provision(services: Services, project: str, home: Path) -> subprocess.Popen[bytes]:
    """``composer-obs provision apply`` on the repository's definitions, as a user runs it;
    it runs while Airflow starts (``_provisioned`` reads its result)."""
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
    with (home / "provision.out").open("wb") as out, (home / "provision.log").open("wb") as err:
        return subprocess.Popen(
            [*command, "--dir", str(ROOT), "--output", "json"], env=env, stdout=out, stderr=err
        )


def _provisioned(provision: subprocess.Popen[bytes], home: Path) -> dict[str, Any]:
    try:
        code = provision.wait(timeout=300)
    except subprocess.TimeoutExpired:
        provision.kill()
        provision.wait()
        raise TimeoutError("provision apply did not finish in 300 s") from None
    output = (home / "provision.out").read_text()
    if code != 0:
        errors = (home / "provision.log").read_text()
        raise RuntimeError(f"provision apply failed:\n{output}\n{errors}")
    return dict(json.loads(output))


def _callback_env(services: Services, project: str, home: Path) -> dict[str, str]:
    """What Airflow's processes need for the callbacks to write to the emulator."""
    assert services.endpoint.grpc_target is not None
    return {
        "COMPOSER_OBS_EMULATOR": services.endpoint.grpc_target,
        "GCP_PROJECT": project,
        "COMPOSER_LOCATION": LOCATION,
        "COMPOSER_ENVIRONMENT": ENVIRONMENT,
        "COMPOSER_OBS_SPOOL_DIR": str(home / "spool"),
        "OBS_EXAMPLE_SERVICE_URL": services.payments.url,
    }


def _run_dags(airflow: DemoAirflow, problems: list[str]) -> Iterator[str]:
    """Trigger each DAG through the REST API, deploy the broken DAG file, wait until every
    run has ended and Airflow has recorded the import error; a line as each thing happens."""
    started = time.monotonic()

    def took() -> str:
        return f"[{time.monotonic() - started:.0f} s]"

    airflow.wait_until_ready([*DAGS, BROKEN_DAG], READY_TIMEOUT)
    yield f"{took()} Airflow {airflow.version} is healthy and has parsed the DAGs ({airflow.url})"
    runs = {dag_id: airflow.api.trigger(dag_id) for dag_id in DAGS}
    yield f"{took()} triggered with POST /api/v2/dags/{{dag_id}}/dagRuns: {', '.join(runs)}"
    deployed = airflow.deploy(BROKEN_DEPLOY / BROKEN_FILE)
    yield f"{took()} deployed a new {BROKEN_FILE}, which imports a module not installed"
    for dag_id, state in airflow.wait_for_runs(runs, RUNS_TIMEOUT):
        outcome = f"{took()} the run of {dag_id} ended {state}"
        if state != DAGS[dag_id]:
            problems.append(f"{outcome}, not {DAGS[dag_id]} (logs: {airflow.home / 'logs'})")
            outcome += ", which it should not have"
        elif state == "failed":
            outcome += " (as designed)"
        yield outcome
    trace = airflow.wait_for_import_error(deployed.name, RUNS_TIMEOUT)
    last = "".join([line for line in trace.splitlines() if line.strip()][-1:])
    yield f"{took()} Airflow recorded an import error for {deployed.name}: {last}"


def _logged(endpoint: Endpoint, project: str, narrower: str = "") -> set[tuple[Any, Any]]:
    """(DAG, event type) of every event of ours in Cloud Logging (``narrower``: more clauses)."""
    client = logging_client(project, endpoint)
    try:
        entries = client.list_entries(
            filter_=f'logName="projects/{project}/logs/{story.LOG_NAME}"{narrower}',
            page_size=1000,
        )
        return {(e.payload.get("dag_id"), e.payload.get("event_type")) for e in entries}
    finally:
        client.close()


def _callbacks_heard(endpoint: Endpoint, project: str) -> bool:
    """Whether the callbacks' events of the runs (``CALLBACK_EVENTS``) are in Cloud Logging."""
    return _logged(endpoint, project) >= CALLBACK_EVENTS


def _watchdog_found(endpoint: Endpoint, project: str) -> bool:
    """Whether the watchdog has reported the killed task and the broken DAG file."""
    found = _logged(endpoint, project, ' AND jsonPayload.detected_by="watchdog"')
    return ("obs_example_oom", "task_failed") in found and any(
        kind == "dag_import_error" for _, kind in found
    )


def _watch(
    airflow: DemoAirflow, services: Services, project: str, home: Path, output: Path
) -> WatchdogPass:
    """Wait for the callbacks' events, then passes of the watchdog until it has reported what
    it should (a failure younger than ``report_grace`` when a pass reads it is left for the
    next, as every minute in production); stop Airflow after them."""
    wait_for(
        lambda: _callbacks_heard(services.endpoint, project),
        EVENTS_TIMEOUT,
        1.0,
        "the callbacks' events in Cloud Logging",
    )
    console.print("the callbacks' events are in Cloud Logging")
    config = write_config(output / "watchdog.yaml", airflow, ENVIRONMENT, project, LOCATION)
    printed: list[str] = []
    deadline = time.monotonic() + WATCHDOG_TIMEOUT
    while True:
        console.print(f"$ composer-obs watchdog run --once --config {config.name}")
        result = run_once(config, services.endpoint, home / "watchdog-spool", WATCHDOG_TIMEOUT)
        if result.exit_code != 0:
            raise RuntimeError(f"the watchdog's pass failed ({result.exit_code}):\n{result.output}")
        console.print(result.output)
        printed.append(result.output)
        if _watchdog_found(services.endpoint, project) or time.monotonic() > deadline:
            break
        console.print(f"not everything was ripe for this pass: the next one in {PASS_INTERVAL:g} s")
        time.sleep(PASS_INTERVAL)
    airflow.stop()
    console.print(f"Airflow {airflow.version} stopped (its files: {OUTPUT / airflow.home.name})")
    return WatchdogPass(result.command, "\n".join(printed), result.exit_code)


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
    """The promise of the demo: the failing DAG, the killed task and the broken DAG file each
    paged the on-call once, and each page resolved."""
    pages = services.pagerduty.bodies()
    for about in (FAILING_DAG, KILLED_DAG, BROKEN_FILE):
        keys = {
            page["dedup_key"]
            for page in pages
            if page["event_action"] == "trigger" and about in str(page.get("payload"))
        }
        for key in keys:
            actions = [page["event_action"] for page in pages if page["dedup_key"] == key]
            if actions != ["trigger", "resolve"]:
                problems.append(f"PagerDuty got {actions} for the page about {about}")
        if not keys:
            problems.append(f"PagerDuty got no page about {about}")


def _check_causes(services: Services, airflow_url: str, problems: list[str]) -> None:
    """The promise of enrichment: the first page says what broke and where to look. The
    failing DAG's PagerDuty trigger and Slack message name the failed task and its error,
    with the password masked, and link the Airflow log and Logs Explorer; the killed task's
    name it with the watchdog's reason; the broken file's name the file and its error; the
    third-party incident's name the 503 and the timeout, with the host called."""
    host = services.payments.url.removeprefix("http://").rstrip("/")
    explorer = "[Logs Explorer] https://console.cloud.google.com/logs/query;query="
    wanted = {
        FAILING_DAG: (
            f"{FAILING_TASK} failed",
            f"{FAILING_ERROR}: could not load batch",
            "etl:***@",
            f"[Task log] {airflow_url}/",
            explorer,
        ),
        KILLED_DAG: (
            f"{KILLED_TASK} failed",
            KILLED_REASON,
            f"[DAG run] {airflow_url}/dags/{KILLED_DAG}/runs/",
        ),
        BROKEN_FILE: (BROKEN_ERROR,),
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
    began = time.monotonic()
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
            elapsed = time.monotonic() - began
            console.rule(f"[bold]{number + 1}. {STEPS[number]}[/] (at {elapsed:.0f} s)")

        step(0)
        with (
            demo_airflow(_airflow_venv(), output / "airflow") as airflow,
            demo_services(home) as services,
        ):
            console.print(f"Airflow {airflow.version}: `airflow db migrate` runs meanwhile")
            story.services(console, services)
            assert services.endpoint.http_url is not None
            admin = EmulatorAdmin(services.endpoint.http_url, project)
            try:
                admin.declare_environment(LOCATION, ENVIRONMENT, airflow.url)
                step(1)
                provision = _start_provision(services, project, home)
                airflow.start(_callback_env(services, project, home))
                console.print(
                    f"Airflow {airflow.version}: api-server, scheduler and dag-processor "
                    f"started (LocalExecutor, SQLite; home {OUTPUT / airflow.home.name})"
                )
                story.provisioned(console, _provisioned(provision, home), project)
                step(2)
                started_at = admin.now()
                for line in _run_dags(airflow, problems):
                    console.print(line)
                step(3)
                watched = _watch(airflow, services, project, home, output)
                step(4)
                events = story.events(console, services.endpoint, project, FAILING_DAG, problems)
                story.metric_points(console, services.endpoint, project, started_at, admin.now())
                step(5)
                waited = _move_clock(admin, services, progress, OPEN_MINUTES, problems)
                story.incidents(console, admin.incidents(), "after the alert windows")
                console.print(f"the router's deliveries took {waited:.1f} s of real time")
                step(6)
                _move_clock(admin, services, progress, CLOSE_MINUTES, problems)
                incidents = admin.incidents()
                story.incidents(console, incidents, "after the auto-close")
                story.notifications(console, services)
                _check_pages(services, problems)
                _check_causes(services, airflow.url, problems)
                step(7)
                dashboards = render_dashboards(output, services.endpoint, project)
                story.dashboards(console, dashboards, output, OUTPUT)
                write_output(
                    output, services, project, events, incidents, dashboards, watched.output
                )
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
