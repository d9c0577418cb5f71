"""``composer-obs watchdog run``: the watchdog as a service, or one pass as a job."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

watchdog_app = typer.Typer(
    help="Report what no callback can see: killed tasks, import errors, stuck, long and late "
    "runs, paused DAGs.",
    no_args_is_help=True,
    add_completion=False,
)


@watchdog_app.command("run")
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The watchdog's YAML configuration.")
    ],
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit (a Cloud Run job, a cron).")
    ] = False,
    interval: Annotated[
        str | None, typer.Option(help="Between passes, e.g. 60s (overrides the file).")
    ] = None,
) -> None:
    """Watch the configured environments: a pass every interval, or one with --once.

    Exit code: 0; with --once, 1 when a pass over some environment failed; 2 for a bad
    configuration."""
    from observability.router.duration import parse_duration
    from observability.watchdog.config import WatchdogConfigError, load_config
    from observability.watchdog.runner import PassReport, Watchdog

    try:
        settings = load_config(config)
        if interval is not None:
            settings = settings.model_copy(update={"interval": parse_duration(interval)})
    except (WatchdogConfigError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    watchdog = Watchdog(settings)
    failed = False

    def report(reports: list[PassReport]) -> None:
        nonlocal failed
        for item in reports:
            failed = failed or item.error is not None
            typer.echo(item.line())

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: watchdog.stop.set())
    try:
        watchdog.run(once, report)
    finally:
        watchdog.close()
    if once and failed:
        raise typer.Exit(1)
