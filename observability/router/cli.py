"""Commands for the router, mounted by ``composer-obs`` as ``router``, ``routes`` and ``silence``.

* ``router serve`` runs the router under uvicorn; ``router check-config`` validates a file;
  ``router init`` writes a starting configuration.
* ``routes test`` shows who an alert would reach: one label set, or a file of cases with
  inhibiting alerts and silences (exit 1 if a case fails: usable in CI).
* ``silence add|list|expire`` talk to a running router's admin API.

Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import getpass
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from observability.command_line import TextOrJson
from observability.defaults.cli import init_router
from observability.router.config import ConfigError, load_config
from observability.router.duration import parse_duration

router_app = typer.Typer(help="The alert router service.", no_args_is_help=True)
routes_app = typer.Typer(help="Test the routing configuration.", no_args_is_help=True)
silence_app = typer.Typer(help="Silences on a running router.", no_args_is_help=True)
router_app.command("init")(init_router)


@routes_app.callback()
def _routes() -> None:
    """Test the routing configuration (a group even with one command, so ``routes test``)."""


console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        envvar="COMPOSER_OBS_ROUTER_CONFIG_FILE",
        help="Routing configuration (YAML).",
    ),
]
UrlOption = Annotated[
    str, typer.Option("--url", envvar="COMPOSER_OBS_ROUTER_URL", help="The router's base URL.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="COMPOSER_OBS_ROUTER_ADMIN_TOKEN",
        help="Admin bearer token.",
        show_default=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise _fail(f"expected label=value, got {pair!r}")
        labels[name] = value.strip('"')
    return labels


@router_app.command("serve")
def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", show_default=False, help="Routing configuration (YAML)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///file or postgresql://…", show_default=False)
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default: COMPOSER_OBS_ROUTER_HOST, else 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on (default: COMPOSER_OBS_ROUTER_PORT or PORT, else 9093).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="HTTP worker processes on this port (default 1: one process does everything; "
            "N > 1: N workers plus a dispatching process; see the README).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the router until SIGTERM/Ctrl-C. Settings: flags, else COMPOSER_OBS_ROUTER_* vars."""
    # A reload asked for while the router starts (a config reloader right after a deploy)
    # must not end it, SIGHUP's default action: ignore it until the handlers are in place.
    # The configuration is read after this anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from observability.router.settings import RouterSettingsError, load_router_settings
    from observability.router.workers import serve as run

    overrides = {
        "config_file": config,
        "database_url": database_url,
        "host": host,
        "port": port,
        "workers": workers,
    }
    try:
        settings = load_router_settings(**overrides)
    except RouterSettingsError as exc:
        raise _fail(str(exc)) from None
    try:
        code = run(settings, overrides, log_level)
    except (ConfigError, ValueError, OSError) as exc:  # OSError: e.g. the port is taken
        raise _fail(str(exc)) from None
    if code:
        raise typer.Exit(code=code)


@router_app.command("check-config")
def check_config(
    config_file: Annotated[Path, typer.Argument(help="Routing configuration (YAML).")],
) -> None:
    """Validate a configuration file: exit 0 and a summary, or one line naming file:line: key."""
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    routes = sum(1 for _ in config.route.walk())
    integrations = sum(len(r.integrations) for r in config.receivers.values())
    console.print(
        f"{config_file}: ok: {routes} routes, {len(config.receivers)} receivers "
        f"({integrations} integrations), {len(config.inhibit_rules)} inhibit rules, "
        f"{len(config.time_intervals)} time intervals",
        highlight=False,
    )


