"""The ``composer-obs`` command.

Each sub-command is a thin shell over a module that does the work, so everything here is
also usable from Python. Errors are one line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import errno
import importlib
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from observability import __version__
from observability.command_line import (
    TableOrJson,
    TextOrJson,
    name_placeholders,
    one_line_usage_errors,
)
from observability.settings import Settings, SettingsError, load_settings
from observability.wording import counted

# name: (module, attribute, extra): a sub-command group (a Typer) or a single command (a
# function), and the package extra that brings what it imports.
SUB_COMMANDS = {
    "router": ("observability.router.cli", "router_app", "router"),
    "routes": ("observability.router.cli", "routes_app", "router"),
    "silence": ("observability.router.cli", "silence_app", "router"),
    "provision": ("observability.provision.cli", "provision_app", "provision"),
    "dashboard": ("observability.dashboard_render.cli", "dashboard_app", "demo"),
    "test-alerts": ("observability.alert_tests.cli", "test_alerts", "ci"),
    "watchdog": ("observability.watchdog.cli", "watchdog_app", "watchdog"),
}

EXIT_USER_ERROR = 2
"""A user error or an unreachable service: one line on stderr naming what to check."""


_PROVISION = (
    "google.cloud.monitoring_v3",
    "google.cloud.monitoring_dashboard",
    "httpx",
    "tenacity",
)
_ROUTER = ("fastapi", "uvicorn", "httpx", "sqlalchemy", "jinja2", "prometheus_client", "tenacity")
EXTRA_MODULES = {
    "provision": _PROVISION,
    "router": _ROUTER,
    "emulator": (*_PROVISION, "fastapi", "uvicorn"),
    "ci": (*_PROVISION, *_ROUTER, "aiosmtpd"),
    "watchdog": ("httpx", "google.cloud.orchestration.airflow"),
    "demo": (*_PROVISION, *_ROUTER, "aiosmtpd", "matplotlib"),
}
"""What each extra brings that its commands import, some of them only once running."""


def absent_module(extra: str) -> str | None:
    """The first module of ``extra`` that is not installed, without importing any."""
    from importlib.util import find_spec

    for module in EXTRA_MODULES[extra]:
        try:
            if find_spec(module) is None:
                return module
        except ModuleNotFoundError:  # its parent package is missing
            return module
    return None


def needs_extra_message(command: str, extra: str, missing: str) -> str:
    return (
        f"`composer-obs {command}` needs the [{extra}] extra ({missing} is missing): "
        f'pip install "composer-observability[{extra}]"'
    )


def _needs_extra(name: str, extra: str, missing: str) -> Any:
    """A stand-in for a command whose extra is not installed: it says which to install."""

    def needs_extra() -> None:
        raise _fail(needs_extra_message(name, extra, missing))

    single = typer.Typer(add_completion=False)
    single.command(
        name,
        help=f'(not installed: pip install "composer-observability[{extra}]")',
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )(needs_extra)
    return typer.main.get_command(single)


class _SubCommandsOnDemand(TyperGroup):
    """Imports a sub-command's module only when that command runs (or ``--help`` lists it).

    Some import a lot (the alert tests bring the emulator and Google's clients, the dashboard
    preview matplotlib): imported up front, they made every command take about 3 s to start,
    ``composer-obs silence list`` and ``router serve`` included. Each lives behind an optional
    extra (the router needs FastAPI and SQLAlchemy, provisioning the Monitoring clients,
    rendering matplotlib); without it the command says which extra to install. Every command
    it reaches shows its help and usage errors as ``observability.command_line`` says.

    The context and command types are ``Any``: recent typer versions vendor click, so their
    classes differ between the typer versions this package allows.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)

    def get_params(self, ctx: Any) -> list[Any]:
        name_placeholders(self, ctx)
        return list(super().get_params(ctx))

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
        module, attribute, extra = SUB_COMMANDS[cmd_name]
        missing = absent_module(extra)
        if missing is not None:
            command = _needs_extra(cmd_name, extra, missing)
            self.add_command(command)
            return command
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:  # a Typer of one command is that command
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        name_placeholders(command, ctx)
        self.add_command(command)
        return command


