"""``demo-output/``: what the demo leaves behind for a reader who was not watching.

- ``report.html``: one standalone page (the story, the incidents, every notification with its
  text, the rendered dashboards);
- ``notifications/``: each payload a stand-in accepted, as received (JSON; emails as .eml);
- ``events.jsonl``, ``incidents.json``, ``router-history.json``: the raw material;
- ``router.yaml``: the routing the demo used, to copy from;
- ``dashboards/``: the default dashboards rendered from the emulator's time series.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.progress import Progress

from examples.airflow_runner import ROOT
from examples.demo.notifications import Notification, collect
from examples.demo.services import Services

TEMPLATES = Path(__file__).parent


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _clock(epoch: float | None) -> str:
    """An incident time (epoch seconds on the emulator's clock) as UTC hours and minutes."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M UTC")


def _save_notifications(out: Path, notifications: list[Notification]) -> None:
    folder = out / "notifications"
    folder.mkdir(parents=True)
    for note in notifications:
        if isinstance(note.raw, bytes):
            (folder / note.file).write_bytes(note.raw)
        else:
            _write_json(folder / note.file, note.raw)


def write_output(
    out: Path,
    services: Services,
    project: str,
    events: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    progress: Progress,
) -> Path:
    """Write ``out`` (replacing it) and return the path of its HTML report."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    notifications = collect(services)
    _save_notifications(out, notifications)
    with (out / "events.jsonl").open("w") as handle:
        for event in events:
            handle.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
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
        pagerduty=[item.body for item in services.pagerduty.received],
        dashboards=[],
        root=ROOT,
    )
    report = out / "report.html"
    report.write_text(page)
    return report
