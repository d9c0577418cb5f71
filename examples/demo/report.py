"""``demo-output/``: what the demo leaves behind for a reader who was not watching.

- ``report.html``: one standalone page (the story, the incidents, every notification with its
  text, the rendered dashboards);
- ``notifications/``: each payload a stand-in accepted, as received (JSON; emails as .eml);
- ``events.jsonl``, ``incidents.json``, ``router-history.json``: the raw material;
- ``router.yaml``, ``watchdog.yaml``: the routing and the watchdog configuration the demo
  used, to copy from;
- ``airflow/``: the demo's Airflow home (DAG files, task logs, SQLite database);
- ``dashboards/``: the default dashboards rendered from the emulator's time series.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from examples.airflow_runner import ROOT
from examples.demo.notifications import Notification, collect
from examples.demo.services import Services
from observability.dashboard_render.render import RenderResult, render_dashboard
from observability.gcp import Endpoint, whole_numbers

TEMPLATES = Path(__file__).parent
DASHBOARD_VARIABLES = {"TEAM": "analytics", "ENVIRONMENT_NAME": "demo"}
"""As the demo provisioned them: the team dashboard shows the example DAGs' team."""


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _clock(epoch: float | None) -> str:
    """An incident time (epoch seconds on the emulator's clock) as UTC hours and minutes."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M UTC")


def _save_notifications(out: Path, notifications: list[Notification]) -> None:
    folder = out / "notifications"
    folder.mkdir(parents=True, exist_ok=True)
    for note in notifications:
        if isinstance(note.raw, bytes):
            (folder / note.file).write_bytes(note.raw)
        else:
            _write_json(folder / note.file, note.raw)


def _local_files(payload: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    """Where to look in ``demo-output/`` for a watchdog finding: the killed try's log, the DAG
    file that does not import (links relative to the report)."""
    if payload.get("event_type") == "task_failed" and payload.get("task_id"):
        log = (
            Path("airflow/logs")
            / f"dag_id={payload['dag_id']}"
            / f"run_id={payload['run_id']}"
            / f"task_id={payload['task_id']}"
            / f"attempt={int(payload.get('try_number') or 1)}.log"
        )
        return [("the try's log", str(log))] if (out / log).exists() else []
    file = (payload.get("finding") or {}).get("file")
    if file:
        deployed = Path("airflow/dags") / Path(str(file)).name
        return [("the DAG file", str(deployed))] if (out / deployed).exists() else []
    return []


def _findings(events: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """The watchdog's events, each with what it says and where to look."""
    found = []
    for event in events:
        payload = event["jsonPayload"]
        if payload.get("detected_by") != "watchdog":
            continue
        exception = payload.get("exception") or {}
        found.append(
            {
                "event_type": payload["event_type"],
                "dag_id": payload.get("dag_id") or "",
                "where": payload.get("task_id") or (payload.get("finding") or {}).get("file", ""),
                "reason": payload.get("reason") or "",
                "error": f"{exception.get('type')}: {exception.get('message')}"
                if exception
                else "",
                "team": payload.get("team") or "",
                "files": _local_files(payload, out),
            }
        )
    return found


def render_dashboards(out: Path, endpoint: Endpoint, project: str) -> list[RenderResult]:
    """The repository's dashboards, drawn from the emulator's series over the last hour of
    its clock (which covers the DAG runs and the alert windows)."""
    folder = out / "dashboards"
    return [
        render_dashboard(
            path,
            folder,
            project=project,
            endpoint=endpoint,
            window=timedelta(hours=1),
            variables=DASHBOARD_VARIABLES,
        )
        for path in sorted((ROOT / "dashboards").glob("*.json"))
    ]


def write_output(
    out: Path,
    services: Services,
    project: str,
    events: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    dashboards: list[RenderResult],
    watchdog_output: str,
) -> Path:
    """Write the report and the raw material into ``out``; return the report's path.
    ``watchdog_output`` is what the watchdog's pass printed."""
    out.mkdir(parents=True, exist_ok=True)
    notifications = collect(services)
    _save_notifications(out, notifications)
    with (out / "events.jsonl").open("w") as handle:
        for event in events:
            handle.write(json.dumps(whole_numbers(event), ensure_ascii=False, default=str) + "\n")
    _write_json(out / "incidents.json", incidents)
    _write_json(
        out / "router-history.json",
        [services.router.incident(incident["incidentId"]) for incident in incidents],
    )
    shutil.copy(services.router.config_path, out / "router.yaml")
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    environment.filters["clock"] = _clock
    page = environment.get_template("report.html.j2").render(
        project=project,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        events=events,
        incidents=incidents,
        notifications=notifications,
        pagerduty=services.pagerduty.bodies(),
        findings=_findings(events, out),
        watchdog_output=watchdog_output,
        dashboards=[
            {
                "title": result.display_name,
                "png": result.png_path.relative_to(out),
                "html": result.html_path.relative_to(out),
                "drawn": sum(1 for tile in result.tiles if tile.points),
                "tiles": len(result.tiles),
            }
            for result in dashboards
        ],
        root=ROOT,
    )
    report = out / "report.html"
    report.write_text(page)
    return report