app = typer.Typer(
    name="composer-obs",
    help="Observability and alerting for Cloud Composer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_SubCommandsOnDemand,
)


def _print_version(value: bool) -> None:
    if value:
        print(f"composer-obs {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Observability and alerting for Cloud Composer."""


spool_app = typer.Typer(help="Events that could not be delivered, waiting for replay.")
events_app = typer.Typer(help="Read events back from Cloud Logging (or the emulator).")
app.add_typer(spool_app, name="spool")
app.add_typer(events_app, name="events")

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=EXIT_USER_ERROR)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 8085,
    http_port: Annotated[int | None, typer.Option(help="HTTP port (default: port + 1).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    data_dir: Annotated[
        Path, typer.Option(help="Where the emulator keeps its SQLite files.")
    ] = Path(".composer-obs-emulator"),
) -> None:
    """Run the local emulator of Cloud Logging, Cloud Monitoring (metrics, alerting,
    notification channels) and Dashboards until Ctrl-C."""
    missing = absent_module("emulator")
    if missing is not None:
        raise _fail(needs_extra_message("emulator", "emulator", missing))
    from observability.emulator.server import serve

    http = port + 1 if http_port is None else http_port
    try:
        serve(data_dir=data_dir, host=host, port=port, http_port=http)
    except (RuntimeError, OSError) as error:
        if "bind" not in str(error).lower() and getattr(error, "errno", None) != errno.EADDRINUSE:
            raise
        raise _fail(
            f"cannot listen on {host}:{port} (gRPC) and {host}:{http} (HTTP): a port is in use "
            "(another emulator?); stop it or choose --port / --http-port"
        ) from None


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
        line = (
            f"{counted(spool.pending_entries(), 'event')} in {counted(len(files), 'file')} "
            f"under {spool.directory}"
        )
        quarantined = spool.quarantined()
        if quarantined:
            line += (
                f"; {counted(quarantined, 'unreadable line')} in {spool.directory / QUARANTINE_DIR}"
            )
        console.print(line, highlight=False)


@spool_app.command("replay")
def spool_replay(
    spool_dir: Annotated[Path | None, typer.Option(help="Spool folder.")] = None,
    output: Annotated[TextOrJson, typer.Option(help="text or json.")] = TextOrJson.text,
    wait: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="How long to wait for a replay already running here."),
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
            f"delivered {counted(report.delivered, 'event')} from "
            f"{counted(report.files_done, 'file')}; "
            f"{report.rejected} refused (kept in rejected/); "
            f"{counted(report.quarantined, 'unreadable line')} (kept in quarantine/); "
            f"{counted(len(report.failed_files), 'file')} left for later",
            highlight=False,
        )
        for error in report.errors:
            err_console.print(f"  {error}", highlight=False)
    if report.failed_files or report.busy:
        raise typer.Exit(code=1)


_SINCE = re.compile(r"(\d+)([mhd])")
_SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> timedelta:
    match = _SINCE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(
            f"{text!r}: expected a positive duration such as 30m, 6h or 7d", param_hint="'--since'"
        )
    return timedelta(seconds=int(match.group(1)) * _SINCE_UNITS[match.group(2)])


