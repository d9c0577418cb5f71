"""What the demo prints: each part of the path, read back from where it landed.

Nothing here is taken from the demo's own bookkeeping: events are read from the emulator with
``google.cloud.logging``, metric points with the Monitoring client, incidents from the
emulator, and notifications from what the stand-ins accepted.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from examples.demo.notifications import collect
from examples.demo.services import Services
from observability.dashboard_render.render import RenderResult
from observability.gcp import Endpoint, logging_client, monitoring_metric_api

LOG_NAME = "composer-observability"
USER_METRIC = "logging.googleapis.com/user/"
SECRET = "s3cr3t"
"""A password inside the failing task's error: it must not reach Cloud Logging."""


def services(console: Console, running: Services) -> None:
    table = Table(title="running on 127.0.0.1", show_header=False)
    table.add_row("emulator (Logging, Monitoring)", f"gRPC {running.endpoint.grpc_target}")
    table.add_row("", f"REST {running.endpoint.http_url}")
    table.add_row("router", running.router.url)
    table.add_row("Slack stand-in", running.slack.url)
    table.add_row("PagerDuty stand-in", running.pagerduty.url)
    table.add_row("SMTP stand-in", f"{running.mail.host}:{running.mail.port}")
    table.add_row("payments API stand-in", running.payments.url)
    console.print(table)


def provisioned(console: Console, result: dict[str, Any], project: str) -> None:
    created = Counter(
        change["kind"] for change in result["plan"]["changes"] if change["action"] == "create"
    )
    console.print(
        f"`composer-obs provision apply` created in project {project}: "
        + ", ".join(f"{count} {kind}s" for kind, count in sorted(created.items()))
        + f" ({result['calls']['total_writes']} writing calls)"
    )


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


def events(
    console: Console, endpoint: Endpoint, project: str, failing_dag: str, problems: list[str]
) -> list[dict[str, Any]]:
    """Print the events the callbacks wrote and return them (payload plus entry fields).

    The failing DAG's error held a password: it must have arrived (as an exception event)
    and without the password."""
    client = logging_client(project, endpoint)
    try:
        entries = list(
            client.list_entries(
                filter_=f'logName="projects/{project}/logs/{LOG_NAME}"',
                order_by="timestamp asc",
                page_size=1000,
            )
        )
    finally:
        client.close()
    table = Table(title="events read back with google.cloud.logging list_entries")
    for column in ("time", "severity", "event", "dag", "task", "try", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"ERROR": "red", "WARNING": "yellow", "NOTICE": "cyan"}
    for entry in entries:
        payload = entry.payload
        colour = colours.get(entry.severity or "", "")
        table.add_row(
            entry.timestamp.strftime("%H:%M:%S.%f")[:-3] if entry.timestamp else "",
            f"[{colour}]{entry.severity}[/]" if colour else str(entry.severity),
            str(payload["event_type"])
            + (f" ({payload['detected_by']})" if payload.get("detected_by") else ""),
            str(payload.get("dag_id", "")),
            str(payload.get("task_id", "")),
            str(int(payload["try_number"])) if payload.get("try_number") else "",
            _detail(payload),
        )
    console.print(table)
    counts = Counter(entry.payload["event_type"] for entry in entries)
    leaked = sum(1 for entry in entries if SECRET in str(entry.payload))
    errors = sum(
        1
        for entry in entries
        if entry.payload.get("dag_id") == failing_dag and "exception" in entry.payload
    )
    console.print(
        f"{len(entries)} events: "
        + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        + f"; errors of {failing_dag} that arrived: {errors}, with a secret in them: {leaked}"
    )
    if not errors:
        problems.append(f"no error event of {failing_dag} arrived")
    if leaked:
        problems.append(f"{leaked} events hold the password of {failing_dag}'s error")
    return [
        {
            "timestamp": entry.timestamp.isoformat() if entry.timestamp else None,
            "severity": entry.severity,
            "jsonPayload": entry.payload,
        }
        for entry in entries
    ]


def metric_points(
    console: Console, endpoint: Endpoint, project: str, start: float, end: float
) -> None:
    """Each log-based metric's points over the run, read with ListTimeSeries."""
    monitoring = monitoring_metric_api(endpoint)
    table = Table(title="log-based metrics, read back with ListTimeSeries")
    for column in ("metric", "series", "points", "total"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    try:
        for descriptor in monitoring.list_metric_descriptors(
            request={
                "name": f"projects/{project}",
                "filter": f'metric.type = starts_with("{USER_METRIC}")',
            }
        ):
            series = list(
                monitoring.list_time_series(
                    request={
                        "name": f"projects/{project}",
                        "filter": f'metric.type="{descriptor.type}"',
                        "interval": {
                            "start_time": datetime.fromtimestamp(start - 120, timezone.utc),
                            "end_time": datetime.fromtimestamp(end + 60, timezone.utc),
                        },
                    }
                )
            )
            points = [point for one in series for point in one.points]
            total = sum(
                point.value.distribution_value.count
                if "distribution_value" in point.value
                else point.value.int64_value
                for point in points
            )
            table.add_row(
                descriptor.type.removeprefix(USER_METRIC),
                str(len(series)),
                str(len(points)),
                str(total),
            )
    finally:
        monitoring.transport.close()
    console.print(table)


def incidents(console: Console, found: list[dict[str, Any]], when: str) -> None:
    table = Table(title=f"incidents in the emulator, {when}")
    for column in ("policy", "state", "labels", "value", "close reason"):
        table.add_column(column, overflow="fold")
    for incident in reversed(found):
        labels = {**incident["resource"].get("labels", {}), **incident["metric"].get("labels", {})}
        state = incident["state"]
        table.add_row(
            incident["policyDisplayName"],
            f"[red]{state}[/]" if state == "open" else f"[green]{state}[/]",
            ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "project_id"),
            "" if incident["observedValue"] is None else str(incident["observedValue"]),
            incident["closeReason"] or "",
        )
    console.print(table)


def notifications(console: Console, running: Services) -> None:
    """What each receiver stand-in accepted, with its text."""
    colours = {"pagerduty": "red", "slack": "magenta", "email": "blue"}
    for note in collect(running):
        console.print(
            Panel(
                f"[bold]{note.title}[/]\n{note.text[:1500]}",
                title=f"{note.service} -> {note.receiver}",
                border_style=colours[note.service],
            )
        )


def dashboards(
    console: Console, rendered: list[RenderResult], written: Path, published: Path
) -> None:
    """Each dashboard and how many tiles drew data, at the path it will have when published."""
    for result in rendered:
        drawn = sum(1 for tile in result.tiles if tile.points)
        console.print(
            f"dashboard {result.display_name!r}: {drawn} of {len(result.tiles)} tiles with data "
            f"-> {published / result.png_path.relative_to(written)}"
        )


def finale(console: Console, running: Services, report: Path, problems: list[str]) -> None:
    actions = [body["event_action"] for body in running.pagerduty.bodies()]
    summary = (
        f"PagerDuty received: {', '.join(actions) or 'nothing'}\n"
        f"Slack messages: {len(running.slack.bodies())}, emails: {len(running.mail.messages)}\n"
        f"report: {report}"
    )
    if problems:
        console.print(
            Panel.fit(
                summary + "\n" + "\n".join(f"[red]problem:[/] {p}" for p in problems),
                title="the demo did not go as it should",
                border_style="red",
            )
        )
        return
    console.print(
        Panel.fit(
            summary,
            title="the failing DAG, the killed task and the broken DAG file paged the on-call, "
            "and the pages resolved themselves",
        )
    )
