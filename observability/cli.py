"""The ``composer-obs`` command.

Each sub-command is a thin shell over a module that does the work, so everything here is
also usable from Python. Errors are one line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from observability.settings import Settings, SettingsError, load_settings

# name: (module, attribute), a sub-command group (a Typer) or a single command (a function).
SUB_COMMANDS = {
    "router": ("observability.router.cli", "router_app"),
    "routes": ("observability.router.cli", "routes_app"),
    "silence": ("observability.router.cli", "silence_app"),
    "provision": ("observability.provision.cli", "provision_app"),
    "dashboard": ("observability.dashboard_render.cli", "dashboard_app"),
    "test-alerts": ("observability.alert_tests.cli", "test_alerts"),
}


class _SubCommandsOnDemand(TyperGroup):
    """Imports a sub-command's module only when that command runs (or ``--help`` lists it).

    Some import a lot (the alert tests bring the emulator and Google's clients, the dashboard
    preview matplotlib): imported up front, they made every command take about 3 s to start,
    ``composer-obs silence list`` and ``router serve`` included. Each lives behind an optional
    extra (the router needs FastAPI and SQLAlchemy, provisioning the Monitoring clients,
    rendering matplotlib); without it the command is simply absent.

    The context and command types are ``Any``: recent typer versions vendor click, so their
    classes differ between the typer versions this package allows.
    """

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """A name that is no command: load them all first, so that typer's "Did you mean"
        suggests among every command (a typo is the one case worth the import time)."""
        if args and args[0] not in self.commands and args[0] not in SUB_COMMANDS:
            for name in SUB_COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        own = super().list_commands(ctx)
        return own + [name for name in SUB_COMMANDS if name not in own]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in SUB_COMMANDS:
            return command
        module, attribute = SUB_COMMANDS[cmd_name]
        try:
            target = getattr(importlib.import_module(module), attribute)
        except ImportError:
            return None
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:  # a Typer of one command is that command
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        self.add_command(command)
        return command


app = typer.Typer(
    name="composer-obs",
    help="Observability and alerting for Cloud Composer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_SubCommandsOnDemand,
)
spool_app = typer.Typer(help="Events that could not be delivered, waiting for replay.")
events_app = typer.Typer(help="Read events back from Cloud Logging (or the emulator).")
app.add_typer(spool_app, name="spool")
app.add_typer(events_app, name="events")

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 8085,
    http_port: Annotated[int | None, typer.Option(help="HTTP port (default: port + 1).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    data_dir: Annotated[
        Path, typer.Option(help="Where the emulator keeps its SQLite files.")
    ] = Path(".composer-obs-emulator"),
) -> None:
    """Run the local emulator of Cloud Logging (and, as it grows, Monitoring) until Ctrl-C."""
    from observability.emulator.server import serve

    serve(data_dir=data_dir, host=host, port=port, http_port=http_port or port + 1)


@spool_app.command("status")
def spool_status(
    spool_dir: Annotated[Path | None, typer.Option(help="Spool folder.")] = None,
) -> None:
    """How many events are waiting, in how many files, and how many lines were set aside."""
    from observability.emit.replay import spools
    from observability.emit.spool import QUARANTINE_DIR, Spool

    try:
        folders = [Spool(spool_dir)] if spool_dir else spools(load_settings())
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    for spool in folders:
        files = spool.files()
        line = f"{spool.pending_entries()} events in {len(files)} files under {spool.directory}"
        quarantined = spool.quarantined()
        if quarantined:
            line += f"; {quarantined} unreadable lines in {spool.directory / QUARANTINE_DIR}"
        console.print(line, highlight=False)


@spool_app.command("replay")
def spool_replay(
    spool_dir: Annotated[Path | None, typer.Option(help="Spool folder.")] = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a replay already running here.")
    ] = 60.0,
) -> None:
    """Deliver spooled events. Safe to repeat: each event is stored once, by its insertId."""
    from observability.emit.replay import replay_spools
    from observability.emit.sink import LoggingSink
    from observability.gcp import Endpoint

    try:
        settings = load_settings()
        endpoint = Endpoint.from_settings(settings)
    except (SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    report = replay_spools(settings, LoggingSink(endpoint), endpoint, wait_s=wait, only=spool_dir)
    if output == "json":
        print(json.dumps(report.__dict__))
    elif report.busy:
        console.print(f"another replay is still running on this machine after {wait:g} s")
    else:
        console.print(
            f"delivered {report.delivered} events from {report.files_done} files; "
            f"{report.rejected} refused (kept in rejected/); "
            f"{report.quarantined} unreadable lines (kept in quarantine/); "
            f"{len(report.failed_files)} files left for later",
            highlight=False,
        )
        for error in report.errors:
            err_console.print(f"  {error}", highlight=False)
    if report.failed_files or report.busy:
        raise typer.Exit(code=1)


@events_app.command("list")
def events_list(
    filter_: Annotated[
        str, typer.Option("--filter", help="Extra Logging query, ANDed with the log name.")
    ] = "",
    limit: Annotated[int, typer.Option(help="Most events to show.")] = 50,
    output: Annotated[str, typer.Option(help="table or json.")] = "table",
) -> None:
    """Events read back through the Cloud Logging client, newest last."""
    from google.cloud.logging import ASCENDING

    from observability.gcp import logging_client

    try:
        settings = load_settings()
        client = logging_client()
    except (SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    query = f'logName="projects/{client.project}/logs/{settings.log_name}"'
    if filter_:
        query += f" AND ({filter_})"
    from google.api_core.exceptions import GoogleAPIError

    try:
        entries = list(client.list_entries(filter_=query, order_by=ASCENDING, max_results=limit))
    except GoogleAPIError as exc:
        reason = getattr(exc, "message", None) or str(exc)
        raise _fail(f"Cloud Logging did not answer the query: {reason}") from None
    payloads = [_whole_numbers(entry.payload) for entry in entries]
    if output == "json":
        print(json.dumps(payloads, default=str, indent=2))
        _spool_depth(settings, err_console)
        return
    table = Table("time", "event", "dag", "task", "try", "detail")
    for entry, payload in zip(entries, payloads, strict=True):
        table.add_row(
            entry.timestamp.strftime("%H:%M:%S.%f")[:-3] if entry.timestamp else "",
            str(payload.get("event_type", "")),
            str(payload.get("dag_id") or ""),
            str(payload.get("task_id") or ""),
            str(payload.get("try_number") or ""),
            _detail(payload),
        )
    console.print(table)
    _spool_depth(settings, console)


def _spool_depth(settings: Settings, out: Console) -> None:
    """Events of this machine that Cloud Logging does not have yet: a list is not complete
    without them."""
    from observability.emit.replay import spools

    for spool in spools(settings):
        waiting = spool.pending_entries()
        if waiting:
            out.print(
                f"{waiting} more events wait in the spool at {spool.directory} (replayed "
                "automatically by the next writer here, or by `composer-obs spool replay`)",
                highlight=False,
                markup=False,
            )


def _whole_numbers(value: Any) -> Any:
    """JSON payloads travel as protobuf Structs, where every number is a double: show
    ``try_number: 2``, not ``2.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _detail(payload: dict[str, Any]) -> str:
    if payload.get("exception"):
        exc = payload["exception"]
        return f"{exc.get('type')}: {str(exc.get('message'))[:60]}"
    if payload.get("third_party"):
        call = payload["third_party"]
        return (
            f"{call.get('service')}.{call.get('operation')} {call.get('outcome')} "
            f"{call.get('status_code') or ''} {call.get('latency_ms')} ms"
        )
    if payload.get("failed_task_ids"):
        return f"failed: {', '.join(payload['failed_task_ids'])}"
    return str(payload.get("state") or "")