@events_app.command("list")
def events_list(
    filter_: Annotated[
        str, typer.Option("--filter", help="Extra Logging query, ANDed with the log name.")
    ] = "",
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="How many of the newest events to show.")
    ] = 50,
    since: Annotated[
        str,
        typer.Option(
            help="How far back to look (30m, 6h, 7d); ignored when --filter names a timestamp."
        ),
    ] = "1d",
    project: Annotated[
        str | None, typer.Option(help="Project to read (default: COMPOSER_OBS_PROJECT).")
    ] = None,
    output: Annotated[TableOrJson, typer.Option(help="table or json.")] = TableOrJson.table,
) -> None:
    """The newest events, read back through the Cloud Logging client, shown oldest first."""
    window = _since(since)
    settings = load_settings()
    query_filter = filter_
    if "timestamp" not in filter_:
        start = (datetime.now(timezone.utc) - window).strftime("%Y-%m-%dT%H:%M:%SZ")
        query_filter = f'timestamp>="{start}"' + (f" AND ({filter_})" if filter_ else "")
    elif filter_:
        query_filter = f"({filter_})"
    entries = _newest(project or settings.project, query_filter, limit, settings)
    more = len(entries) > limit
    entries = entries[:limit][::-1]
    from observability.gcp import whole_numbers

    payloads = [whole_numbers(entry.payload) for entry in entries]
    if output == TableOrJson.json:
        print(json.dumps(payloads, default=str, indent=2))
        _spool_depth(settings, err_console)
    else:
        table = Table("time", "event", "dag", "task", "try", "detail")
        for entry, payload in zip(entries, payloads, strict=True):
            table.add_row(
                entry.timestamp.strftime("%m-%d %H:%M:%S.%f")[:-3] if entry.timestamp else "",
                str(payload.get("event_type", "")),
                str(payload.get("dag_id") or ""),
                str(payload.get("task_id") or ""),
                str(payload.get("try_number") or ""),
                _detail(payload),
            )
        console.print(table)
        _spool_depth(settings, console)
    window_text = "" if "timestamp" in filter_ else f" of the last {since}"
    if more:
        err_console.print(
            f"the {limit} newest events{window_text}; more exist: raise --limit or narrow --filter",
            highlight=False,
        )
    elif not entries:
        err_console.print(f"no events{window_text} (widen --since?)", highlight=False)


def _newest(project: str | None, query_filter: str, limit: int, settings: Settings) -> list[Any]:
    """Up to ``limit + 1`` entries of the events' log, newest first (one more than shown
    tells whether more exist); any failure to get them is one line and exit 2."""
    from google.api_core.exceptions import GoogleAPIError
    from google.cloud.logging import DESCENDING

    from observability.gcp import logging_client
    from observability.waiting import answered_or_exit

    query: list[str] = []

    def newest() -> list[Any]:
        client = logging_client(project)
        query.append(f'logName="projects/{client.project}/logs/{settings.log_name}"')
        query.append(query_filter)
        found = client.list_entries(
            filter_=" AND ".join(query), order_by=DESCENDING, max_results=limit + 1
        )
        return list(found)

    def refusal(exc: Exception) -> str | None:
        if isinstance(exc, ValueError):
            return str(exc)
        if isinstance(exc, GoogleAPIError):
            reason = getattr(exc, "message", None) or str(exc)
            return f"Cloud Logging refused the query [{' AND '.join(query)}]: {reason}"
        return None

    return answered_or_exit(
        f"Cloud Logging at {settings.emulator or 'logging.googleapis.com'}",
        newest,
        settings.api_timeout_s,
        say=lambda line: err_console.print(line, highlight=False),
        fail=_fail,
        code=EXIT_USER_ERROR,
        refusal=refusal,
        check="that it runs and is reachable (COMPOSER_OBS_EMULATOR for the emulator), "
        "or raise COMPOSER_OBS_API_TIMEOUT_S",
    )


def _spool_depth(settings: Settings, out: Console) -> None:
    """Events of this machine that Cloud Logging does not have yet: a list is not complete
    without them."""
    from observability.emit.replay import spools

    for spool in spools(settings):
        waiting = spool.pending_entries()
        if waiting:
            out.print(
                f"{counted(waiting, 'more event')} wait in the spool at {spool.directory} "
                "(replayed automatically by the next writer here, or by "
                "`composer-obs spool replay`)",
                highlight=False,
                markup=False,
            )


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