@routes_app.command("test")
def routes_test(
    labels: Annotated[
        list[str] | None, typer.Argument(help="label=value pairs.", show_default=False)
    ] = None,
    config_file: ConfigOption = Path("router.yaml"),
    cases: Annotated[
        Path | None, typer.Option("--cases", help="YAML file of cases.", show_default=False)
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show routes.")] = False,
) -> None:
    """Who an alert reaches (after inhibition, silences and time intervals), or check cases."""
    from observability.router.dryrun import decide, load_cases, run_cases

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if cases is None:
        if not labels:
            raise _fail("give label=value pairs or --cases FILE")
        decision = decide(config, _labels(labels))
        console.print(",".join(decision.notified), highlight=False)
        if verbose:
            for route in decision.routes:
                console.print(f"  route {route}", highlight=False)
            for receiver in decision.time_muted:
                console.print(f"  {receiver}: muted by time interval", highlight=False)
        return
    try:
        loaded = load_cases(cases)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    results = run_cases(config, loaded)
    table = Table("case", "expected", "got", "result")
    for index, result in enumerate(results):
        why = []
        if result.decision.inhibited_by is not None:
            why.append("inhibited")
        if result.decision.silenced_by:
            why.append("silenced")
        if result.decision.time_muted:
            why.append("time-muted: " + ",".join(result.decision.time_muted))
        got = ",".join(result.decision.notified) or "-"
        table.add_row(
            result.case.name or f"#{index + 1}",
            ",".join(result.case.receivers) or "-",
            got + (f" ({'; '.join(why)})" if why else ""),
            "[green]pass[/green]" if result.passed else "[red]FAIL[/red]",
        )
    console.print(table)
    failed = sum(not result.passed for result in results)
    console.print(f"{len(results) - failed} passed, {failed} failed", highlight=False)
    if failed:
        raise typer.Exit(code=1)


@silence_app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help='Matchers, e.g. dag_id="nightly".')],
    comment: Annotated[
        str, typer.Option("--comment", "-m", help="Why, for whoever is on call next.")
    ],
    duration: Annotated[str, typer.Option("--duration", "-d", help="e.g. 2h, 30m.")] = "1h",
    author: Annotated[
        str | None, typer.Option(help="Who (default: $USER).", show_default=False)
    ] = None,
    url: UrlOption = "http://127.0.0.1:9093",
    token: TokenOption = None,
) -> None:
    """Silence matching alerts for a while; prints the silence id."""
    from observability.router.client import RouterClient, RouterClientError
    from observability.router.matcher import MatcherError, parse_matchers

    if not comment:
        raise _fail("--comment is required: say why, for whoever is on call next")
    try:
        parsed = [matcher for text in matchers for matcher in parse_matchers(text)]
        seconds = parse_duration(duration)
    except (MatcherError, ValueError) as exc:
        raise _fail(str(exc)) from None
    who = author or os.environ.get("USER") or getpass.getuser()
    try:
        with RouterClient(url, token) as client:
            silence_id = client.add_silence(parsed, timedelta(seconds=seconds), who, comment)
    except RouterClientError as exc:
        raise _fail(str(exc)) from None
    console.print(silence_id, highlight=False)


@silence_app.command("list")
def silence_list(
    url: UrlOption = "http://127.0.0.1:9093",
    token: TokenOption = None,
    expired: Annotated[bool, typer.Option(help="Include expired silences.")] = False,
    output: Annotated[
        TextOrJson, typer.Option("--output", "-o", help="text or json.")
    ] = TextOrJson.text,
) -> None:
    """Silences, newest end first."""
    from observability.router.client import RouterClient, RouterClientError
    from observability.router.matcher import Matcher

    try:
        with RouterClient(url, token) as client:
            found = client.silences()
    except RouterClientError as exc:
        raise _fail(str(exc)) from None
    shown = [s for s in found if expired or s["status"]["state"] != "expired"]
    if output == "json":
        console.print_json(data=shown)
        return
    for silence in shown:
        matchers = ",".join(
            str(Matcher.from_api(m["name"], m["value"], m["isRegex"], m["isEqual"]))
            for m in silence["matchers"]
        )
        console.print(
            f"{silence['id']}  {silence['status']['state']:<7}  {{{matchers}}}  "
            f"until {silence['endsAt']}  by {silence['createdBy']}: {silence['comment']}",
            highlight=False,
            markup=False,
        )


@silence_app.command("expire")
def silence_expire(
    silence_ids: Annotated[list[str], typer.Argument(help="Silence ids.")],
    url: UrlOption = "http://127.0.0.1:9093",
    token: TokenOption = None,
) -> None:
    """End silences now."""
    from observability.router.client import RouterClient, RouterClientError

    who = os.environ.get("USER") or getpass.getuser()
    try:
        with RouterClient(url, token) as client:
            for silence_id in silence_ids:
                client.expire_silence(silence_id, who)
                console.print(f"expired {silence_id}", highlight=False)
    except RouterClientError as exc:
        raise _fail(str(exc)) from None
